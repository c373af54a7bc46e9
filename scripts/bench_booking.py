"""Benchmark: concurrent pickup bookings for one slot (a script that prints figures).

    VETS_DATABASE__URL=postgres://postgres@127.0.0.1:5432/bench python scripts/bench_booking.py [--attempts 500] [--capacity 20]

Seeds N ready cards held by N bound users, then fires N concurrent booking attempts (each its own
transaction on the connection pool) at one slot, and prints the granted count, the refusals and the
attempts per second. Without VETS_DATABASE__URL it uses SQLite in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.cards import ApplicationStatus, Card, CardApplication, CardKind, CardStatus, PickupSlot, Shipment  # noqa: E402
from models.org import OrgKind, OrgUnit  # noqa: E402
from models.registry import Beneficiary, Category  # noqa: E402
from models.wechat import Binding, MiniUser  # noqa: E402
from server import db  # noqa: E402
from server.cards import booking  # noqa: E402
from server.cards.booking import SlotFull  # noqa: E402
from server.config import Settings  # noqa: E402
from server.errors import Conflict  # noqa: E402
from server.registry.id_numbers import make_id_number  # noqa: E402
from server.security.fields import cipher, configure_cipher  # noqa: E402


async def main(attempts: int, capacity: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("VETS_DATABASE__URL") or f"sqlite://{tmp}/bench.sqlite3"
        settings = Settings(database={"url": url, "pool_max_size": 20})
        configure_cipher(settings.security.field_key.get_secret_value())
        if url.startswith("postgres"):
            await db.reset_postgres_schema(url)
        await db.apply_migrations(url)
        await db.init_orm(url, pool_max_size=20)
        try:
            city = await OrgUnit.create(name="市", code="C", kind=OrgKind.CITY)
            district = await OrgUnit.create(name="县", code="D", kind=OrgKind.DISTRICT, parent=city)
            station = await OrgUnit.create(name="站", code="S", kind=OrgKind.STATION, parent=district)
            shipment = await Shipment.create(district=district, tracking_number="BENCH", expected_count=attempts, counted_count=attempts, envelope_intact=True, cards_intact=True, status="accepted", received_by_staff_id=0)
            slot = await PickupSlot.create(station=station, day=date.today() + timedelta(days=3), start_time="09:00", end_time="10:00", capacity=capacity)
            users, cards = [], []
            for i in range(attempts):
                number = make_id_number("320723", date(1950, 1, 1) + timedelta(days=i), i, male=True)
                person = await Beneficiary.create(name=f"p{i}", id_number_encrypted=cipher().encrypt(number), id_number_hash=cipher().lookup_hash(number), id_number_masked=number[:6] + "*" * 8 + number[-4:], birth_date=date(1950, 1, 1), sex="male", category=Category.WAR_VETERAN, station=station)
                application = await CardApplication.create(beneficiary=person, station_id=station.id, card_kind=CardKind.VETERAN, batch=1, channel="online", status=ApplicationStatus.APPROVED, step_started_on=date.today())
                cards.append(await Card.create(application=application, shipment=shipment, beneficiary_id=person.id, station_id=station.id, status=CardStatus.AT_STATION))
                user = await MiniUser.create(openid=f"bench-{i}")
                await Binding.create(user=user, beneficiary=person, active_beneficiary_id=person.id)
                users.append(user)

            async def attempt(i: int) -> str:
                try:
                    await booking.book(settings=settings, user=users[i], card_id=cards[i].id, slot_id=slot.id, idempotency_key=f"b{i}")
                    return "granted"
                except SlotFull:
                    return "slot_full"
                except Conflict as exc:
                    return exc.code

            start = time.perf_counter()
            outcomes = await asyncio.gather(*(attempt(i) for i in range(attempts)))
            elapsed = time.perf_counter() - start
            fresh = await PickupSlot.get(id=slot.id)
            print(f"database: {'PostgreSQL' if url.startswith('postgres') else 'SQLite'}, pool 20 connections")
            print(f"{attempts} concurrent attempts on a {capacity}-seat slot: granted {outcomes.count('granted')}, slot_full {outcomes.count('slot_full')}, other {attempts - outcomes.count('granted') - outcomes.count('slot_full')}; slot.booked={fresh.booked}")
            print(f"elapsed {elapsed * 1000:.0f} ms -> {attempts / elapsed:.0f} attempts/s")
        finally:
            await db.close_orm()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=500)
    parser.add_argument("--capacity", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.attempts, args.capacity))
