"""Benchmark: a large registry import runs in the background while the health check keeps answering.

    python scripts/bench_import.py [--rows 1000000] [--format csv|xlsx] [--window 60]
        [--database postgres://postgres@127.0.0.1:5432/throwaway] [--server-code /path/to/other/tree]

Boots the app in a child process on SQLite in a temporary directory (or on ``--database``, a throwaway
PostgreSQL database whose schema is dropped and recreated: there the import is COPY + set-based
merge), writes a roster of ``--rows`` people to a file and uploads it streamed from disk, then for
``--window`` seconds polls /healthz every 100 ms and the job's progress endpoint every second.
Prints the upload's answer time, health-check latency (p50/p95/max) while the import runs, the import
rate, and peak memory of the server process and of this client process separately (server: VmHWM
of the child). ``--server-code`` runs the server from another checkout (e.g. the tree before a
change) with this same client, for before/after figures. Also times the refusal of the sparse-XLSX bomb.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if "--serve" in sys.argv:
    # The child runs the server code it was given on PYTHONPATH (possibly another tree).
    sys.path.insert(0, os.environ.get("BENCH_SERVER_CODE", str(ROOT)))
else:
    sys.path.insert(0, str(ROOT))

from server.registry.id_numbers import make_id_number  # noqa: E402
from tests.security.test_upload_bombs import sparse_xlsx  # noqa: E402


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _person(n: int, station: str) -> list[str]:
    from datetime import date

    birth = date.fromordinal(date(1940, 1, 1).toordinal() + n // 400)
    return [f"人员{n}", make_id_number("320723", birth, n % 400 * 2 + 1, male=True), "参战退役人员", station]


def write_roster(path: Path, rows: int, station: str, fmt: str) -> None:
    """The roster written row by row to ``path`` (never a list of a million rows in memory)."""
    header = ["姓名", "身份证号", "类别", "服务站"]
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            for n in range(rows):
                writer.writerow(_person(n, station))
        return
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(header)
    for n in range(rows):
        sheet.append(_person(n, station))
    workbook.save(str(path))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _peak_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def serve(tmp: str, database: str | None) -> None:
    """Child process: the app on a free port, a county and a clerk; prints how to reach them, serves until killed."""
    import logging

    from models.org import OrgKind, OrgUnit
    from models.staff import Role
    from server import db
    from server.app import create_app
    from server.config import Settings, UploadSettings
    from server.security.fields import configure_cipher
    from tests.factories import PASSWORD, make_staff

    url = database or f"sqlite://{tmp}/bench.sqlite3"
    if database:
        await db.reset_postgres_schema(database)
    uploads = {"max_request_bytes": 200 * 1024 * 1024, "max_import_bytes": 190 * 1024 * 1024}
    if "max_registry_import_bytes" in UploadSettings.model_fields:
        uploads = {"max_registry_import_bytes": 190 * 1024 * 1024}  # streamed: the general limit stays as shipped
    settings = Settings(
        environment="development",
        var_dir=Path(tmp),
        media_dir=Path(tmp) / "media",
        log_json=True,
        run_background_jobs=False,
        database={"url": url},
        uploads=uploads,
        face={"enabled": False},
    )
    configure_cipher(settings.security.field_key.get_secret_value())
    await db.apply_migrations(settings.database.url)
    app = create_app(settings)
    logging.getLogger("server.access").setLevel(logging.WARNING)
    server = await app.create_server(host="127.0.0.1", port=_port(), return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    city = await OrgUnit.create(name="市", code="BCITY", kind=OrgKind.CITY)
    district = await OrgUnit.create(name="基准县", code="BD", kind=OrgKind.DISTRICT, parent=city)
    station = await OrgUnit.create(name="基准站", code="BS1", kind=OrgKind.STATION, parent=district)
    clerk = await make_staff(role=Role.BUREAU, unit=district, username="bench-bureau")
    base = f"http://127.0.0.1:{server.server.sockets[0].getsockname()[1]}"
    ready = Path(tmp) / "server.json"
    ready.with_suffix(".tmp").write_text(json.dumps({"base": base, "username": clerk.username, "password": PASSWORD, "station": station.code}))
    ready.with_suffix(".tmp").replace(ready)
    await asyncio.Event().wait()


async def main(rows: int, fmt: str, window: float, database: str | None = None, server_code: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BENCH_SERVER_CODE": server_code or str(ROOT), "PYTHONPATH": server_code or str(ROOT)}
        command = [sys.executable, __file__, "--serve", tmp] + (["--database", database] if database else [])
        with (Path(tmp) / "server.log").open("w") as log:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            ready = Path(tmp) / "server.json"
            while not ready.exists():
                if child.poll() is not None:
                    raise SystemExit("server did not start:\n" + (Path(tmp) / "server.log").read_text()[-4000:])
                await asyncio.sleep(0.2)
            await run_client(child.pid, json.loads(ready.read_text()), Path(tmp), rows, fmt, window)
        finally:
            child.terminate()
            child.wait(timeout=30)


async def run_client(pid: int, info: dict[str, str], tmp: Path, rows: int, fmt: str, window: float) -> None:
    started = time.perf_counter()
    path = tmp / f"roster.{fmt}"
    await asyncio.to_thread(write_roster, path, rows, info["station"], fmt)
    size = path.stat().st_size
    print(f"roster: {rows} rows as {fmt}, {size / 1e6:.1f} MB (written to disk in {time.perf_counter() - started:.1f} s)")
    print(f"server process at rest: RSS {_peak_mb(pid)[0]:.0f} MB")
    async with httpx.AsyncClient(base_url=info["base"], timeout=600) as client:
        token = (await client.post("/api/staff/login", json={"username": info["username"], "password": info["password"]})).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        bomb = sparse_xlsx(dimension="A1:XFD1048576", far_cell="XFD", far_row=1048576)
        t0 = time.perf_counter()
        refused = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("bomb.xlsx", bomb, "application/octet-stream")})
        print(f"sparse XLSX bomb ({len(bomb)} bytes, A1:XFD1048576): {refused.status_code} {refused.json()['error']['code']} in {(time.perf_counter() - t0) * 1000:.0f} ms, server peak RSS so far {_peak_mb(pid)[1]:.0f} MB")

        t0 = time.perf_counter()
        with path.open("rb") as roster:  # httpx streams a file object: the client does not hold the file either
            upload = await client.post("/api/beneficiaries/import", headers=headers, files={"file": (f"roster.{fmt}", roster, "application/octet-stream")})
        print(f"upload answered {upload.status_code} in {time.perf_counter() - t0:.2f} s (status {upload.json().get('status')}), server peak RSS so far {_peak_mb(pid)[1]:.0f} MB")
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
        current, peak = _peak_mb(pid)
        print(f"server process: peak RSS {peak:.0f} MB (now {current:.0f} MB); client process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        asyncio.run(serve(sys.argv[2], sys.argv[4] if len(sys.argv) > 4 else None))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--database", default=None, help="a throwaway PostgreSQL database (its schema is dropped)")
    parser.add_argument("--server-code", default=None, help="run the server from this checkout (before/after figures)")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.format, args.window, args.database, args.server_code))
