"""Benchmark: a large registry import runs in the background while the health check keeps answering.

    python scripts/bench_import.py [--rows 1000000] [--format csv|xlsx] [--window 60]
        [--database postgres://postgres@127.0.0.1:5432/throwaway]

Boots the app on SQLite in a temporary directory (or on ``--database``, a throwaway PostgreSQL
database whose schema is dropped and recreated: there the import is COPY + set-based merge), uploads a roster of ``--rows`` people, then for
``--window`` seconds polls /healthz every 100 ms and the job's progress endpoint every second.
Prints the upload's answer time, health-check latency (p50/p95/max) while the import runs, and the
import rate. Also times the refusal of the sparse-XLSX bomb and the process's peak memory.
Client and server share one process (and the GIL): the latencies are an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.org import OrgKind, OrgUnit  # noqa: E402
from models.staff import Role  # noqa: E402
from server import db  # noqa: E402
from server.app import create_app  # noqa: E402
from server.config import Settings  # noqa: E402
from server.registry.id_numbers import make_id_number  # noqa: E402
from server.security.fields import configure_cipher  # noqa: E402
from tests.factories import PASSWORD, make_staff  # noqa: E402
from tests.security.test_upload_bombs import sparse_xlsx  # noqa: E402


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _people(rows: int, station: str) -> list[list[str]]:
    from datetime import date

    out = []
    for n in range(rows):
        birth = date.fromordinal(date(1940, 1, 1).toordinal() + n // 400)
        out.append([f"人员{n}", make_id_number("320723", birth, n % 400 * 2 + 1, male=True), "参战退役人员", station])
    return out


def roster(rows: int, station: str, fmt: str) -> bytes:
    header = ["姓名", "身份证号", "类别", "服务站"]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(_people(rows, station))
        return buffer.getvalue().encode()
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(header)
    for row in _people(rows, station):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(rows: int, fmt: str, window: float, database: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite://{tmp}/bench.sqlite3"
        if database:
            await db.reset_postgres_schema(database)
        settings = Settings(
            environment="development",
            var_dir=Path(tmp),
            media_dir=Path(tmp) / "media",
            log_json=True,
            run_background_jobs=False,
            database={"url": url},
            uploads={"max_request_bytes": 200 * 1024 * 1024, "max_import_bytes": 190 * 1024 * 1024},
            face={"enabled": False},
        )
        configure_cipher(settings.security.field_key.get_secret_value())
        await db.apply_migrations(settings.database.url)
        app = create_app(settings)
        import logging

        logging.getLogger("server.access").setLevel(logging.WARNING)
        server = await app.create_server(host="127.0.0.1", port=_port(), return_asyncio_server=True, access_log=False)
        assert server is not None
        await server.startup()
        await server.before_start()
        await server.after_start()
        base = f"http://127.0.0.1:{server.server.sockets[0].getsockname()[1]}"
        city = await OrgUnit.create(name="市", code="BCITY", kind=OrgKind.CITY)
        district = await OrgUnit.create(name="基准县", code="BD", kind=OrgKind.DISTRICT, parent=city)
        station = await OrgUnit.create(name="基准站", code="BS1", kind=OrgKind.STATION, parent=district)
        clerk = await make_staff(role=Role.BUREAU, unit=district, username="bench-bureau")

        started = time.perf_counter()
        data = await asyncio.to_thread(roster, rows, station.code, fmt)
        print(f"roster: {rows} rows as {fmt}, {len(data) / 1e6:.1f} MB (generated in {time.perf_counter() - started:.1f} s)")
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            token = (await client.post("/api/staff/login", json={"username": clerk.username, "password": PASSWORD})).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}

            bomb = sparse_xlsx(dimension="A1:XFD1048576", far_cell="XFD", far_row=1048576)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            t0 = time.perf_counter()
            refused = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("bomb.xlsx", bomb, "application/octet-stream")})
            print(f"sparse XLSX bomb ({len(bomb)} bytes, A1:XFD1048576): {refused.status_code} {refused.json()['error']['code']} in {(time.perf_counter() - t0) * 1000:.0f} ms, peak RSS +{(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024:.1f} MB")

            t0 = time.perf_counter()
            upload = await client.post("/api/beneficiaries/import", headers=headers, files={"file": (f"roster.{fmt}", data, "application/octet-stream")})
            print(f"upload answered {upload.status_code} in {time.perf_counter() - t0:.2f} s (status {upload.json().get('status')})")
            progress_url = upload.json()["progress_url"]
            latencies: list[float] = []
            begin = time.perf_counter()
            last_progress = 0.0
            progress = upload.json()
            while time.perf_counter() - begin < window:
                t0 = time.perf_counter()
                health = await client.get("/healthz")
                latencies.append((time.perf_counter() - t0) * 1000)
                assert health.status_code == 200
                if time.perf_counter() - last_progress > 1:
                    progress = (await client.get(progress_url, headers=headers)).json()
                    last_progress = time.perf_counter()
                    if progress["status"] in ("done", "failed"):
                        break
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - begin
            done = progress["processed_rows"]
            print(f"health checks during the import: {len(latencies)}, p50 {statistics.median(latencies):.1f} ms, p95 {_pct(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms")
            print(f"import after {elapsed:.0f} s: status {progress['status']}, {done} rows processed ({done / elapsed:.0f} rows/s), imported {progress['imported']}, rejected {progress['rejected']}")
            if progress["status"] not in ("done", "failed") and done:
                print(f"at this rate all {rows} rows take about {rows / (done / elapsed) / 60:.0f} min (the job continues; stopping the benchmark here)")
            print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        await server.before_stop()
        server.close()
        await server.wait_closed()
        for task in list(__import__("server.registry.jobs", fromlist=["_tasks"])._tasks):
            task.cancel()
        await server.after_stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--database", default=None, help="a throwaway PostgreSQL database (its schema is dropped)")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.format, args.window, args.database))
