"""Pickup booking: slots per station, bookings without overbooking, QR / short-code check-in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import RawSQL
from tortoise.transactions import in_transaction

from models.cards import Booking, BookingStatus, Card, CardStatus, PickupSlot
from models.org import OrgUnit
from models.wechat import MiniUser, ProxyGrant
from server.acting import ProxyScope, acting_for, acting_judged, standing_columns
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.cards import slots
from server.cards.issuance import mark_delivered
from server.cards.slots import SHORT_CODE_ALPHABET as SHORT_CODE_ALPHABET  # re-exported (the routes, tests)
from server.cards.slots import SlotFull as SlotFull
from server.cards.slots import booking_open as booking_open  # re-exported (mini-program journeys, tests)
from server.cards.slots import require_before_cutoff, short_code, slot_start
from server.cards.slots import slot_json as slot_json
from server.clock import CHINA_TZ
from server.config import Settings
from server.db import is_postgres
from server.errors import ApiError, Conflict, NotFound, ValidationFailed
from server.notifications.outbox import notify_beneficiary

# The slot machinery is shared with application appointments (server/cards/slots.py); named here too.
_short_code = short_code
_before_cutoff = require_before_cutoff


def booking_json(b: Booking) -> dict[str, Any]:
    return {"id": b.id, "slot_id": b.slot_id, "card_id": b.card_id, "status": b.status.value, "short_code": b.short_code, "as_proxy": b.as_proxy, "created_at": b.created_at.isoformat()}


async def generate_slots(*, scope: Scope, actor: Actor, station_id: int, start: date, days: int, windows: list[tuple[str, str]], capacity: int) -> list[PickupSlot]:
    """Publish pickup slots for the coming days, skipping weekends and public holidays (make-up days included)."""
    return await slots.publish(PickupSlot, scope=scope, actor=actor, action="pickup_slots.published", station_id=station_id, start=start, days=days, windows=windows, capacity=capacity)


# A proxy may book a pickup holding either of these (the refusal names the last).
CARD_SCOPES = (ProxyScope.COLLECT, ProxyScope.BOOK)


async def _card_for(*, user: MiniUser, card_id: int, request_id: str | None) -> tuple[Card, Actor, bool]:
    card = await Card.get_or_none(id=card_id)
    if card is None:
        raise NotFound("优待证不存在", code="card_not_found")
    acting = await acting_for(user=user, beneficiary_id=card.beneficiary_id, scope=CARD_SCOPES, request_id=request_id)
    return card, acting.actor, acting.as_proxy


STATION_FIELDS = ("name", "address", "phone", "opening_hours")
SLOT_FIELDS = ("id", "day", "start_time", "end_time", "capacity", "booked")
MAX_LISTED_SLOTS = 200

_READY_CARD_SQL_POSTGRES = """
SELECT c.id, c.status, c.station_id, c.beneficiary_id, {standing}, {station},
  (SELECT coalesce(json_agg(json_build_object({slot_fields}) ORDER BY s.day, s.start_time), '[]')
     FROM (SELECT * FROM pickup_slot p WHERE p.station_id = c.station_id AND p.day >= $2 ORDER BY p.day, p.start_time LIMIT {limit}) s) AS slots
