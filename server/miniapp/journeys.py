"""What a phone screen needs in one call: my year, my cards, my applications, my bookings, slots.

"People" are the person this WeChat is bound to (first) and everyone it holds an active proxy for;
each list covers them all, so a daughter sees her father's card next to her own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from models.cards import (
    ApplicationStatus,
    Booking,
    Card,
    CardApplication,
    CardStatus,
    PickupSlot,
)
from models.confirmation import ConfirmationStatus
from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary, PhotoKind, ReferencePhoto
from models.wechat import Binding, BindingStatus, MiniUser, ProxyGrant, ProxyStatus
from server import labels
from server.cards import eligibility as card_eligibility
from server.cards import rules as card_rules
from server.cards.booking import STATION_FIELDS, ready_card, slot_start
from server.cards.slots import booking_rule, starts_at
from server.clock import CHINA_TZ, china_today
from server.config import Settings
from server.confirmation import rules as confirmation_rules
from server.confirmation.campaigns import current_confirmation
from server.errors import Forbidden
from server.miniapp import schemas

CARD_STATE_LABELS = {
    "none": "尚未申领",
    "applying": "审核中",
    "returned": "已退回，请补正后重新提交",
    "approved": "审核通过，制证中",
    "at_centre": "已到县服务中心，待转服务站",
    "at_station": "已到服务站，可预约领取",
    "delivered": "已领取",
}
TODO_LABELS = {
    "confirm": "完成年度确认（可在线人脸认证）",
    "confirm_at_station": "请到服务站或等待上门完成年度确认",
    "wait_review": "年度确认待工作人员核验",
    "apply_card": "申领优待证",
    "fix_application": "补正并重新提交优待证申请",
    "book_pickup": "预约到服务站领取优待证",
    "pickup_booked": "按预约时间到服务站领取优待证",
    "add_id_photo": "到服务站登记身份证照片后可在线认证",
}
_BOOKING_SCOPES = {"book", "collect"}


@dataclass(frozen=True)
class Person:
    beneficiary: Beneficiary
    grant: ProxyGrant | None

    @property
    def scopes(self) -> list[str]:
        return sorted(self.grant.scopes) if self.grant else []

    def may(self, *scopes: str) -> bool:
        return self.grant is None or bool(set(scopes) & set(self.grant.scopes))


async def my_people(*, user: MiniUser) -> list[Person]:
    people: list[Person] = []
    binding = await Binding.get_or_none(user_id=user.id, status=BindingStatus.ACTIVE).select_related("beneficiary")
    if binding is not None:
        people.append(Person(beneficiary=binding.beneficiary, grant=None))
    for grant in await ProxyGrant.filter(proxy_user_id=user.id, status=ProxyStatus.ACTIVE).select_related("beneficiary").order_by("id"):
        people.append(Person(beneficiary=grant.beneficiary, grant=grant))
    return people


def station_info(unit: OrgUnit) -> schemas.Station:
    return schemas.Station(id=unit.id, name=unit.name, address=unit.address, phone=unit.phone, opening_hours=unit.opening_hours)


async def _stations(ids: set[int]) -> dict[int, schemas.Station]:
    return {unit.id: station_info(unit) for unit in await OrgUnit.filter(id__in=list(ids))}


async def stations(*, district_id: int | None) -> schemas.StationList:
    query = OrgUnit.filter(kind=OrgKind.STATION)
    if district_id is not None:
        query = query.filter(parent_id=district_id)
    return schemas.StationList(items=[station_info(u) for u in await query.order_by("code").limit(500)])


# ---------------------------------------------------------------- my year


async def _year_card(person: Person) -> schemas.YearCard:
    application = await CardApplication.filter(beneficiary_id=person.beneficiary.id).exclude(status=ApplicationStatus.WITHDRAWN).order_by("-id").first()
    if application is None:
        return schemas.YearCard(status="none", status_label=CARD_STATE_LABELS["none"], card_kind=None, card_kind_label=None, application_id=None, card_id=None, active_booking_id=None)
    card = await Card.get_or_none(application_id=application.id)
    booking = await Booking.get_or_none(active_card_id=card.id) if card is not None else None
    if card is not None:
        state = card.status.value
    elif application.status == ApplicationStatus.APPROVED:
        state = "approved"
    elif application.status == ApplicationStatus.RETURNED:
        state = "returned"
    else:
        state = "applying"
    label = CARD_STATE_LABELS[state]
    if state == "applying":
        label = f"审核中（{card_rules.STATUS_LABELS[application.status]}）"
    return schemas.YearCard(
        status=state,  # type: ignore[arg-type]
        status_label=label,
        card_kind=application.card_kind.value,  # type: ignore[arg-type]
        card_kind_label=card_rules.KIND_LABELS[application.card_kind],
        application_id=application.id,
        card_id=card.id if card else None,
        active_booking_id=booking.id if booking else None,
    )


def _todo(person: Person, confirmation: schemas.YearConfirmation | None, card: schemas.YearCard, id_photo: bool) -> list[schemas.YearTodo]:
    codes: list[str] = []
    if confirmation is not None and confirmation.stage in ("publicity", "implementation"):
        if confirmation.status == "pending":
            codes.append("confirm" if confirmation.self_service_allowed and id_photo else "confirm_at_station")
            if person.grant is None and not id_photo:
                codes.append("add_id_photo")
        elif confirmation.status == "in_review":
            codes.append("wait_review")
    if card.status == "none" and card_eligibility.card_kind_for(person.beneficiary.category) is not None and person.may("apply"):
        codes.append("apply_card")
    elif card.status == "returned" and person.may("apply"):
        codes.append("fix_application")
    elif card.status == "at_station" and person.may(*_BOOKING_SCOPES):
        codes.append("pickup_booked" if card.active_booking_id else "book_pickup")
    return [schemas.YearTodo(code=code, label=TODO_LABELS[code]) for code in codes]  # type: ignore[arg-type]


async def _year_person(person: Person, *, today: date) -> schemas.YearPerson:
    beneficiary = person.beneficiary
    confirmation = await current_confirmation(beneficiary_id=beneficiary.id)
    year_confirmation = None
    if confirmation is not None:
        campaign = confirmation.campaign
        stage = confirmation_rules.stage_on(campaign, today).value
        year_confirmation = schemas.YearConfirmation(
            campaign_id=campaign.id,
            campaign_name=campaign.name,
            year=campaign.year,
            status=confirmation.status.value,  # type: ignore[arg-type]
            status_label=labels.CONFIRMATION_STATUS.get(confirmation.status.value, confirmation.status.value),
            deadline=campaign.implementation_end,
            stage=stage,  # type: ignore[arg-type]
            stage_label=labels.STAGE.get(stage, stage),
            self_service_allowed=person.grant is None and not confirmation.self_service_locked and confirmation.status == ConfirmationStatus.PENDING,
        )
    card = await _year_card(person)
    id_photo = await ReferencePhoto.filter(beneficiary_id=beneficiary.id, kind=PhotoKind.ID_CARD, is_active=True).exists()
    station = await OrgUnit.get_or_none(id=beneficiary.station_id)
    return schemas.YearPerson(
        beneficiary_id=beneficiary.id,
        name=beneficiary.name,
        relation=person.grant.relation if person.grant else "本人",
        acting_as="proxy" if person.grant else "self",
        scopes=person.scopes,  # type: ignore[arg-type]
        confirmation=year_confirmation,
        card=card,
        id_photo_on_file=id_photo,
        station=station_info(station) if station else None,
        todo=_todo(person, year_confirmation, card, id_photo),
    )


async def my_year(*, user: MiniUser, beneficiary_id: int | None = None, today: date | None = None) -> schemas.MyYear:
    today = today or china_today()
    people = await my_people(user=user)
    if beneficiary_id is not None:
        people = [p for p in people if p.beneficiary.id == beneficiary_id]
        if not people:
            raise Forbidden("您尚未绑定或获得代办授权", code="not_authorised_for_beneficiary")
    return schemas.MyYear(people=[await _year_person(p, today=today) for p in people])


# ---------------------------------------------------------------- cards, applications, bookings


async def my_cards(*, user: MiniUser) -> schemas.CardList:
    people = {p.beneficiary.id: p for p in await my_people(user=user) if p.may(*_BOOKING_SCOPES)}
    cards = await Card.filter(beneficiary_id__in=list(people)).select_related("application").order_by("-id")
    stations = await _stations({c.station_id for c in cards})
    active = {b.active_card_id: b.id for b in await Booking.filter(active_card_id__in=[c.id for c in cards])}
    items = []
    for card in cards:
        person = people[card.beneficiary_id]
        items.append(
            schemas.CardInfo(
                id=card.id,
                application_id=card.application_id,
                beneficiary_id=card.beneficiary_id,
                beneficiary_name=person.beneficiary.name,
                card_kind=card.application.card_kind.value,  # type: ignore[arg-type]
                card_kind_label=card_rules.KIND_LABELS[card.application.card_kind],
                status=card.status.value,  # type: ignore[arg-type]
                status_label=CARD_STATE_LABELS[card.status.value],
                station=stations[card.station_id],
                delivery_due=card.delivery_due,
                delivered_at=card.delivered_at,
                active_booking_id=active.get(card.id),
                can_book=card.status == CardStatus.AT_STATION and card.id not in active,
            )
        )
    return schemas.CardList(items=items)


async def application_info(application: CardApplication, *, beneficiary_name: str, today: date | None = None) -> schemas.CardApplicationInfo:
    from server.cards.applications import application_json

    card = await Card.get_or_none(application_id=application.id)
    return schemas.CardApplicationInfo(**application_json(application, today=today), beneficiary_name=beneficiary_name, card_id=card.id if card else None)


async def application_detail(application: CardApplication, *, beneficiary_name: str) -> schemas.CardApplicationDetail:
    from server.cards.applications import history

    info = await application_info(application, beneficiary_name=beneficiary_name)
    steps = [
        schemas.ApplicationStep(
            from_status=step["from"],
            to_status=step["to"],
            to_status_label=card_rules.STATUS_LABELS.get(ApplicationStatus(step["to"]), step["to"]),
            action=step["action"],
            reason=step["reason"],
            at=datetime.fromisoformat(step["at"]),
        )
        for step in await history(application_id=application.id)
    ]
    return schemas.CardApplicationDetail(**info.model_dump(), history=steps)


async def my_applications(*, user: MiniUser) -> schemas.CardApplicationList:
    people = {p.beneficiary.id: p for p in await my_people(user=user) if p.may("apply")}
    rows = await CardApplication.filter(beneficiary_id__in=list(people)).order_by("-id").limit(100)
    return schemas.CardApplicationList(items=[await application_info(a, beneficiary_name=people[a.beneficiary_id].beneficiary.name) for a in rows])


def slot_info(slot: PickupSlot) -> schemas.Slot:
    start = slot_start(slot)
    hour, minute = (int(x) for x in slot.end_time.split(":"))
    return schemas.Slot(
        id=slot.id,
        station_id=slot.station_id,
        day=slot.day,
        start_time=slot.start_time,
        end_time=slot.end_time,
        starts_at=start,
        ends_at=start.replace(hour=hour, minute=minute),
        capacity=slot.capacity,
        booked=slot.booked,
        available=max(0, slot.capacity - slot.booked),
    )


async def booking_info(booking: Booking) -> schemas.BookingInfo:
    slot = await PickupSlot.get(id=booking.slot_id).select_related("station")
    card = await Card.get(id=booking.card_id)
    beneficiary = await Beneficiary.get(id=card.beneficiary_id)
    return schemas.BookingInfo(
        id=booking.id,
        slot_id=booking.slot_id,
        card_id=booking.card_id,
        beneficiary_id=beneficiary.id,
        beneficiary_name=beneficiary.name,
        status=booking.status.value,  # type: ignore[arg-type]
        status_label=labels.BOOKING_STATUS.get(booking.status.value, booking.status.value),
        short_code=booking.short_code,
        as_proxy=booking.as_proxy,
        created_at=booking.created_at,
        slot=slot_info(slot),
        station=station_info(slot.station),
    )


async def my_bookings(*, user: MiniUser) -> schemas.BookingList:
    people = [p.beneficiary.id for p in await my_people(user=user) if p.may(*_BOOKING_SCOPES)]
    rows = await Booking.filter(card__beneficiary_id__in=people).order_by("-id").limit(100)
    return schemas.BookingList(items=[await booking_info(b) for b in rows])


async def slots_for_card(*, user: MiniUser, settings: Settings, card_id: int, request_id: str | None, now: datetime | None = None) -> dict[str, Any]:
    """Open slots at the card's station that can still be booked; none for a card not (or no longer) at
    the station. JSON-ready, as ``schemas.SlotList`` dumps it (tests hold the route to that contract):
    the list is read often and a model per slot cost more than the rest of the answer."""
    now = now or datetime.now(UTC)
    card, rows = await ready_card(user=user, card_id=card_id, request_id=request_id, slots_from=now.astimezone(CHINA_TZ).date())
    is_open = booking_rule(settings=settings, now=now)
    items = []
    for row in rows:
        start = starts_at(row["day"], row["start_time"])
        if row["booked"] < row["capacity"] and is_open(row["day"], start):
            hour, minute = (int(x) for x in row["end_time"].split(":"))
            items.append(
                {
                    "id": row["id"],
                    "station_id": card["station_id"],
                    "day": row["day"].isoformat(),
                    "start_time": row["start_time"],
                    "end_time": row["end_time"],
                    "starts_at": start.isoformat(),
                    "ends_at": start.replace(hour=hour, minute=minute).isoformat(),
                    "capacity": row["capacity"],
                    "booked": row["booked"],
                    "available": row["capacity"] - row["booked"],
                }
            )
    station = {"id": card["station_id"], **{name: card[f"station_{name}"] for name in STATION_FIELDS}}
    return {"card_id": card["id"], "station": station, "items": items}
