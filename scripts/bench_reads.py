"""Benchmark: the project's reads side by side with a bare Sanic endpoint (a script that prints figures).

    python scripts/bench_reads.py --people 5000,50000 [--seconds 10] [--connections 32]
        [--database postgres://postgres@127.0.0.1:5432/vets_scale_bench] [--redis redis://127.0.0.1:6379/7]

For each size it regenerates the throwaway database with scripts/gen_people.py, starts the project
(`python -m server --workers 4`, face checks off, in production mode with throwaway secrets: the
per-answer contract check is off there as when deployed) and the bare app (scripts/bench_bare_app.py, four
workers too), drives each endpoint with the same bounded load generator (scripts/loadgen.py, keep-
alive connections against 127.0.0.1) and prints requests/s, p50/p99 and the ratio to the bare
endpoint doing the same I/O (one Redis GET + one PostgreSQL lookup), and the CPU each request cost
the app's processes and their PostgreSQL backends (steadier than throughput on a shared host: the
bare endpoint's CPU per request over the endpoint's approximates the throughput ratio on a quiet
machine). Also: start-up time and the memory of each web worker. The machine's load average is
printed: on a shared host figures move.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import httpx  # noqa: E402
from gen_people import DEMO_PASSWORD, generate  # noqa: E402
from loadgen import LoadResult, get_request, run_load  # noqa: E402

KEY_PREFIX = "bench-reads:"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready after {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _worker_pids(base: str) -> set[int]:
    """The web workers, as they name themselves on /healthz."""
    pids: set[int] = set()
    with httpx.Client(base_url=base, timeout=5) as http:
        for _ in range(40):
            pids.add(int(http.get("/healthz", headers={"Connection": "close"}).headers["x-worker"]))
    return pids


def _memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process: forked workers share pages, so PSS is their fair share."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        values[name] = int(rest.split()[0]) / 1024
    return values.get("Rss", 0.0), values.get("Pss", 0.0)


def start_bare(port: int, database: str, redis: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BENCH_DATABASE_URL": database, "BENCH_REDIS_URL": redis, "PYTHONPATH": str(ROOT / "scripts")}
    return subprocess.Popen([sys.executable, "-m", "sanic", "bench_bare_app:create_app", "--factory", "--workers", "4", "--host", "127.0.0.1", "--port", str(port), "--no-motd"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def production_secrets() -> dict[str, str]:
    """Throwaway secrets for a production-mode server (it refuses the development defaults). The field
    key is shared with the generator (gen_people reads VETS_SECURITY__FIELD_KEY) so detail pages decrypt."""
    from server.notifications.templates import default_registry

    token = secrets.token_urlsafe
    return {
        "VETS_SECURITY__SESSION_KEY": token(32),
        "VETS_SECURITY__QR_SIGNING_KEY": token(32),
        "VETS_SECURITY__FIELD_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "VETS_AUDIT__KEY": token(32),
        "VETS_WECHAT__APP_SECRET": token(16),
        "VETS_WECHAT__PUSH_TOKEN": secrets.token_hex(16),
        "VETS_WECHAT__PUSH_AES_KEY": secrets.token_urlsafe(40)[:43],
        "VETS_WECHAT__TEMPLATE_IDS": json.dumps({key: f"BENCH-{key}" for key in default_registry().keys()}),
    }


def start_project(port: int, database: str, redis: str, var_dir: str, secrets_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VETS_")}
    env.update(secrets_env)
    env.update(
        PYTHONPATH=str(ROOT),
        # As deployed: production skips the per-answer contract check that tests and development run.
        VETS_ENVIRONMENT="production",
        VETS_DATABASE__URL=database,
        VETS_REDIS__URL=redis,
        VETS_REDIS__KEY_PREFIX=KEY_PREFIX,
        VETS_FACE__ENABLED="false",
        VETS_RUN_BACKGROUND_JOBS="false",
        VETS_VAR_DIR=var_dir,
        VETS_MEDIA_DIR=f"{var_dir}/media",
        VETS_ADMIN_PASSWORD="bench-admin-password",
        VETS_WORKER_START_TIMEOUT_SECONDS="300",
    )
    return subprocess.Popen([sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "4"], cwd=var_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _mini_sessions(redis: str, users: list[dict[str, Any]]) -> list[tuple[str, int]]:
    from server.kv import RedisStore
    from server.miniapp.sessions import create_session

    store = RedisStore(redis, prefix=KEY_PREFIX)
    try:
        return [((await create_session(store, user_id=u["user_id"], ttl=3600))[0], u["card_id"]) for u in users]
    finally:
        await store.close()


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.update(children)
        frontier += children
    return found


def _backends(database: str) -> set[int]:
    """PostgreSQL backends connected to the benchmark's database (other databases on the host are not ours)."""
    name = database.rsplit("/", 1)[-1].split("?")[0]
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {name} " in title:
                pids.add(int(entry.name))
    return pids


