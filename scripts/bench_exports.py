"""Benchmark: a long XLSX export in memory (before) and streamed page by page (after).

    python scripts/bench_exports.py --database postgres://postgres@127.0.0.1:5432/throwaway [--rows 100000 1000000]

The export is the console's phoning list (待电话通知名单, /console/unsent.xlsx): for each row count the
throwaway database (schema dropped and recreated) gets a county and that many undelivered messages,
then each variant runs in a fresh child process so that its peak RSS is its own:

- ``before``: every row collected in a list, the workbook built in memory (``xlsx.table``, as the
  route did, though it stopped at 500 rows: one query for every row fails past 32,767 people on
  PostgreSQL, so the rows are read by the same pages), saved to bytes;
- ``after``: rows read by keyset pages of 1,000 and written with openpyxl's write-only mode to a
  temporary file (``xlsx.write_stream``, what the route does now).

Prints, per variant: time, rows written, file size, the child's RSS before the export (the server
code imported, database connected) and its peak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.org import OrgKind, OrgUnit  # noqa: E402
from models.staff import Role  # noqa: E402
from server import db, labels, xlsx  # noqa: E402
from server.auth.scope import Scope  # noqa: E402
from server.console import work  # noqa: E402
from server.security.fields import configure_cipher  # noqa: E402

KEY = "QmVuY2htYXJrIGZpZWxkIGtleSBmb3IgZXhwb3J0cyEhISE="  # 32 bytes: a throwaway database only
HEADERS = [("姓名", 10), ("电话", 15), ("服务站", 24), ("事项", 18), ("要告知的内容", 60), ("未送达原因", 30), ("时间", 18)]
CONTEXT = '{"application_id": 1, "holder_name": "张三", "pickup_office": "伊山镇退役军人服务站", "pickup_deadline": "2026-12-10"}'


def _line(r: Any) -> list[Any]:
    return [r.name, r.phone, r.station, r.title, r.text, labels.label(labels.NOTIFICATION_STATUS, r.status) + (f"：{r.reason}" if r.reason else ""), labels.china_time(r.created_at)]


async def populate(database: str, rows: int) -> None:
    from tests.factories import make_beneficiary, make_county

    await db.reset_postgres_schema(database)
    await db.apply_migrations(database)
    await db.init_orm(database)
    try:
        county = await make_county("B")
        person = await make_beneficiary(station=county.station_a, name="王秀英", phone="13912345678")
        from tortoise import connections

        conn = connections.get("default")
        await conn.execute_query(
            "INSERT INTO notification (beneficiary_id, station_id, template_key, context, dedupe_key, status, attempts, next_attempt_at, last_error, created_at, updated_at) "
            "SELECT $1, $2, 'card_ready_for_pickup', $3::jsonb, 'bench-' || n, 'failed', 1, now(), '第' || n || '条：用户拒收', now(), now() FROM generate_series(1, $4) AS n",
            [person.id, county.station_a.id, CONTEXT, rows],
        )
        # As autovacuum would soon: without statistics the planner sorts every matching row for each page.
        await conn.execute_script("ANALYZE notification")
    finally:
        await db.close_orm()


async def run(database: str, mode: str) -> dict[str, Any]:
    await db.init_orm(database)
    try:
        at_rest = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        district = await OrgUnit.get(code="BD1")
        scope = Scope(role=Role.BUREAU, org_unit_id=district.id, org_kind=OrgKind.DISTRICT)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "export.xlsx"
            if mode == "before":
                found = [_line(r) async for page in work.unsent_pages(scope=scope, include_handled=False) for r in page]
                target.write_bytes(xlsx.table(title="待电话通知", headers=HEADERS, rows=found))
                count = len(found)
            else:
                async def pages() -> Any:
                    async for page in work.unsent_pages(scope=scope, include_handled=False):
                        yield [_line(r) for r in page]

                count = await xlsx.write_stream(target, xlsx.StreamSheet(title="待电话通知", headers=[h for h, _ in HEADERS], widths=[w for _, w in HEADERS], rows=pages()))
            size = target.stat().st_size
        return {"mode": mode, "rows": count, "seconds": time.perf_counter() - started, "mb": size / 1e6, "rest_rss_mb": at_rest, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    finally:
        await db.close_orm()


def main(database: str, counts: list[int], modes: list[str], keep: bool = False) -> None:
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    for rows in counts:
        started = time.perf_counter()
        if not keep:
            asyncio.run(populate(database, rows))
            print(f"{rows} undelivered messages in the database ({time.perf_counter() - started:.0f} s)")
        for mode in modes:
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--database", database], capture_output=True, text=True)
            if out.returncode:
                print(f"  {mode}: failed (exit {out.returncode}) {out.stderr.strip().splitlines()[-1:] }")
                continue
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {mode:6} {result['rows']:>8} rows  {result['seconds']:6.1f} s  {result['rows'] / result['seconds']:7.0f} rows/s  file {result['mb']:6.1f} MB  RSS {result['rest_rss_mb']:4.0f} MB before, peak {result['peak_rss_mb']:6.0f} MB")
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="a throwaway PostgreSQL database (its schema is dropped)")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", action="store_true", help="reuse the rows already in the database (one --rows value)")
    parser.add_argument("--modes", nargs="+", default=["before", "after"], choices=["before", "after"])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_cipher(KEY)
    if args.child:
        print(json.dumps(asyncio.run(run(args.database, args.child))))
    else:
        main(args.database, args.rows, args.modes, args.keep)
