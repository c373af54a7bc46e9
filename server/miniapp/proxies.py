"""Family proxies: a logged-in user asks to act for a beneficiary; the person or the station approves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from models.registry import Beneficiary
from models.wechat import Binding, BindingStatus, MiniUser, ProxyGrant, ProxyStatus
from server import media
from server.acting import ProxyScope
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.kv import KeyValueStore
from server.miniapp.service import _rate_limit
from server.notifications.outbox import enqueue
from server.registry.service import find_by_id_number, validated_id_number
from server.security.fields import cipher

SCOPE_LABELS = {"book": "预约", "apply": "优待证申领", "collect": "领取优待证"}


async def _tell_proxy(grant: ProxyGrant, *, approved: bool, comment: str) -> None:
    await enqueue(
        user_id=grant.proxy_user_id,
        template_key="review_result",
        context={"application_id": grant.id, "item_name": "代办授权申请", "result": "已同意" if approved else "未同意", "comment": comment or "无", "reviewed_at": datetime.now(UTC)},
        dedupe_key=f"proxy_decision:{grant.id}:{'approved' if approved else 'rejected'}",
        beneficiary_id=grant.beneficiary_id,
        station_id=grant.beneficiary.station_id,
    )


def proxy_json(grant: ProxyGrant, beneficiary: Beneficiary | None = None) -> dict[str, Any]:
    data = {
        "id": grant.id,
        "beneficiary_id": grant.beneficiary_id,
        "proxy_name": grant.proxy_name,
        "relation": grant.relation,
        "scopes": grant.scopes,
        "status": grant.status.value,
        "approved_via": grant.approved_via,
        "requested_at": grant.created_at.isoformat(),
        "decided_at": grant.decided_at.isoformat() if grant.decided_at else None,
        "revoked_by": grant.revoked_by,
    }
    if beneficiary is not None:
        data["beneficiary_name"] = beneficiary.name
        data["beneficiary_id_number"] = beneficiary.id_number_masked
    return data


async def request_proxy(*, kv: KeyValueStore, user: MiniUser, actor: Actor, beneficiary_name: str, beneficiary_id_number: str, proxy_name: str, relation: str, scopes: list[ProxyScope]) -> ProxyGrant:
    parsed = validated_id_number(beneficiary_id_number)
    await _rate_limit(kv, user_id=user.id, id_hash=cipher().lookup_hash(parsed.value))
    beneficiary = await find_by_id_number(parsed.value)
    if beneficiary is None or beneficiary.name.strip() != beneficiary_name.strip():
        raise ValidationFailed("被代办人姓名与身份证号码不匹配，或尚未登记", code="identity_mismatch")
    if await Binding.filter(user_id=user.id, beneficiary_id=beneficiary.id, status=BindingStatus.ACTIVE).exists():
        raise Conflict("不能为本人申请代办", code="proxy_for_self")
    if await ProxyGrant.filter(proxy_user_id=user.id, beneficiary_id=beneficiary.id, status__in=[ProxyStatus.PENDING, ProxyStatus.ACTIVE]).exists():
        raise Conflict("已有待审核或生效的代办授权", code="proxy_exists")
    binding = await Binding.get_or_none(beneficiary_id=beneficiary.id, status=BindingStatus.ACTIVE)
    async with in_transaction():
        grant = await ProxyGrant.create(proxy_user=user, beneficiary=beneficiary, proxy_name=proxy_name, relation=relation, scopes=sorted({s.value for s in scopes}))
        await audit.record(actor=actor, action="proxy.requested", entity_type="beneficiary", entity_id=beneficiary.id, details={"proxy_id": grant.id, "proxy_user_id": user.id, "relation": relation, "scopes": grant.scopes})
        if binding is not None:
            # The person is on WeChat: ask them; otherwise the station approves with a document.
            await enqueue(
                user_id=binding.user_id,
                template_key="proxy_request",
                context={"request_id": grant.id, "proxy_name": proxy_name, "relationship": relation, "item_name": "代为办理" + "、".join(SCOPE_LABELS[s] for s in grant.scopes), "requested_at": grant.created_at},
                dedupe_key=f"proxy_request:{grant.id}",
                beneficiary_id=beneficiary.id,
                station_id=beneficiary.station_id,
            )
    return grant


async def _grant(grant_id: int) -> ProxyGrant:
    grant = await ProxyGrant.get_or_none(id=grant_id).select_related("beneficiary")
    if grant is None:
        raise NotFound("代办授权不存在", code="proxy_not_found")
    return grant


async def _activate(*, grant: ProxyGrant, actor: Actor, via: str, staff_id: int | None = None, document: media.StoredFile | None = None) -> ProxyGrant:
    now = datetime.now(UTC)
    async with in_transaction():
        updates: dict[str, Any] = {"status": ProxyStatus.ACTIVE, "approved_via": via, "decided_at": now, "approved_by_staff_id": staff_id}
        if document is not None:
            updates.update(document_path=document.path, document_sha256=document.sha256)
        changed = await ProxyGrant.filter(id=grant.id, status=ProxyStatus.PENDING).update(**updates)
        if changed == 0:
            raise Conflict("该代办申请已处理", code="proxy_already_decided")
        await audit.record(actor=actor, action="proxy.approved", entity_type="beneficiary", entity_id=grant.beneficiary_id, details={"proxy_id": grant.id, "via": via, "document_sha256": document.sha256 if document else None})
        await _tell_proxy(grant, approved=True, comment="本人确认" if via == "beneficiary" else "服务站审核通过")
    return await ProxyGrant.get(id=grant.id)


async def approve_by_beneficiary(*, user: MiniUser, actor: Actor, grant_id: int, approve: bool) -> ProxyGrant:
    grant = await _grant(grant_id)
    if not await Binding.filter(user_id=user.id, beneficiary_id=grant.beneficiary_id, status=BindingStatus.ACTIVE).exists():
        raise Forbidden("只有被代办人本人可以确认授权", code="not_the_beneficiary")
    if approve:
        return await _activate(grant=grant, actor=actor, via="beneficiary")
    return await _reject(grant=grant, actor=actor, reason="本人拒绝")


async def approve_by_station(*, scope: Scope, actor: Actor, grant_id: int, document: bytes, media_dir: Path) -> ProxyGrant:
    grant = await _grant(grant_id)
    await scope.require_station_writable(grant.beneficiary.station_id)
    stored = media.store(media_dir, document, category="proxy_documents", allowed=media.DOCUMENT_TYPES)
    return await _activate(grant=grant, actor=actor, via="station", staff_id=int(actor.id or 0), document=stored)


async def _reject(*, grant: ProxyGrant, actor: Actor, reason: str) -> ProxyGrant:
    async with in_transaction():
        changed = await ProxyGrant.filter(id=grant.id, status=ProxyStatus.PENDING).update(status=ProxyStatus.REJECTED, decided_at=datetime.now(UTC), reason=reason)
        if changed == 0:
            raise Conflict("该代办申请已处理", code="proxy_already_decided")
        await audit.record(actor=actor, action="proxy.rejected", entity_type="beneficiary", entity_id=grant.beneficiary_id, details={"proxy_id": grant.id, "reason": reason})
        await _tell_proxy(grant, approved=False, comment=reason)
    return await ProxyGrant.get(id=grant.id)


async def reject_by_station(*, scope: Scope, actor: Actor, grant_id: int, reason: str) -> ProxyGrant:
    grant = await _grant(grant_id)
    await scope.require_station_writable(grant.beneficiary.station_id)
    return await _reject(grant=grant, actor=actor, reason=reason)


async def revoke(*, grant_id: int, actor: Actor, by: str, user: MiniUser | None = None, scope: Scope | None = None, reason: str = "") -> ProxyGrant:
    """Either side can revoke: the proxy, the beneficiary (own WeChat), or the station."""
    grant = await _grant(grant_id)
    if by == "station":
        assert scope is not None
        await scope.require_station_writable(grant.beneficiary.station_id)
    elif by == "proxy":
        if user is None or grant.proxy_user_id != user.id:
            raise Forbidden("无权撤销该授权", code="not_your_proxy")
    elif by == "beneficiary":
        if user is None or not await Binding.filter(user_id=user.id, beneficiary_id=grant.beneficiary_id, status=BindingStatus.ACTIVE).exists():
            raise Forbidden("无权撤销该授权", code="not_the_beneficiary")
    async with in_transaction():
        changed = await ProxyGrant.filter(id=grant.id, status__in=[ProxyStatus.PENDING, ProxyStatus.ACTIVE]).update(status=ProxyStatus.REVOKED, revoked_at=datetime.now(UTC), revoked_by=by, reason=reason)
        if changed == 0:
            raise Conflict("该授权已失效", code="proxy_not_active")
        await audit.record(actor=actor, action="proxy.revoked", entity_type="beneficiary", entity_id=grant.beneficiary_id, details={"proxy_id": grant.id, "by": by, "reason": reason})
    return await ProxyGrant.get(id=grant.id)


async def revoke_by_user(*, user: MiniUser, actor: Actor, grant_id: int) -> ProxyGrant:
    grant = await _grant(grant_id)
    by = "proxy" if grant.proxy_user_id == user.id else "beneficiary"
    return await revoke(grant_id=grant_id, actor=actor, by=by, user=user)


async def proxies_of_my_beneficiary(*, user: MiniUser) -> list[ProxyGrant]:
    binding = await Binding.get_or_none(user_id=user.id, status=BindingStatus.ACTIVE)
    if binding is None:
        return []
    return await ProxyGrant.filter(beneficiary_id=binding.beneficiary_id).order_by("-id")


async def list_for_station(*, scope: Scope, status: ProxyStatus | None) -> list[ProxyGrant]:
    query = ProxyGrant.all().select_related("beneficiary")
    query = await scope.filter_by_station(query, "beneficiary__station_id")
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("id")