FROM card c WHERE c.id = $1
"""


async def ready_card(*, user: MiniUser, card_id: int, request_id: str | None, slots_from: date) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``_card_for`` and the at-station check, with the station's public details (``station_<field>``)
    and the station's slots from ``slots_from`` on (at most ``MAX_LISTED_SLOTS``, by day and start):
    the slot list's guards and rows without a round trip each. On PostgreSQL one statement (the slots
    aggregated as JSON); elsewhere two."""
    card = "c" if is_postgres() else '"card"'  # the hand-written statement's alias, or the ORM's table
    # On PostgreSQL the user is a parameter: one prepared statement for every user.
    standing = standing_columns(user="$3" if is_postgres() else str(int(user.id)), beneficiary=f'{card}."beneficiary_id"')
    station = {f"station_{name}": f'(SELECT su."{name}" FROM "org_unit" su WHERE su."id" = {card}."station_id")' for name in STATION_FIELDS}
    if is_postgres():
        sql = _READY_CARD_SQL_POSTGRES.format(
            standing=", ".join(f"{raw.sql} AS {name}" for name, raw in standing.items()),
            station=", ".join(f"{sub} AS {name}" for name, sub in station.items()),
            slot_fields=", ".join(f"'{name}', s.{name}" for name in SLOT_FIELDS),
            limit=MAX_LISTED_SLOTS,
        )
        rows = await connections.get("default").execute_query_dict(sql, [card_id, slots_from, user.id])
    else:
        rows = await Card.filter(id=card_id).annotate(**standing, **{name: RawSQL(sub) for name, sub in station.items()}).values("id", "status", "station_id", "beneficiary_id", *standing, *station)
    if not rows:
        raise NotFound("优待证不存在", code="card_not_found")
    row = rows[0]
    acting_judged(row, user_id=user.id, beneficiary_id=row["beneficiary_id"], scopes=CARD_SCOPES, request_id=request_id)
    if CardStatus(getattr(row["status"], "value", row["status"])) != CardStatus.AT_STATION:
        raise Conflict("优待证尚未到达服务站或已领取", code="card_not_ready")
    if "slots" in row:
        listed = json.loads(row["slots"]) if isinstance(row["slots"], str) else row["slots"]
        return row, [{**slot, "day": date.fromisoformat(slot["day"])} for slot in listed]
    found = await PickupSlot.filter(station_id=row["station_id"], day__gte=slots_from).order_by("day", "start_time").limit(MAX_LISTED_SLOTS).values(*SLOT_FIELDS)
    return row, list(found)


async def book(*, settings: Settings, user: MiniUser, card_id: int, slot_id: int, idempotency_key: str, request_id: str | None = None, now: datetime | None = None) -> tuple[Booking, bool]:
    """Book a slot for a ready card. Returns (booking, created); the same idempotency key returns the
    first booking. Capacity is enforced by a conditional update inside the booking's transaction."""
    now = now or datetime.now(UTC)
    existing = await Booking.get_or_none(user_id=user.id, idempotency_key=idempotency_key)
    if existing is not None:
        return existing, False
    card, actor, as_proxy = await _card_for(user=user, card_id=card_id, request_id=request_id)
    if card.status != CardStatus.AT_STATION:
        raise Conflict("优待证尚未到达服务站或已领取", code="card_not_ready")
    slot = await PickupSlot.get_or_none(id=slot_id)
    if slot is None or slot.station_id != card.station_id:
        raise NotFound("时段不存在", code="slot_not_found")
    _before_cutoff(slot, settings, now)
    try:
        async with in_transaction():
            await slots.take_place(PickupSlot, slot.id)
            booking = await Booking.create(slot_id=slot.id, card_id=card.id, user_id=user.id, as_proxy=as_proxy, idempotency_key=idempotency_key, active_card_id=card.id, short_code=_short_code())
            await audit.record(actor=actor, action="booking.created", entity_type="card", entity_id=card.id, details={"booking_id": booking.id, "slot_id": slot.id})
            station = await OrgUnit.get(id=slot.station_id)
            await notify_beneficiary(
                beneficiary_id=card.beneficiary_id,
                station_id=slot.station_id,
                template_key="booking_confirmed",
                context={"booking_id": booking.id, "service_name": "优待证领取", "slot_start": slot_start(slot), "office_name": station.name, "booking_no": booking.short_code},
                dedupe_key=f"booking_confirmed:{booking.id}",
                proxy_scope=ProxyScope.COLLECT,
                also_user_ids=[user.id],  # the one who booked hears back, even a proxy with only `book`
            )
    except IntegrityError as exc:
        again = await Booking.get_or_none(user_id=user.id, idempotency_key=idempotency_key)
        if again is not None:
            return again, False  # the same request retried concurrently
        raise Conflict("该优待证已有有效预约", code="card_already_booked") from exc
    return booking, True


async def _own_booking(*, user: MiniUser, booking_id: int, request_id: str | None) -> tuple[Booking, Actor]:
    booking = await Booking.get_or_none(id=booking_id).select_related("slot", "card")
    if booking is None:
        raise NotFound("预约不存在", code="booking_not_found")
    _, actor, _ = await _card_for(user=user, card_id=booking.card_id, request_id=request_id)
    if booking.status != BookingStatus.ACTIVE:
        raise Conflict("该预约已失效", code="booking_not_active")
    return booking, actor


