"""Generate a county of N beneficiaries for benchmarks, from the project's own demo seed.

    VETS_DATABASE__URL=postgres://postgres@127.0.0.1:5432/vets_scale_bench \\
        python scripts/gen_people.py --people 50000 [--mini-users 500] [--reset]

People come from ``server.seed.seed_demo_county`` (realistic names, categories, ages, stations,
villages, encrypted ID numbers, payment-status history). On top, a share of them get what the
mini-program reads need: a WeChat user bound to them, a proxy grant, a card at their station and
pickup slots. Prints the time taken and the ids a benchmark can use (JSON on the last line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.cards import ApplicationStatus, Card, CardApplication, CardKind, CardStatus, PickupSlot, Shipment  # noqa: E402
from models.org import OrgKind, OrgUnit  # noqa: E402
from models.registry import Beneficiary  # noqa: E402
from models.wechat import Binding, MiniUser, ProxyGrant, ProxyStatus  # noqa: E402
from server import db  # noqa: E402
from server.config import Settings  # noqa: E402
from server.security.fields import configure_cipher  # noqa: E402
from server.seed import TOWNS, seed_demo_county  # noqa: E402

DEMO_PASSWORD = "demo-password-2026"


async def add_mini_program_users(*, count: int, seed: int = 11) -> dict[str, Any]:
    """Bound users with a ready card each, a proxy for every tenth, and a week of slots per station."""
    rng = random.Random(seed)
    district = await OrgUnit.get(code="D320723")
    stations = await OrgUnit.filter(kind=OrgKind.STATION, parent_id=district.id).values_list("id", flat=True)
    total = await Beneficiary.all().count()
    people = await Beneficiary.filter(id__in=rng.sample(range(1, total + 1), min(count, total))).values("id", "station_id")
    users = [MiniUser(openid=f"bench-{p['id']}") for p in people]
    await MiniUser.bulk_create(users, batch_size=1000)
    user_ids = dict(await MiniUser.filter(openid__startswith="bench-").values_list("openid", "id"))
    await Binding.bulk_create([Binding(user_id=user_ids[f"bench-{p['id']}"], beneficiary_id=p["id"], active_beneficiary_id=p["id"]) for p in people], batch_size=1000)
    proxies = [MiniUser(openid=f"bench-proxy-{p['id']}") for p in people[::10]]
    await MiniUser.bulk_create(proxies, batch_size=1000)
    proxy_ids = dict(await MiniUser.filter(openid__startswith="bench-proxy-").values_list("openid", "id"))
    await ProxyGrant.bulk_create([ProxyGrant(proxy_user_id=proxy_ids[f"bench-proxy-{p['id']}"], beneficiary_id=p["id"], proxy_name="家属", relation="子女", scopes=["collect", "confirm"], status=ProxyStatus.ACTIVE) for p in people[::10]], batch_size=1000)
    shipment = await Shipment.create(district=district, tracking_number=f"BENCH-{seed}", expected_count=len(people), counted_count=len(people), envelope_intact=True, cards_intact=True, status="accepted", received_by_staff_id=0)
    today = date.today()
    await CardApplication.bulk_create([CardApplication(beneficiary_id=p["id"], station_id=p["station_id"], card_kind=CardKind.VETERAN, batch=1, channel="online", status=ApplicationStatus.APPROVED, step_started_on=today) for p in people], batch_size=1000)
    applications = dict(await CardApplication.filter(beneficiary_id__in=[p["id"] for p in people]).values_list("beneficiary_id", "id"))
    await Card.bulk_create([Card(application_id=applications[p["id"]], shipment=shipment, beneficiary_id=p["id"], station_id=p["station_id"], status=CardStatus.AT_STATION) for p in people], batch_size=1000)
    cards = dict(await Card.filter(beneficiary_id__in=[p["id"] for p in people]).values_list("beneficiary_id", "id"))
    slots = [PickupSlot(station_id=s, day=today + timedelta(days=d), start_time=f"{h:02d}:00", end_time=f"{h + 1:02d}:00", capacity=20) for s in stations for d in range(1, 8) for h in (9, 10, 14, 15)]
    await PickupSlot.bulk_create(slots, batch_size=1000)
    return {"mini_users": [{"user_id": user_ids[f"bench-{p['id']}"], "beneficiary_id": p["id"], "card_id": cards[p["id"]]} for p in people]}


async def generate(*, url: str, people: int, mini_users: int, reset: bool, seed: int = 7, stations: int = len(TOWNS)) -> dict[str, Any]:
    settings = Settings(database={"url": url})
    configure_cipher(settings.security.field_key.get_secret_value())
    if reset and url.startswith("postgres"):
        await db.reset_postgres_schema(url)
    await db.apply_migrations(url)
    await db.init_orm(url, pool_max_size=4)
    try:
        started = time.perf_counter()
        summary = await seed_demo_county(stations=stations, beneficiaries=people, seed=seed, password=DEMO_PASSWORD)
        seeded = time.perf_counter() - started
        extra = await add_mini_program_users(count=mini_users) if mini_users else {"mini_users": []}
        if db.is_postgres():
            from tortoise import connections

            # As autovacuum leaves a table soon after a bulk load: statistics and the visibility map
            # (index-only scans skip the table for pages marked all-visible).
            await connections.get("default").execute_script("VACUUM ANALYZE")
        ids = await Beneficiary.all().order_by("id").values_list("id", flat=True)
        return {
            "people": people,
            "seconds_people": round(seeded, 1),
            "seconds_total": round(time.perf_counter() - started, 1),
            "district_id": summary.get("district_id"),
            "station_ids": [s["id"] for s in summary.get("stations", [])],
            "beneficiary_id_range": [ids[0], ids[-1]] if ids else None,
            "staff_password": DEMO_PASSWORD,
            **extra,
        }
    finally:
        await db.close_orm()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--mini-users", type=int, default=500)
    parser.add_argument("--stations", type=int, default=len(TOWNS), help=f"1-{len(TOWNS)}")
    parser.add_argument("--json-users", action="store_true", help="print the mini-program users (user, beneficiary, card ids) in the JSON")
    parser.add_argument("--reset", action="store_true", help="drop and recreate the schema first (PostgreSQL; a throwaway database only)")
    args = parser.parse_args()
    url = os.environ.get("VETS_DATABASE__URL")
    if not url:
        sys.exit("set VETS_DATABASE__URL to a throwaway database")
    result = asyncio.run(generate(url=url, people=args.people, mini_users=args.mini_users, reset=args.reset, stations=args.stations))
    print(f"{result['people']} people in {result['seconds_people']} s ({result['people'] / max(result['seconds_people'], 0.001):.0f}/s); with {len(result['mini_users'])} mini-program users {result['seconds_total']} s", file=sys.stderr)
    print(json.dumps(result if args.json_users else {k: v for k, v in result.items() if k != "mini_users"} | {"mini_users": len(result["mini_users"])}))


if __name__ == "__main__":
    main()
