"""Issuance: shipments received at the service centre, sorted per station, collected, delivered."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.cards import ApplicationStatus, Card, CardApplication, CardReport, CardStatus, Shipment, StationNotice
from models.org import OrgKind, OrgUnit
from models.staff import Role
from server import media
from server.acting import ProxyScope
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.cards import reports, rules
from server.config import Settings
from server.errors import Conflict, NotFound, ValidationFailed
from server.notifications.outbox import notify_beneficiary
from server.workdays import add_working_days, due_is_provisional

PROVINCE_CENTRE = reports.PROVINCE_CENTRE
# 逐级上报: the district's reports go to the province centre through the city bureau.
REPORT_ROUTE = [reports.CITY_BUREAU, reports.PROVINCE_CENTRE]


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
        "discrepancy": s.counted_count - s.expected_count,
        "received_at": s.created_at.isoformat(),
    }


async def shipment_with_reports(s: Shipment) -> dict[str, Any]:
    sent = await CardReport.filter(shipment_id=s.id).order_by("id")
    return {**shipment_json(s), "reports": [reports.report_json(r) for r in sent]}


async def list_shipments(*, scope: Scope) -> list[Shipment]:
    """Shipments of the reader's district (a city reader: its districts; admin: all). The service
    for any list of shipments, API or console."""
    districts = await reports.visible_districts(scope)
    query = Shipment.all() if districts is None else Shipment.filter(district_id__in=list(districts))
    return await query.order_by("-id").limit(500)


async def get_shipment(*, scope: Scope, shipment_id: int) -> Shipment:
    shipment = await Shipment.get_or_none(id=shipment_id)
    districts = await reports.visible_districts(scope)
    if shipment is None or (districts is not None and shipment.district_id not in districts):
        raise NotFound("快递不存在", code="shipment_not_found")
    return shipment


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
        "flagged": c.flagged,
        "flag_note": c.flag_note,
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
        district = await OrgUnit.get(id=shipment.district_id)
        if damaged:
            await audit.record(actor=actor, action="shipment.refused", entity_type="shipment", entity_id=shipment.id, details={"tracking_number": tracking_number, "damage": damage_description, "photos": len(photos), "reported_to": PROVINCE_CENTRE})
            await _shipment_report(actor=actor, shipment=shipment, district=district, kind="shipment_refused", media_dir=media_dir)
            return shipment
        if expected_count != counted_count:
            await _shipment_report(actor=actor, shipment=shipment, district=district, kind="shipment_discrepancy", media_dir=media_dir)
        applications = await (await scope.filter_by_station(CardApplication.filter(id__in=application_ids, status=ApplicationStatus.APPROVED))).all()
        if len(applications) != len(set(application_ids)):
            raise ValidationFailed("部分优待证对应的申请不存在或尚未审核通过", code="unknown_applications")
        if await Card.filter(application_id__in=application_ids).exists():
            raise Conflict("部分优待证已签收过", code="card_already_received")
        await Card.bulk_create([Card(application_id=a.id, shipment_id=shipment.id, beneficiary_id=a.beneficiary_id, station_id=a.station_id) for a in applications])
        await audit.record(actor=actor, action="shipment.accepted", entity_type="shipment", entity_id=shipment.id, details={"tracking_number": tracking_number, "cards": len(applications), "expected": expected_count, "counted": counted_count})
        per_station: dict[int, int] = {}
        for a in applications:
            per_station[a.station_id] = per_station.get(a.station_id, 0) + 1
        for station_id, count in per_station.items():
            await StationNotice.create(
                station_id=station_id,
                kind="cards_ready",
                message=f"{count}张优待证已到{district.name}退役军人服务中心（快递单号{tracking_number}），请及时领取并安排发放",
                data={"shipment_id": shipment.id, "cards": count},
                dedupe_key=f"cards_ready:{shipment.id}:{station_id}",
            )
    return shipment


async def _shipment_report(*, actor: Actor, shipment: Shipment, district: OrgUnit, kind: str, media_dir: Path) -> CardReport:
    """The report of a refused or short shipment, as a document sent up to the province centre."""
    title = reports.KIND_LABELS[kind]
    facts = [
        ("报送单位", f"{district.name}退役军人服务中心"),
        ("快递单号", shipment.tracking_number),
        ("应到数量", str(shipment.expected_count)),
        ("清点数量", str(shipment.counted_count)),
        ("差异", str(shipment.counted_count - shipment.expected_count)),
        ("外包装", "完好" if shipment.envelope_intact else "破损"),
        ("优待证", "完好" if shipment.cards_intact else "损坏"),
        ("签收时间", shipment.created_at.isoformat(timespec="minutes")),
    ]
    if kind == "shipment_refused":
        paragraphs = [f"该快递外包装或内装优待证破损，内装优待证可能丢失、损坏，已当面拒收。破损情况：{shipment.damage_description}", f"现场照片{len(shipment.damage_photos)}张已存档。"]
    else:
        paragraphs = [f"该快递清点数量与应到数量不符（应到{shipment.expected_count}张，实到{shipment.counted_count}张），已按实到数量签收并分拣，请核查缺少或多出的优待证。"]
    document = reports.render_document(title=title, issuer=f"{district.name}退役军人服务中心", addressed_to=REPORT_ROUTE, facts=facts, paragraphs=paragraphs)
    data = {"tracking_number": shipment.tracking_number, "expected": shipment.expected_count, "counted": shipment.counted_count, "damage": shipment.damage_description}
    return await reports.create_report(actor=actor, kind=kind, district_id=district.id, title=f"{title}（{shipment.tracking_number}）", document=document, route=REPORT_ROUTE, data=data, media_dir=media_dir, shipment_id=shipment.id)


def notice_json(n: StationNotice) -> dict[str, Any]:
    return {"id": n.id, "station_id": n.station_id, "kind": n.kind, "message": n.message, "data": n.data, "created_at": n.created_at.isoformat(), "read_at": n.read_at.isoformat() if n.read_at else None}


async def station_notices(*, scope: Scope, unread_only: bool) -> list[StationNotice]:
    query = await scope.filter_by_station(StationNotice.all())
    if unread_only:
        query = query.filter(read_at=None)
    return await query.order_by("-id").limit(200)


async def mark_notice_read(*, scope: Scope, actor: Actor, notice_id: int) -> StationNotice:
    notice = await StationNotice.get_or_none(id=notice_id)
    if notice is None:
        raise NotFound("通知不存在", code="notice_not_found")
    await scope.require_station_visible(notice.station_id)
    await StationNotice.filter(id=notice.id, read_at=None).update(read_at=datetime.now(UTC), read_by_staff_id=int(actor.id or 0))
    return await StationNotice.get(id=notice.id)


async def sorted_by_station(*, scope: Scope, shipment_id: int) -> dict[str, Any]:
    shipment = await get_shipment(scope=scope, shipment_id=shipment_id)
    cards = await (await scope.filter_by_station(Card.filter(shipment_id=shipment.id))).order_by("station_id", "id")
    groups: dict[int, list[int]] = {}
    for card in cards:
        groups.setdefault(card.station_id, []).append(card.id)
    return {"shipment": await shipment_with_reports(shipment), "stations": [{"station_id": sid, "cards": ids} for sid, ids in groups.items()]}


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
    if card.flagged:
        raise Conflict(f"该优待证已被标记待核实，暂不能发放：{card.flag_note}", code="card_flagged")
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