async def cancel(*, settings: Settings, user: MiniUser, booking_id: int, request_id: str | None = None, now: datetime | None = None) -> Booking:
    booking, actor = await _own_booking(user=user, booking_id=booking_id, request_id=request_id)
    _before_cutoff(booking.slot, settings, now or datetime.now(UTC))
    async with in_transaction():
        changed = await Booking.filter(id=booking.id, status=BookingStatus.ACTIVE).update(status=BookingStatus.CANCELLED, active_card_id=None)
        if not changed:
            raise Conflict("该预约已失效", code="booking_not_active")
        await slots.give_back_place(PickupSlot, booking.slot_id)
        await audit.record(actor=actor, action="booking.cancelled", entity_type="card", entity_id=booking.card_id, details={"booking_id": booking.id})
    return await Booking.get(id=booking.id)


async def reschedule(*, settings: Settings, user: MiniUser, booking_id: int, slot_id: int, request_id: str | None = None, now: datetime | None = None) -> Booking:
    now = now or datetime.now(UTC)
    booking, actor = await _own_booking(user=user, booking_id=booking_id, request_id=request_id)
    _before_cutoff(booking.slot, settings, now)
    new_slot = await PickupSlot.get_or_none(id=slot_id)
    if new_slot is None or new_slot.station_id != booking.slot.station_id:
        raise NotFound("时段不存在", code="slot_not_found")
    _before_cutoff(new_slot, settings, now)
    async with in_transaction():
        await slots.take_place(PickupSlot, new_slot.id)
        await slots.give_back_place(PickupSlot, booking.slot_id)
        await Booking.filter(id=booking.id).update(slot_id=new_slot.id, reminder_queued=False)
        await audit.record(actor=actor, action="booking.rescheduled", entity_type="card", entity_id=booking.card_id, details={"booking_id": booking.id, "from_slot": booking.slot_id, "to_slot": new_slot.id})
    return await Booking.get(id=booking.id)


def qr_token(*, booking: Booking, key: str, ttl: int, now: float | None = None) -> dict[str, Any]:
    """A signed, expiring token for the QR code the mini-program shows at the station."""
    expires = int((now or time.time()) + ttl)
    payload = f"{booking.id}.{expires}"
    signature = base64.urlsafe_b64encode(hmac.new(key.encode(), payload.encode(), hashlib.sha256).digest()[:18]).decode()
    return {"token": f"{payload}.{signature}", "expires_at": expires, "short_code": booking.short_code}


def verify_qr_token(token: str, *, key: str, now: float | None = None) -> int:
    try:
        booking_id, expires, signature = token.split(".")
        expected = base64.urlsafe_b64encode(hmac.new(key.encode(), f"{booking_id}.{expires}".encode(), hashlib.sha256).digest()[:18]).decode()
        valid = hmac.compare_digest(signature.encode(), expected.encode())  # bytes: str needs ASCII
        expired = int(expires) < (now or time.time())
    except ValueError as exc:
        raise ApiError("二维码无效", code="qr_invalid", status=400) from exc
    if not valid:
        raise ApiError("二维码无效", code="qr_invalid", status=400)
    if expired:
        raise ApiError("二维码已过期，请在小程序中刷新", code="qr_expired", status=410)
    return int(booking_id)


async def qr_for_user(*, settings: Settings, user: MiniUser, booking_id: int, request_id: str | None = None) -> dict[str, Any]:
    booking, _ = await _own_booking(user=user, booking_id=booking_id, request_id=request_id)
    return qr_token(booking=booking, key=settings.security.qr_signing_key.get_secret_value(), ttl=settings.cards.qr_token_ttl_seconds)


async def find_for_check_in(*, scope: Scope, settings: Settings, token: str | None, short_code: str | None) -> tuple[Booking, Card]:
    """The booking behind a scanned QR token or a typed short code, in the reader's scope: the console shows
    whose card it is before anything is issued, and ``check_in`` issues it, both through this one lookup."""
    if token:
        booking = await Booking.get_or_none(id=verify_qr_token(token, key=settings.security.qr_signing_key.get_secret_value()))
    elif short_code:
        code = short_code.strip().upper()
        booking = await Booking.get_or_none(short_code=code) if len(code) <= 8 else None  # the column holds 8
    else:
        raise ValidationFailed("请扫描二维码或输入预约码", code="code_required")
    if booking is None:
        raise NotFound("预约不存在", code="booking_not_found")
    card = await Card.get(id=booking.card_id)
    if not await scope.contains_station(card.station_id):
        raise NotFound("预约不存在", code="booking_not_found")  # another station's code looks absent
    return booking, card


