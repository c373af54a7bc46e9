"""Time slots at a station, the one machinery behind card pickup (PickupSlot, server/cards/booking.py) and
on-site application appointments (ApplicationSlot, server/cards/appointments.py).

Slots are published per station on working days; a place is taken by a conditional update inside the
booking's transaction (never more bookings than capacity); bookings carry a short code the clerk types;
nothing is booked, moved or cancelled within the cutoff before the slot starts.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.cards import ApplicationSlot, PickupSlot
from models.org import OrgKind, OrgUnit
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.clock import CHINA_TZ
from server.config import Settings
from server.errors import ApiError, Conflict, NotFound
from server.workdays import add_working_days, is_working_day

Slot = PickupSlot | ApplicationSlot

SHORT_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by clerks


class SlotFull(ApiError):
    status, code, message = 409, "slot_full", "该时段已约满，请选择其他时段"


def short_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(8))


def slot_start(slot: Slot) -> datetime:
    """When the slot starts: its day and start time are China's wall clock."""
    return starts_at(slot.day, slot.start_time)


def starts_at(day: date, start_time: str) -> datetime:
    hour, minute = (int(x) for x in start_time.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA_TZ)


def slot_json(s: Slot) -> dict[str, Any]:
    return {"id": s.id, "station_id": s.station_id, "day": s.day.isoformat(), "start_time": s.start_time, "end_time": s.end_time, "capacity": s.capacity, "booked": s.booked, "available": max(0, s.capacity - s.booked)}


def booking_open(*, day: date, starts_at: datetime, settings: Settings, now: datetime) -> bool:
    """The booking cutoff, for pickups and appointments alike: booking, changing or cancelling closes
    ``booking_cutoff_hours`` before the slot starts and, when ``booking_cutoff_working_days`` is set,
    once fewer than that many working days (server.workdays: weekends and holidays do not count, make-up
    working days do) are left before the slot's day, counted from today in China."""
    return booking_rule(settings=settings, now=now)(day, starts_at)


def booking_rule(*, settings: Settings, now: datetime) -> Callable[[date, datetime], bool]:
    """``booking_open`` at one moment as a test of (day, starts_at): a list of slots counts the working
    days once instead of once per slot."""
    latest = now + timedelta(hours=settings.cards.booking_cutoff_hours)
    ahead = settings.cards.booking_cutoff_working_days
    first_day = add_working_days(now.astimezone(CHINA_TZ).date(), ahead) if ahead > 0 else None

    def is_open(day: date, starts_at: datetime) -> bool:
        return starts_at > latest and (first_day is None or first_day <= day)

    return is_open


def require_booking_open(*, day: date, starts_at: datetime, settings: Settings, now: datetime) -> None:
    if booking_open(day=day, starts_at=starts_at, settings=settings, now=now):
        return
    ahead = settings.cards.booking_cutoff_working_days
    if ahead > 0:
        raise Conflict(f"须至少提前{ahead}个工作日预约、更改或取消", code="past_cutoff", working_days=ahead)
    raise Conflict(f"距预约时间不足{settings.cards.booking_cutoff_hours}小时，不能再预约或更改", code="past_cutoff")


def require_before_cutoff(slot: Slot, settings: Settings, now: datetime) -> None:
    require_booking_open(day=slot.day, starts_at=slot_start(slot), settings=settings, now=now)


async def publish(model: type[Slot], *, scope: Scope, actor: Actor, action: str, station_id: int, start: date, days: int, windows: list[tuple[str, str]], capacity: int) -> list[Any]:
    """Publish slots for the coming days, skipping weekends and public holidays (make-up days included)."""
    await scope.require_station_writable(station_id)
    if not await OrgUnit.filter(id=station_id, kind=OrgKind.STATION).exists():
        raise NotFound("服务站不存在", code="station_not_found")
    rows = [
        model(station_id=station_id, day=day, start_time=a, end_time=b, capacity=capacity)
        for day in (start + timedelta(days=offset) for offset in range(days))
        if is_working_day(day)
        for a, b in windows
    ]
    async with in_transaction():
        await model.bulk_create(rows, ignore_conflicts=True)
        await audit.record(actor=actor, action=action, entity_type="org_unit", entity_id=station_id, details={"from": start.isoformat(), "days": days, "windows": windows, "capacity": capacity})
    return await model.filter(station_id=station_id, day__gte=start, day__lt=start + timedelta(days=days)).order_by("day", "start_time")


async def take_place(model: type[Slot], slot_id: int) -> None:
    """One place in the slot, or SlotFull; call inside the booking's transaction."""
    if not await model.filter(id=slot_id, booked__lt=F("capacity")).update(booked=F("booked") + 1):
        raise SlotFull()


async def give_back_place(model: type[Slot], slot_id: int) -> None:
    await model.filter(id=slot_id, booked__gt=0).update(booked=F("booked") - 1)
