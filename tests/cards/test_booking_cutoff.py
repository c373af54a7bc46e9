"""The booking cutoff counted in working days (server.workdays): weekends and holidays do not count,
so "two working days ahead" on a Friday means Tuesday, not Sunday."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
from sanic import Sanic

from models.cards import PickupSlot
from server.cards.booking import booking_open
from server.clock import china_today
from server.config import Settings
from server.notifications.templates import CHINA_TZ
from server.workdays import add_working_days
from tests.cards.helpers import bind, mini_headers, ready_card
from tests.factories import make_beneficiary, make_county
from tests.miniapp.contract import Contract


def _china(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHINA_TZ).astimezone(UTC)


def _with(settings: Settings, working_days: int) -> Settings:
    return settings.model_copy(update={"cards": settings.cards.model_copy(update={"booking_cutoff_working_days": working_days})})


async def test_working_days_not_calendar_days(app: Sanic) -> None:
    friday, saturday, monday, tuesday = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 23), date(2026, 11, 24)
    assert friday.weekday() == 4 and add_working_days(friday, 1) == monday
    two = _with(app.ctx.settings, 2)

    def open_(day: date, now: datetime, settings: Settings = two) -> bool:
        return booking_open(day=day, starts_at=_china(day, 9), settings=settings, now=now)

    # Monday is three calendar days after Friday but only one working day: closed at two.
    assert not open_(monday, _china(friday, 10))
    assert open_(tuesday, _china(friday, 10))
    # From a Saturday too, two working days ahead is Tuesday.
    assert open_(tuesday, _china(saturday, 10)) and not open_(monday, _china(saturday, 10))
    # Without a working-day cutoff only the hours apply (2 hours before the start).
    none = _with(app.ctx.settings, 0)
    assert open_(monday, _china(monday, 6), none) and not open_(monday, _china(monday, 8), none)


async def test_booking_and_slot_list_follow_the_working_day_cutoff(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    card = await ready_card(app, person, tracking="SF-cutoff")
    user, headers = await mini_headers(app, "o-cutoff")
    await bind(user, person)
    today = china_today()
    soon = await PickupSlot.create(station_id=county.station_a.id, day=add_working_days(today, 1), start_time="09:00", end_time="10:00", capacity=5)
    later = await PickupSlot.create(station_id=county.station_a.id, day=add_working_days(today, 3), start_time="09:00", end_time="10:00", capacity=5)
    contract = await Contract.load(client)
    settings = app.ctx.settings
    original = settings.cards.booking_cutoff_working_days
    settings.cards.booking_cutoff_working_days = 2
    try:
        listed = contract.check(await client.get(f"/api/mp/cards/slots?card_id={card.id}", headers=headers))
        assert [s["id"] for s in listed["items"]] == [later.id]
        refused = await client.post("/api/mp/cards/bookings", headers={**headers, "Idempotency-Key": "c1"}, json={"card_id": card.id, "slot_id": soon.id})
        assert refused.status_code == 409 and contract.check(refused)["error"]["code"] == "past_cutoff"
        assert refused.json()["error"]["details"] == {"working_days": 2} and "工作日" in refused.json()["error"]["message"]
        made = await client.post("/api/mp/cards/bookings", headers={**headers, "Idempotency-Key": "c2"}, json={"card_id": card.id, "slot_id": later.id})
        assert made.status_code == 201 and contract.check(made)["slot"]["id"] == later.id
        moved = await client.post(f"/api/mp/cards/bookings/{made.json()['id']}/reschedule", headers=headers, json={"slot_id": soon.id})
        assert moved.status_code == 409 and moved.json()["error"]["code"] == "past_cutoff"
    finally:
        settings.cards.booking_cutoff_working_days = original
    assert (await PickupSlot.get(id=soon.id)).booked == 0