async def collector_name(booking: Booking) -> str | None:
    """Who comes for the card: None for the holder, else the proxy's name as the grant records it."""
    if not booking.as_proxy:
        return None
    card = await Card.get(id=booking.card_id)
    grant = await ProxyGrant.filter(beneficiary_id=card.beneficiary_id, proxy_user_id=booking.user_id).order_by("-id").first()
    return grant.proxy_name if grant else "代领人"


async def check_in(*, scope: Scope, actor: Actor, settings: Settings, token: str | None, short_code: str | None) -> Booking:
    """Staff scan the QR (or type its short code): the card is delivered by pickup appointment."""
    booking, card = await find_for_check_in(scope=scope, settings=settings, token=token, short_code=short_code)
    await scope.require_station_writable(card.station_id)
    if booking.status != BookingStatus.ACTIVE:
        raise Conflict("该预约已失效或已签到", code="booking_not_active")
    async with in_transaction():
        await mark_delivered(actor=actor, card=card, method="pickup_appointment", received_by="proxy" if booking.as_proxy else "holder", receiver_user_id=booking.user_id)
        await Booking.filter(id=booking.id).update(status=BookingStatus.CHECKED_IN, active_card_id=None)
        await audit.record(actor=actor, action="booking.checked_in", entity_type="card", entity_id=card.id, details={"booking_id": booking.id})
    return await Booking.get(id=booking.id)


async def todays_bookings(*, scope: Scope, day: date) -> list[Booking]:
    query = Booking.filter(slot__day=day).select_related("slot", "card")
    query = await scope.filter_by_station(query, "slot__station_id")
    return await query.order_by("slot__start_time", "id")


async def queue_booking_reminders(*, now: datetime, settings: Settings) -> int:
    """A reminder about 24 hours before each active booking, once."""
    horizon = now + timedelta(hours=settings.cards.booking_reminder_hours)
    candidates = await Booking.filter(status=BookingStatus.ACTIVE, reminder_queued=False, slot__day__lte=horizon.astimezone(CHINA_TZ).date()).select_related("slot", "card")
    queued = 0
    for booking in candidates:
        start = slot_start(booking.slot)
        if not now <= start <= horizon:
            continue
        station = await OrgUnit.get(id=booking.slot.station_id)
        async with in_transaction():
            if not await Booking.filter(id=booking.id, reminder_queued=False).update(reminder_queued=True):
                continue
            await notify_beneficiary(
                beneficiary_id=booking.card.beneficiary_id,
                station_id=booking.slot.station_id,
                template_key="booking_reminder",
                context={"booking_id": booking.id, "service_name": "优待证领取", "slot_start": start, "office_address": station.address or station.name},
                dedupe_key=f"booking_reminder:{booking.id}:{booking.slot_id}",
                proxy_scope=ProxyScope.COLLECT,
                also_user_ids=[booking.user_id],
            )
            queued += 1
    return queued


async def release_no_shows(*, now: datetime) -> int:
    """Bookings whose time has passed without check-in are released (the card can be booked again)."""
    released = 0
    for booking in await Booking.filter(status=BookingStatus.ACTIVE, slot__day__lte=now.astimezone(CHINA_TZ).date()).select_related("slot"):
        hour, minute = (int(x) for x in booking.slot.end_time.split(":"))
        end = datetime(booking.slot.day.year, booking.slot.day.month, booking.slot.day.day, hour, minute, tzinfo=CHINA_TZ)
        if end >= now:
            continue
        if await Booking.filter(id=booking.id, status=BookingStatus.ACTIVE).update(status=BookingStatus.NO_SHOW, active_card_id=None):
            await audit.record(actor=Actor(type="system", id=None, role="system"), action="booking.no_show", entity_type="card", entity_id=booking.card_id, details={"booking_id": booking.id})
            released += 1
    return released
