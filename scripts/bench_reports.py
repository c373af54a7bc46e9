"""Benchmark: confirmation reports for a county of 5,000 people (a script that prints figures).

    python scripts/bench_reports.py                       # SQLite in a temporary directory
    VETS_DATABASE__URL=postgres://postgres@127.0.0.1:5432/bench python scripts/bench_reports.py

Seeds the demo county (10 stations, 5,000 beneficiaries), opens a campaign, confirms a realistic mix
(home visits, station, self-service), then times the progress report (JSON and XLSX), the home-visit
list and the campaign summary, with peak Python memory from tracemalloc.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.confirmation import Campaign, Confirmation, ConfirmationMethod, ConfirmationStatus  # noqa: E402
from models.org import OrgKind, OrgUnit  # noqa: E402
from models.staff import Role  # noqa: E402
from server import db  # noqa: E402
from server.actors import SYSTEM  # noqa: E402
from server.auth.scope import Scope  # noqa: E402
from server.confirmation import campaigns, reports  # noqa: E402
from server.security.fields import configure_cipher  # noqa: E402
from server.config import Settings  # noqa: E402
from server.seed import seed_demo_county  # noqa: E402


async def _timed(label: str, work, repeats: int = 5):  # type: ignore[no-untyped-def]
    times = []
    tracemalloc.start()
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = await work()
        times.append((time.perf_counter() - start) * 1000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<34} median {statistics.median(times):8.1f} ms   max {max(times):8.1f} ms   peak Python memory {peak / 1e6:6.1f} MB")
    return result


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("VETS_DATABASE__URL") or f"sqlite://{tmp}/bench.sqlite3"
        settings = Settings(database={"url": url})
        configure_cipher(settings.security.field_key.get_secret_value())
        if url.startswith("postgres"):
            await db.reset_postgres_schema(url)
        await db.apply_migrations(url)
        await db.init_orm(url)
        try:
            start = time.perf_counter()
            await seed_demo_county(stations=10, beneficiaries=5000, seed=5)
            district = await OrgUnit.get(code="D320723")
            scope = Scope(role=Role.BUREAU, org_unit_id=district.id, org_kind=OrgKind.DISTRICT)
            today = date.today()
            dates = campaigns.CampaignDates(today - timedelta(days=30), today - timedelta(days=40), today - timedelta(days=35), today - timedelta(days=30), today + timedelta(days=10), today + timedelta(days=11), today + timedelta(days=70), today + timedelta(days=20), today + timedelta(days=25))
            campaign = await campaigns.create_campaign(scope=scope, actor=SYSTEM, year=today.year, name=None, district_id=district.id, dates=dates, categories=None)
            await campaigns.open_campaign(scope=scope, actor=SYSTEM, campaign_id=campaign.id)
            rng = random.Random(3)
            now = datetime.now(UTC)
            rows = await Confirmation.filter(campaign_id=campaign.id).values("id", "age_bracket")
            methods = {"80_plus": [(ConfirmationMethod.HOME_VISIT, 0.9)], "70_79": [(ConfirmationMethod.HOME_VISIT, 0.6), (ConfirmationMethod.STATION, 0.2)], "under_70": [(ConfirmationMethod.HOME_VISIT, 0.4), (ConfirmationMethod.STATION, 0.2), (ConfirmationMethod.SELF_SERVICE, 0.2)]}
            for row in rows:
                roll, edge = rng.random(), 0.0
                for method, share in methods[str(getattr(row["age_bracket"], "value", row["age_bracket"]))]:
                    edge += share
                    if roll < edge:
                        await Confirmation.filter(id=row["id"]).update(status=ConfirmationStatus.CONFIRMED, method=method, confirmed_at=now, home_visited=method == ConfirmationMethod.HOME_VISIT)
                        break
            print(f"database: {'PostgreSQL' if url.startswith('postgres') else 'SQLite'}; set-up (seed 5,000 + campaign + confirmations) {time.perf_counter() - start:.1f} s")
            report = await _timed("progress report (JSON)", lambda: reports.progress(scope=scope, campaign_id=campaign.id))
            await _timed("progress report (JSON + XLSX)", lambda: _xlsx(scope, campaign))
            await _timed("home-visit list", lambda: reports.visits_needed(scope=scope, campaign_id=campaign.id))
            await _timed("campaign summary", lambda: reports.summary(scope=scope, campaign_id=campaign.id))
            print(f"rows: {len(report['rows'])} station×bracket cells, {report['totals']['people']} people, {report['totals']['confirmed']} confirmed")
        finally:
            await db.close_orm()


async def _xlsx(scope: Scope, campaign: Campaign) -> bytes:
    return reports.progress_xlsx(await reports.progress(scope=scope, campaign_id=campaign.id))


if __name__ == "__main__":
    asyncio.run(main())
