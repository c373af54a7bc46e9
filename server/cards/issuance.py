"""Issuance: shipments received at the service centre, sorted per station, collected, delivered."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.cards import ApplicationStatus, Card, CardApplication, CardStatus, Shipment
from models.org import OrgKind
from models.staff import Role
from server import media
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.cards import rules
from server.config import Settings
from server.errors import Conflict, NotFound, ValidationFailed
from server.miniapp.acting import ProxyScope
from server.notifications.outbox import notify_beneficiary
from server.workdays import add_working_days, due_is_provisional

PROVINCE_CENTRE = "省退役军人服务中心"


def shipment_json(s: Shipment) -> dict[str, Any]:
    return {
        "id": s.id,
        "tracking_number": s.tracking_number,
        "expected_count": s.expected_count,
        "counted_count": s.counted_count,
        "envelope_intact": s.envelope_intact,
        "cards_intact": s.cards_intact,
        "status": s.status,
        "damage_report": {"to": s.report_to, "description": s.damage_description, "photos": len(s.damage_photos)} if s.status == "refused" else None,
        "received_at": s.created_at.isoformat(),
    }


def card_json(c: Card, *, today: date | None = None) -> dict[str, Any]:
    today = today or date.today()
    return {
        "id": c.id,
        "application_id": c.application_id,
        "beneficiary_id": c.beneficiary_id,
        "station_id": c.station_id,
        "status": c.status.value,
        "collected_at": c.collected_at.isoformat() if c.collected_at else None,
        "delivery_due": c.delivery_due.isoformat() if c.delivery_due else None,
        "delivery_due_provisional": due_is_provisional(c.delivery_due),
        "delivery_overdue": bool(c.delivery_due and c.delivery_due < today and c.status == CardStatus.AT_STATION),
        "delivered_at": c.delivered_at.isoformat() if c.delivered_at else None,
        "delivery_method": c.delivery_method,
        "received_by": c.received_by,
    }


async def receive_shipment(*, scope: Scope, actor: Actor, tracking_number: str, expected_count: int, counted_count: int, envelope_intact: bool, cards_intact: bool, application_ids: list[int], damage_description: str, damage_photos: list[bytes], media_dir: Path) -> Shipment:
    """Count and inspect on arrival. A damaged package is refused on the spot and reported up to the
    province centre; an intact one is accepted and its cards sorted per station."""
    scope.require_role(Role.CENTRE)
    if scope.org_kind != OrgKind.DISTRICT and not scope.is_global:
        raise ValidationFailed("由区县退役军人服务中心签收", code="centre_only")
    damaged = not envelope_intact or not cards_intact
    if not damaged and counted_count != len(application_ids):
        raise ValidationFailed("清点数量与登记的优待证数量不一致", code="count_mismatch", counted=counted_count, listed=len(application_ids))
    if damaged and not damage_description.strip():
        raise ValidationFailed("拒收须填写破损情况", code="damage_description_required")
    photos = [media.store(media_dir, p, category="shipment_damage", allowed=media.IMAGE_TYPES).path for p in damage_photos]
    async with in_transaction():
        try:
            shipment = await Shipment.create(
                district_id=scope.org_unit_id,
                tracking_number=tracking_number,
                expected_count=expected_count,
                counted_count=counted_count,
                envelope_intact=envelope_intact,
                cards_intact=cards_intact,
                status="refused" if damaged else "accepted",
                damage_description=damage_description,
                damage_photos=photos,
                report_to=PROVINCE_CENTRE if damaged else "",
                received_by_staff_id=int(actor.id or 0),
            )
        except IntegrityError as exc:
            raise Conflict("该快递单号已登记", code="shipment_exists") from exc
        if damaged:
            await audit.record(actor=actor, action="shipment.refused", entity_type="shipment", entity_id=shipment.id, details={"tracking_number": tracking_number, "damage": damage_description, "photos": len(photos), "reported_to": PROVINCE_CENTRE})
            return shipment
        applications = await (await scope.filter_by_station(CardApplication.filter(id__in=application_ids, status=ApplicationStatus.APPROVED))).all()
        if len(applications) != len(set(application_ids)):
            raise ValidationFailed("部分优待证对应的申请不存在或尚未审核通过", code="unknown_applications")
        if await Card.filter(application_id__in=application_ids).exists():
            raise Conflict("部分优待证已签收过", code="card_already_received")
        await Card.bulk_create([Card(application_id=a.id, shipment_id=shipment.id, beneficiary_id=a.beneficiary_id, station_id=a.station_id) for a in applications])
        await audit.record(actor=actor, action="shipment.accepted", entity_type="shipment", entity_id=shipment.id, details={"tracking_number": tracking_number, "cards": len(applications)})
    return shipment


async def sorted_by_station(*, scope: Scope, shipment_id: int) -> dict[str, Any]:
    shipment = await Shipment.get_or_none(id=shipment_id)
    if shipment is None:
        raise NotFound("快递不存在", code="shipment_not_found")
    cards = await (await scope.filter_by_station(Card.filter(shipment_id=shipment.id))).order_by("station_id", "id")
    groups: dict[int, list[int]] = {}
    for card in cards:
        groups.setdefault(card.station_id, []).append(card.id)
    return {"shipment": shipment_json(shipment), "stations": [{"station_id": sid, "cards": ids} for sid, ids in groups.items()]}


async def collect_for_station(*, scope: Scope, actor: Actor, settings: Settings, station_id: int, card_ids: list[int]) -> list[Card]:
    """The station collects its cards from the centre; each must reach its holder within 10 working days."""
    await scope.require_station_writable(station_id)
    now = datetime.now(UTC)
    due = add_working_days(now.date(), settings.cards.delivery_due_working_days)
    async with in_transaction():
        changed = await Card.filter(id__in=card_ids, station_id=station_id, status=CardStatus.AT_CENTRE).update(status=CardStatus.AT_STATION, collected_at=now, delivery_due=due)
        if changed != len(set(card_ids)):
            raise Conflict("部分优待证不属于本站或已领取", code="cards_not_collectable")
        await audit.record(actor=actor, action="cards.collected_by_station", entity_type="org_unit", entity_id=station_id, details={"cards": card_ids, "delivery_due": due.isoformat()})
        cards = await Card.filter(id__in=card_ids).select_related("application__beneficiary")
        for card in cards:
            await notify_beneficiary(
                beneficiary_id=card.beneficiary_id,
                station_id=station_id,
                template_key="card_ready_for_pickup",
                context={"application_id": card.application_id, "holder_name": card.application.beneficiary.name, "pickup_office": "所在镇（街道）退役军人服务站", "pickup_deadline": due},
                dedupe_key=f"card_ready:{card.id}",
                proxy_scope=ProxyScope.COLLECT,
            )
    return cards


async def deliver(*, scope: Scope, actor: Actor, card_id: int, method: str, received_by: str, receiver_user_id: int | None = None, id_checked: bool) -> Card:
    """Record delivery: the method and who received it (the holder, or a proxy with `collect`, after an ID check)."""
    if method not in rules.DELIVERY_METHODS:
        raise ValidationFailed("送达方式不正确", code="bad_delivery_method")
    if received_by not in ("holder", "proxy"):
        raise ValidationFailed("领取人须为本人或代领人", code="bad_receiver")
    if not id_checked:
        raise ValidationFailed("须查验领取人身份证件", code="id_check_required")
    card = await Card.get_or_none(id=card_id)
    if card is None:
        raise NotFound("优待证不存在", code="card_not_found")
    await scope.require_station_writable(card.station_id)
    return await mark_delivered(actor=actor, card=card, method=method, received_by=received_by, receiver_user_id=receiver_user_id)


async def mark_delivered(*, actor: Actor, card: Card, method: str, received_by: str, receiver_user_id: int | None) -> Card:
    async with in_transaction():
        changed = await Card.filter(id=card.id, status=CardStatus.AT_STATION).update(status=CardStatus.DELIVERED, delivered_at=datetime.now(UTC), delivery_method=method, received_by=received_by, receiver_user_id=receiver_user_id, delivered_by_staff_id=int(actor.id) if actor.type == "staff" and actor.id else None)
        if not changed:
            raise Conflict("该优待证不在服务站或已发放", code="card_not_deliverable")
        await audit.record(actor=actor, action="card.delivered", entity_type="card", entity_id=card.id, details={"method": method, "received_by": received_by, "receiver_user_id": receiver_user_id})
    return await Card.get(id=card.id)


async def list_cards(*, scope: Scope, status: CardStatus | None, overdue_only: bool, today: date | None = None) -> list[Card]:
    query = await scope.filter_by_station(Card.all())
    if status is not None:
        query = query.filter(status=status)
    if overdue_only:
        query = query.filter(status=CardStatus.AT_STATION, delivery_due__lt=today or date.today())
    return await query.order_by("delivery_due", "id").limit(1000)
