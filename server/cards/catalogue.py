"""The district's 优待目录 (list of what the card entitles its holder to), published to holders so
they know what it covers and what it does not (优待证非"特权证""免费证")."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Max
from tortoise.transactions import in_transaction

from models.cards import Card, CardApplication, PrivilegeCatalogue
from models.org import OrgKind, OrgUnit
from models.staff import Role
from models.wechat import MiniUser
from server.acting import acting_for
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed

NOTE = "优待证是荣誉和褒扬的证件，不是“特权证”“免费证”，优待内容以本目录为准。"


def catalogue_json(c: PrivilegeCatalogue) -> dict[str, Any]:
    return {"id": c.id, "district_id": c.district_id, "version": c.version, "title": c.title, "items": c.items, "note": NOTE, "published_at": c.created_at.isoformat()}


def _clean_items(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    if not items:
        raise ValidationFailed("优待目录不能为空", code="catalogue_empty")
    cleaned = []
    for item in items:
        area, content = str(item.get("area", "")).strip(), str(item.get("content", "")).strip()
        if not area or not content:
            raise ValidationFailed("每条优待须写明领域和内容", code="catalogue_item_incomplete")
        cleaned.append({"area": area[:50], "content": content[:500], "provider": str(item.get("provider", "")).strip()[:100]})
    return cleaned


async def publish(*, scope: Scope, actor: Actor, title: str, items: list[dict[str, Any]]) -> PrivilegeCatalogue:
    """A new version for the bureau's district; earlier versions stay on record."""
    scope.require_role(Role.BUREAU)
    scope.require_write()
    if scope.org_kind != OrgKind.DISTRICT:
        raise Forbidden("由区县退役军人事务局发布", code="district_only")
    cleaned = _clean_items(items)
    async with in_transaction():
        latest = (await PrivilegeCatalogue.filter(district_id=scope.org_unit_id).annotate(v=Max("version")).values_list("v", flat=True)) or [None]
        version = (latest[0] or 0) + 1
        try:
            catalogue = await PrivilegeCatalogue.create(district_id=scope.org_unit_id, version=version, title=title.strip() or "优待目录", items=cleaned, published_by_staff_id=int(actor.id or 0))
        except IntegrityError as exc:
            raise Conflict("目录正在被他人发布，请刷新", code="version_conflict") from exc
        await audit.record(actor=actor, action="privilege_catalogue.published", entity_type="org_unit", entity_id=scope.org_unit_id, details={"version": version, "items": len(cleaned)})
    return catalogue


async def latest_for_district(district_id: int) -> PrivilegeCatalogue | None:
    return await PrivilegeCatalogue.filter(district_id=district_id).order_by("-version").first()


async def for_holder(*, user: MiniUser, beneficiary_id: int, request_id: str | None) -> PrivilegeCatalogue:
    """The catalogue of the holder's district, for the holder or their family (any binding or proxy),
    once the person holds a card or has an approved application."""
    acting = await acting_for(user=user, beneficiary_id=beneficiary_id, scope=None, request_id=request_id)
    holds = await Card.filter(beneficiary_id=beneficiary_id).exists() or await CardApplication.filter(beneficiary_id=beneficiary_id, status="approved").exists()
    if not holds:
        raise Forbidden("优待目录向优待证持证人公布，审核通过后可查看", code="not_a_holder")
    station = await OrgUnit.get(id=acting.beneficiary.station_id)
    catalogue = await latest_for_district(station.parent_id) if station.parent_id else None
    if catalogue is None:
        raise NotFound("本地区尚未公布优待目录", code="catalogue_not_published")
    return catalogue