def _cpu_seconds(pids: set[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / tick


async def _measure(port: int, requests: list[bytes], connections: int, seconds: float, servers: tuple[int, str]) -> tuple[LoadResult, float]:
    """The load result and the CPU milliseconds per request spent by the app's processes and its
    PostgreSQL backends (Redis is shared with the host and not counted): on a loaded host throughput
    moves with the neighbours, CPU per request much less."""
    await run_load(port, lambda i: requests[i % len(requests)], connections=connections, seconds=min(2.0, seconds))  # warm-up
    pids = _descendants(servers[0]) | _backends(servers[1])
    before = _cpu_seconds(pids)
    result = await run_load(port, lambda i: requests[i % len(requests)], connections=connections, seconds=seconds)
    used = _cpu_seconds(pids) - before
    return result, (used * 1000 / result.requests if result.requests else float("nan"))


def bench_size(people: int, args: argparse.Namespace, bare_port: int, bare_pid: int) -> None:
    secrets_env = production_secrets()
    os.environ["VETS_SECURITY__FIELD_KEY"] = secrets_env["VETS_SECURITY__FIELD_KEY"]
    info = asyncio.run(generate(url=args.database, people=people, mini_users=200, reset=True))
    print(f"\n== {people:,} people (generated in {info['seconds_total']} s) ==", flush=True)
    low, high = info["beneficiary_id_range"]
    rng = random.Random(1)
    ids = [rng.randint(low, high) for _ in range(500)]
    with tempfile.TemporaryDirectory() as var_dir:
        port = _free_port()
        proc = start_project(port, args.database, args.redis, var_dir, secrets_env)
        try:
            ready = _wait(f"http://127.0.0.1:{port}/readyz", proc)
            memory = [_memory_mb(pid) for pid in sorted(_worker_pids(f"http://127.0.0.1:{port}"))]
            print(f"project ready in {ready:.1f} s; web workers RSS {', '.join(f'{r:.0f}' for r, _ in memory)} MB, PSS {', '.join(f'{p:.0f}' for _, p in memory)} MB", flush=True)
            token = httpx.post(f"http://127.0.0.1:{port}/api/staff/login", json={"username": "bureau1", "password": DEMO_PASSWORD}).json()["token"]
            staff = {"Authorization": f"Bearer {token}"}
            sessions = asyncio.run(_mini_sessions(args.redis, info["mini_users"]))
            scenarios: list[tuple[str, int, list[bytes]]] = [
                ("bare: constant JSON", bare_port, [get_request("/bare")]),
                ("bare: 1 Redis GET + 1 PG lookup", bare_port, [get_request(f"/bare-io?id={i}") for i in ids]),
                ("project: /healthz", port, [get_request("/healthz")]),
                ("staff: beneficiary detail", port, [get_request(f"/api/beneficiaries/{i}", staff) for i in ids]),
                ("bureau: beneficiary list p1-20", port, [get_request(f"/api/beneficiaries/?page={p}", staff) for p in range(1, 21)]),
                ("mini-program: slot list", port, [get_request(f"/api/mp/cards/slots?card_id={card}", {"Authorization": f"Bearer {t}"}) for t, card in sessions]),
            ]
            baseline = baseline_cpu = None
            for name, target, requests in scenarios:
                result, cpu = asyncio.run(_measure(target, requests, args.connections, args.seconds, (bare_pid if target == bare_port else proc.pid, args.database)))
                if name.startswith("bare: 1 Redis"):
                    baseline, baseline_cpu = result.rate, cpu
                ratio = f"{result.rate / baseline * 100:5.1f}% of bare I/O" if baseline and target == port else ""
                cpu_ratio = f"  (bare I/O CPU/request = {baseline_cpu / cpu * 100:.0f}% of this)" if baseline_cpu and target == port else ""
                print(f"{name:34s} {result.summary()}  {ratio}  cpu {cpu:.2f} ms/req{cpu_ratio}", flush=True)
        finally:
            _stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", default="5000,50000", help="comma-separated sizes")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vets_scale_bench"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.connections} connections x {args.seconds:.0f} s per endpoint; 4 workers each", flush=True)
    bare_port = _free_port()
    bare = start_bare(bare_port, args.database, args.redis)
    try:
        _wait(f"http://127.0.0.1:{bare_port}/bare", bare)
        for people in (int(p) for p in args.people.split(",")):
            bench_size(people, args, bare_port, bare.pid)
    finally:
        _stop(bare)


if __name__ == "__main__":
    main()
