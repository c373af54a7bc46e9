"""A booking storm over HTTP against the real server: four workers, PostgreSQL, Redis.

500 mini-program users, each with a ready card, book one 20-seat slot at the same moment. Every
one of them must get an answer a phone can act on (201 booked, 409 full) — never a 5xx — and the
database must hold exactly 20 bookings for 20 different cards.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
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
from models.registry import Beneficiary
from models.wechat import Binding, MiniUser
from server.miniapp.sessions import create_session
from tests.factories import make_beneficiary, make_county
from tests.server_env import secret_env
from tests.server_process import free_port, start_server, stop_server, wait_ready_async

PROJECT_ROOT = Path(__file__).resolve().parent.parent
USERS, SEATS = 500, 20

pytestmark = pytest.mark.skipif(
    not (os.environ.get("VETS_TEST_DATABASE_URL") and os.environ.get("VETS_TEST_REDIS_URL")),
    reason="four workers need PostgreSQL and Redis",
)


async def _storm_county(app: Sanic) -> tuple[PickupSlot, list[tuple[str, int]]]:
    """One station, USERS people with a ready card each and a bound user with a live session."""
    county = await make_county()
    first = await make_beneficiary(station=county.station_a)
    template = await Beneficiary.get(id=first.id)
    people = [
        Beneficiary(name=f"用户{i}", id_number_encrypted=template.id_number_encrypted, id_number_hash=f"storm-{i}", id_number_masked=template.id_number_masked, birth_date=template.birth_date, sex=template.sex, category=template.category, station_id=county.station_a.id)
        for i in range(USERS)
    ]
    await Beneficiary.bulk_create(people, batch_size=500)
    person_ids = await Beneficiary.filter(id_number_hash__startswith="storm-").order_by("id").values_list("id", flat=True)
    await MiniUser.bulk_create([MiniUser(openid=f"storm-{pid}") for pid in person_ids], batch_size=500)
    users = dict(await MiniUser.filter(openid__startswith="storm-").values_list("openid", "id"))
    await Binding.bulk_create([Binding(user_id=users[f"storm-{pid}"], beneficiary_id=pid, active_beneficiary_id=pid) for pid in person_ids], batch_size=500)
    shipment = await Shipment.create(district=county.district, tracking_number="STORM", expected_count=USERS, counted_count=USERS, envelope_intact=True, cards_intact=True, status="accepted", received_by_staff_id=0)
    await CardApplication.bulk_create([CardApplication(beneficiary_id=pid, station_id=county.station_a.id, card_kind=CardKind.VETERAN, batch=1, channel="online", status=ApplicationStatus.APPROVED, step_started_on=date.today()) for pid in person_ids], batch_size=500)
    applications = dict(await CardApplication.filter(beneficiary_id__in=person_ids).values_list("beneficiary_id", "id"))
    await Card.bulk_create([Card(application_id=applications[pid], shipment=shipment, beneficiary_id=pid, station_id=county.station_a.id, status=CardStatus.AT_STATION) for pid in person_ids], batch_size=500)
    cards = dict(await Card.filter(beneficiary_id__in=person_ids).values_list("beneficiary_id", "id"))
    slot = await PickupSlot.create(station=county.station_a, day=date.today() + timedelta(days=3), start_time="09:00", end_time="10:00", capacity=SEATS)
    ttl = app.ctx.settings.security.mini_session_ttl_seconds
    clients = [((await create_session(app.ctx.kv, user_id=users[f"storm-{pid}"], ttl=ttl))[0], cards[pid]) for pid in person_ids]
    return slot, clients


def _start_server(app: Sanic, port: int, var_dir: Path) -> subprocess.Popen[str]:
    settings = app.ctx.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("VETS_")}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        VETS_ENVIRONMENT="test",
        VETS_DATABASE__URL=settings.database.url,
        VETS_REDIS__URL=settings.redis.url or "",
        VETS_REDIS__KEY_PREFIX=settings.redis.key_prefix,  # the sessions made above are in this store
        VETS_FACE__ENABLED="false",
        VETS_RUN_BACKGROUND_JOBS="false",
        VETS_VAR_DIR=str(var_dir),
        VETS_MEDIA_DIR=str(var_dir / "media"),
        VETS_ADMIN_PASSWORD="storm-admin-password",
        VETS_LOG_JSON="false",
        VETS_WECHAT__TEMPLATE_IDS='{"booking_confirmed": "TPL-booking_confirmed"}',
        **secret_env(settings),
    )
    return start_server(cwd=var_dir, env=env, port=port, workers=4)


async def test_500_user_booking_storm_over_http_no_5xx_exactly_20_seats(app: Sanic, tmp_path: Path) -> None:
    slot, clients = await _storm_county(app)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start_server(app, port, tmp_path)
    try:
        await wait_ready_async(base, proc, log_file=tmp_path / "server.log")
        # One connection per user, as 500 phones would open; all released at the same instant.
        limits = httpx.Limits(max_connections=USERS, max_keepalive_connections=USERS)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
            gate = asyncio.Event()

            async def book(token: str, card_id: int) -> tuple[int, str]:
                await gate.wait()
                response = await http.post("/api/mp/cards/bookings", headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"storm-{card_id}"}, json={"card_id": card_id, "slot_id": slot.id})
                return response.status_code, response.json().get("error", {}).get("code", "")

            tasks = [asyncio.create_task(book(token, card_id)) for token, card_id in clients]
            await asyncio.sleep(0.2)
            started = time.monotonic()
            gate.set()
            outcomes = await asyncio.gather(*tasks)
            elapsed = time.monotonic() - started
    finally:
        stop_seconds = stop_server(proc)
        output = (tmp_path / "server.log").read_text()
    statuses = Counter(status for status, _ in outcomes)
    assert not [o for o in outcomes if o[0] >= 500], f"5xx answers: {statuses}; server log tail: {output[-2000:]}"
    assert statuses[201] == SEATS, statuses
    assert statuses[409] == USERS - SEATS and {code for status, code in outcomes if status == 409} == {"slot_full"}
    bookings = await Booking.filter(slot_id=slot.id, status=BookingStatus.ACTIVE).values_list("card_id", flat=True)
    assert len(bookings) == len(set(bookings)) == SEATS
    assert (await PickupSlot.get(id=slot.id)).booked == SEATS
    assert stop_seconds < 20, f"SIGTERM took {stop_seconds:.1f} s"
    print(f"\nstorm: {USERS} bookings answered in {elapsed:.1f} s ({USERS / elapsed:.0f}/s); SIGTERM exit in {stop_seconds:.1f} s")
