from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, date, datetime, timedelta

import httpx
from openpyxl import load_workbook
from sanic import Sanic

from models.cards import (
    ApplicationStatus,
    Booking,
    BookingStatus,
    Card,
    CardApplication,
    CardKind,
    CardStatus,
    PickupSlot,
    Shipment,
)
from models.staff import Role
from models.wechat import Notification
from server import clock
from server.actors import SYSTEM
from server.cards import applications, booking
from server.cards.booking import SlotFull
from server.errors import Conflict
from tests.cards.helpers import bind, make_applicant, mini_headers, proxy, ready_card
from tests.factories import make_beneficiary, make_county, staff_headers
from tests.registry.test_registry_api import _tiny_png


async def test_damaged_shipment_is_refused_and_reported_an_intact_one_sorted_and_collected(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    people = [await make_applicant(station=s, category="war_veteran") for s in (county.station_a, county.station_a, county.station_b)]
    approved = []
    for person in people:
        application = await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=person, card_kind=CardKind.VETERAN, channel="on_site")
        await CardApplication.filter(id=application.id).update(status=ApplicationStatus.APPROVED, open_key=None)
        approved.append(application.id)
    centre = await staff_headers(client, role=Role.CENTRE, unit=county.district)
    damaged = {"tracking_number": "SF100", "expected_count": 3, "counted_count": 2, "envelope_intact": False, "cards_intact": True, "application_ids": approved, "damage_description": "外包装破损，少一张"}
    refused = await client.post("/api/cards/shipments", headers=centre, data={"data": json.dumps(damaged, ensure_ascii=False)}, files=[("photos", ("d.png", _tiny_png(), "image/png"))])
    assert refused.status_code == 201, refused.text
    body = refused.json()
    assert body["status"] == "refused" and body["damage_report"]["to"] == "省退役军人服务中心" and body["damage_report"]["photos"] == 1
    assert await Card.all().count() == 0
    intact = {**damaged, "tracking_number": "SF101", "counted_count": 3, "envelope_intact": True, "damage_description": ""}
    accepted = await client.post("/api/cards/shipments", headers=centre, data={"data": json.dumps(intact)})
    assert accepted.json()["status"] == "accepted"
    sorting = (await client.get(f"/api/cards/shipments/{accepted.json()['id']}", headers=centre)).json()["stations"]
    assert {s["station_id"]: len(s["cards"]) for s in sorting} == {county.station_a.id: 2, county.station_b.id: 1}
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    mine = next(s["cards"] for s in sorting if s["station_id"] == county.station_a.id)
    theirs = next(s["cards"] for s in sorting if s["station_id"] == county.station_b.id)
    assert (await client.post("/api/cards/collections", headers=station, json={"station_id": county.station_b.id, "card_ids": theirs})).status_code == 403
    collected = await client.post("/api/cards/collections", headers=station, json={"station_id": county.station_a.id, "card_ids": mine})
    assert [c["status"] for c in collected.json()["items"]] == ["at_station", "at_station"]
    assert await Notification.filter(template_key="card_ready_for_pickup").count() == 2
    await Card.filter(id=mine[0]).update(delivery_due=date.today() - timedelta(days=1))
    overdue = (await client.get("/api/cards/cards?overdue=true", headers=station)).json()["items"]
    assert [c["id"] for c in overdue] == [mine[0]]
    delivered = await client.post(f"/api/cards/cards/{mine[0]}/deliver", headers=station, json={"method": "active_delivery", "received_by": "holder", "id_checked": True})
    assert delivered.json()["status"] == "delivered"
    unchecked = await client.post(f"/api/cards/cards/{mine[1]}/deliver", headers=station, json={"method": "group_issuance", "received_by": "holder", "id_checked": False})
    assert unchecked.json()["error"]["code"] == "id_check_required"


async def _slot(station_id: int, *, capacity: int, day: date | None = None, start: str = "09:00") -> PickupSlot:
    return await PickupSlot.create(station_id=station_id, day=day or date.today() + timedelta(days=3), start_time=start, end_time="10:00" if start == "09:00" else "11:00", capacity=capacity)


async def test_booking_idempotent_reschedule_cancel_and_qr_check_in(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    card = await ready_card(app, person, tracking="SF200")
    daughter, headers = await mini_headers(app, "o-pickup-daughter")
    await proxy(daughter, person, ["collect"])
    first, second = await _slot(county.station_a.id, capacity=2), await _slot(county.station_a.id, capacity=1, start="10:00")
    no_key = await client.post("/api/mp/cards/bookings", headers=headers, json={"card_id": card.id, "slot_id": first.id})
    assert no_key.json()["error"]["code"] == "idempotency_key_required"
    keyed = {**headers, "Idempotency-Key": "tap-1"}
    made = await client.post("/api/mp/cards/bookings", headers=keyed, json={"card_id": card.id, "slot_id": first.id})
    retried = await client.post("/api/mp/cards/bookings", headers=keyed, json={"card_id": card.id, "slot_id": first.id})
    assert made.status_code == 201 and retried.status_code == 200 and retried.json()["id"] == made.json()["id"]
    again = await client.post("/api/mp/cards/bookings", headers={**headers, "Idempotency-Key": "tap-2"}, json={"card_id": card.id, "slot_id": first.id})
    assert again.status_code == 409 and again.json()["error"]["code"] == "card_already_booked"
    assert (await PickupSlot.get(id=first.id)).booked == 1
    moved = await client.post(f"/api/mp/cards/bookings/{made.json()['id']}/reschedule", headers=headers, json={"slot_id": second.id})
    assert moved.json()["slot_id"] == second.id
    assert [(await PickupSlot.get(id=s.id)).booked for s in (first, second)] == [0, 1]
    slots = (await client.get(f"/api/mp/cards/slots?card_id={card.id}", headers=headers)).json()["items"]
    assert [s["id"] for s in slots] == [first.id]  # the full one is not offered

    qr = (await client.get(f"/api/mp/cards/bookings/{made.json()['id']}/qr", headers=headers)).json()
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    forged = await client.post("/api/cards/check-in", headers=clerk, json={"token": qr["token"][:-2] + "xx"})
    assert forged.json()["error"]["code"] == "qr_invalid"
    expired = booking.qr_token(booking=await Booking.get(id=made.json()["id"]), key=app.ctx.settings.security.qr_signing_key.get_secret_value(), ttl=-5)
    assert (await client.post("/api/cards/check-in", headers=clerk, json={"token": expired["token"]})).json()["error"]["code"] == "qr_expired"
    other = await staff_headers(client, role=Role.STATION, unit=county.station_b)
    assert (await client.post("/api/cards/check-in", headers=other, json={"token": qr["token"]})).status_code == 404  # another station's booking looks absent
    checked = await client.post("/api/cards/check-in", headers=clerk, json={"token": qr["token"]})
    assert checked.json()["status"] == "checked_in"
    delivered = await Card.get(id=card.id)
    assert delivered.status == CardStatus.DELIVERED and delivered.delivery_method == "pickup_appointment" and delivered.received_by == "proxy"
    twice = await client.post("/api/cards/check-in", headers=clerk, json={"short_code": qr["short_code"]})
    assert twice.json()["error"]["code"] == "booking_not_active"
    today = (await client.get(f"/api/cards/bookings/today?day={second.day.isoformat()}", headers=clerk)).json()["items"]
    assert [b["id"] for b in today] == [made.json()["id"]]


async def test_cutoff_short_code_reminders_and_no_shows(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    card = await ready_card(app, person, tracking="SF300")
    holder, headers = await mini_headers(app, "o-pickup-holder")
    await bind(holder, person)
    soon = await _slot(county.station_a.id, capacity=5, day=clock.china_today())  # 00:00 today in China: always inside the cutoff
    soon.start_time = "00:00"
    await soon.save()
    late = await client.post("/api/mp/cards/bookings", headers={**headers, "Idempotency-Key": "k0"}, json={"card_id": card.id, "slot_id": soon.id})
    assert late.json()["error"]["code"] == "past_cutoff"
    # Two China days ahead: "tomorrow" in UTC can be hours away in Beijing, inside the 2-hour cutoff.
    tomorrow = await _slot(county.station_a.id, capacity=5, day=clock.china_today() + timedelta(days=2))
    made = (await client.post("/api/mp/cards/bookings", headers={**headers, "Idempotency-Key": "k1"}, json={"card_id": card.id, "slot_id": tomorrow.id})).json()
    assert "id" in made, made
    start = booking.slot_start(tomorrow)
    assert await booking.queue_booking_reminders(now=start - timedelta(hours=30), settings=app.ctx.settings) == 0
    assert await booking.queue_booking_reminders(now=start - timedelta(hours=20), settings=app.ctx.settings) == 1
    assert await booking.queue_booking_reminders(now=start - timedelta(hours=19), settings=app.ctx.settings) == 0
    assert await Notification.filter(template_key="booking_reminder").count() == 1
    assert await booking.release_no_shows(now=start + timedelta(hours=3)) == 1
    assert (await Booking.get(id=made["id"])).status == BookingStatus.NO_SHOW
    rebook = await client.post("/api/mp/cards/bookings", headers={**headers, "Idempotency-Key": "k2"}, json={"card_id": card.id, "slot_id": (await _slot(county.station_a.id, capacity=1, start="10:00")).id})
    assert rebook.status_code == 201
    cancelled = await client.post(f"/api/mp/cards/bookings/{rebook.json()['id']}/cancel", headers=headers)
    assert cancelled.json()["status"] == "cancelled"


async def test_many_concurrent_bookings_never_overbook(app: Sanic) -> None:
    """500 attempts, 500 different cards and users, one 20-seat slot: exactly 20 granted."""
    county = await make_county()
    slot = await _slot(county.station_a.id, capacity=20)
    shipment = await Shipment.create(district_id=county.district.id, tracking_number="SF-bulk", expected_count=500, counted_count=500, envelope_intact=True, cards_intact=True, status="accepted", received_by_staff_id=0)
    from models.wechat import Binding, MiniUser
    from server.registry import service as registry
    from tests.factories import unique_id_number

    users = []
    cards = []
    for i in range(500):
        person = await registry.insert_beneficiary(actor=SYSTEM, data=registry.NewBeneficiary(name=f"领证{i}", id_number=unique_id_number(), category="war_veteran", station_id=county.station_a.id))
        application = await CardApplication.create(beneficiary=person, station_id=person.station_id, card_kind=CardKind.VETERAN, batch=1, channel="online", status=ApplicationStatus.APPROVED, step_started_on=date.today())
        cards.append(await Card.create(application=application, shipment=shipment, beneficiary_id=person.id, station_id=person.station_id, status=CardStatus.AT_STATION))
        user = await MiniUser.create(openid=f"o-bulk-{i}")
        await Binding.create(user=user, beneficiary=person, active_beneficiary_id=person.id)
        users.append(user)

    async def attempt(i: int) -> str:
        try:
            await booking.book(settings=app.ctx.settings, user=users[i], card_id=cards[i].id, slot_id=slot.id, idempotency_key=f"bulk-{i}")
            return "granted"
        except SlotFull:
            return "full"
        except Conflict as exc:
            return exc.code

    outcomes = await asyncio.gather(*(attempt(i) for i in range(500)))
    assert outcomes.count("granted") == 20 and outcomes.count("full") == 480
    assert (await PickupSlot.get(id=slot.id)).booked == 20
    assert await Booking.filter(slot_id=slot.id, status=BookingStatus.ACTIVE).count() == 20


async def test_monthly_statistics_xlsx_matches_json(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    for category, station in (("war_veteran", county.station_a), ("rural_veteran_60", county.station_a), ("veteran", county.station_b)):
        person = await make_applicant(station=station, category=category)
        await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=person, card_kind=CardKind.VETERAN, channel="on_site")
    delivered_person = await make_beneficiary(station=county.station_b)
    card = await ready_card(app, delivered_person, tracking="SF400")
    await Card.filter(id=card.id).update(status=CardStatus.DELIVERED, delivered_at=datetime.now(UTC))
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    report = (await client.get("/api/cards/statistics", headers=bureau)).json()
    assert report["totals"]["status_station_check"] == 3 and report["totals"]["batch_1"] == 2 and report["totals"]["batch_2"] == 1 and report["totals"]["batch_3"] == 1
    assert report["totals"]["cards_received"] == 1 and report["totals"]["cards_delivered"] == 1
    sheet = load_workbook(io.BytesIO((await client.get("/api/cards/statistics.xlsx", headers=bureau)).content)).active
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    from server.cards.stats import COLUMNS

    for sheet_row, json_row in zip(rows, report["rows"], strict=False):
        assert list(sheet_row) == [json_row[key] for key in COLUMNS]
    assert list(rows[-1][1:]) == [report["totals"][key] for key in COLUMNS[1:]]
    from server.cards.stats import generate_monthly_statistics

    first_of_month = datetime(2026, 11, 20, 1, tzinfo=UTC)  # the 20th, China time: the month is frozen
    assert len(await generate_monthly_statistics(now=first_of_month, media_dir=app.ctx.settings.media_dir)) == 1
    assert await generate_monthly_statistics(now=first_of_month, media_dir=app.ctx.settings.media_dir) == []


async def test_slot_generator_skips_non_working_days(client: httpx.AsyncClient) -> None:
    county = await make_county()
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    body = {"station_id": county.station_a.id, "start": "2025-09-28", "days": 15, "windows": [["09:00", "10:00"], ["14:00", "15:00"]], "capacity": 10}
    created = await client.post("/api/cards/slots", headers=station, json=body)
    assert created.status_code == 201, created.text
    days = sorted({s["day"] for s in created.json()["items"]})
    # National Day 2025: Oct 1-8 off; Sunday Sep 28 and Saturday Oct 11 are make-up working days.
    assert days == ["2025-09-28", "2025-09-29", "2025-09-30", "2025-10-09", "2025-10-10", "2025-10-11"]
    assert len(created.json()["items"]) == 12
    other = await staff_headers(client, role=Role.STATION, unit=county.station_b)
    assert (await client.post("/api/cards/slots", headers=other, json=body)).status_code == 403
