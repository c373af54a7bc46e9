"""Fault drill: a booking storm while a worker is killed, Redis restarts and PostgreSQL stops.

Runs against its own throwaway PostgreSQL (initdb in a temporary directory, its own port) and its
own Redis, never the shared servers. 500 mini-program users with retrying clients (same
Idempotency-Key, as the mini-program does) book one 20-seat slot; meanwhile one worker is killed
with SIGKILL, Redis is restarted (append-only file: sessions survive) and PostgreSQL is stopped
for a few seconds. Every answer must be 2xx, 409 or 503 — never a 500 — the slot holds exactly
20 bookings for 20 different cards, and the service is back with four workers by itself.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from server.kv import RedisStore
from tests.server_env import secret_env

# One set of secrets for every process of the drill (the migration, the server, the seeding).
_SECRETS = secret_env()
from server.miniapp.sessions import create_session
from tests.server_process import free_port, start_server

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
REDIS_SERVER = shutil.which("redis-server")
USERS, SEATS = 500, 20
KEY_PREFIX = "drill:"

pytestmark = pytest.mark.skipif(
    not (os.environ.get("VETS_TEST_DATABASE_URL") and os.environ.get("VETS_TEST_REDIS_URL") and PG_BIN and REDIS_SERVER),
    reason="the real-services run only, with PostgreSQL binaries and redis-server installed",
)


class ThrowawayPostgres:
    """initdb + pg_ctl in a temporary directory; run as the postgres user when we are root."""

    def __init__(self, root: Path) -> None:
        self.bin = Path(PG_BIN[-1])
        self.data = root / "pg"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/drill"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data} -c fsync=off -c max_connections=100"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-t", "60", "-l", str(self.data / "log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


class ThrowawayRedis:
    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # Append-only, fsync on every write: what compose runs (everysec there) so sessions survive.
        self.proc = subprocess.Popen([REDIS_SERVER or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always", "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture
def services() -> Iterator[tuple[ThrowawayPostgres, ThrowawayRedis]]:
    root = Path(tempfile.mkdtemp(prefix="vets-drill-"))
    postgres, redis = ThrowawayPostgres(root), ThrowawayRedis(root)
    try:
        postgres.init()
        postgres.start()
        subprocess.run([*postgres._as, str(postgres.bin / "createdb"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", "drill"], check=True, timeout=60)
        redis.start()
        yield postgres, redis
    finally:
        redis.stop()
        try:
            postgres.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(root, ignore_errors=True)


def _env(postgres: ThrowawayPostgres, redis: ThrowawayRedis, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VETS_")}
    env.update(
        PYTHONPATH=f"{PROJECT_ROOT}{os.pathsep}{PROJECT_ROOT / 'scripts'}",
        VETS_ENVIRONMENT="test",
        VETS_DATABASE__URL=postgres.url,
        VETS_REDIS__URL=redis.url,
        VETS_REDIS__KEY_PREFIX=KEY_PREFIX,
        VETS_FACE__ENABLED="false",
        VETS_RUN_BACKGROUND_JOBS="false",
        VETS_VAR_DIR=str(var_dir),
        VETS_MEDIA_DIR=str(var_dir / "media"),
        VETS_ADMIN_PASSWORD="drill-admin-password",
        VETS_LOG_JSON="false",
        VETS_WECHAT__TEMPLATE_IDS='{"booking_confirmed": "TPL-booking_confirmed"}',
        **_SECRETS,
    )
    return env


async def _healthy_workers(base: str, tries: int = 40) -> set[int]:
    """Worker pids answering /healthz, one new connection per request (keep-alive sticks to one)."""
    async with httpx.AsyncClient(base_url=base, timeout=3, headers={"Connection": "close"}) as http:
        seen: set[int] = set()
        for _ in range(tries):
            try:
                seen.add(int((await http.get("/healthz")).headers["x-worker"]))
            except httpx.HTTPError:
                pass
        return seen


async def test_storm_survives_a_killed_worker_a_redis_restart_and_a_database_stop(services: tuple[ThrowawayPostgres, ThrowawayRedis], tmp_path: Path) -> None:
    postgres, redis = services
    env = _env(postgres, redis, tmp_path)
    subprocess.run([sys.executable, "-m", "server", "migrate"], cwd=tmp_path, env=env, check=True, timeout=180, stdout=subprocess.DEVNULL)
    seeded = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "gen_people.py"), "--people", str(USERS), "--mini-users", str(USERS), "--stations", "1", "--json-users"], cwd=tmp_path, env=env, check=True, timeout=180, capture_output=True, text=True)
    users = json.loads(seeded.stdout.strip().splitlines()[-1])["mini_users"]
    db = await asyncpg.connect(postgres.url.replace("postgres://", "postgresql://"))
    try:
        slot_id = await db.fetchval("SELECT id FROM pickup_slot WHERE day >= current_date + 3 ORDER BY day, start_time LIMIT 1")
    finally:
        await db.close()
    store = RedisStore(redis.url, prefix=KEY_PREFIX)
    clients = [((await create_session(store, user_id=u["user_id"], ttl=3600))[0], u["card_id"]) for u in users]
    await store.close()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Its own session: Sanic's manager kills its process group if start-up fails.
    log_path = tmp_path / "server.log"
    server = start_server(cwd=tmp_path, env=env, port=port, workers=4, log_file=log_path)
    answers: Counter[int] = Counter()
    dropped = 0
    storm_seconds = 0.0
    deadline = time.monotonic() + 300
    final: list[tuple[int, str]] = []
    try:
        start_by = time.monotonic() + 120
        while len(await _healthy_workers(base)) < 4:
            assert server.poll() is None and time.monotonic() < start_by, "server did not start"
            await asyncio.sleep(0.3)

        limits = httpx.Limits(max_connections=USERS, max_keepalive_connections=USERS)
        async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, connect=60), limits=limits) as http:
            gate = asyncio.Event()

            async def client(token: str, card_id: int) -> None:
                nonlocal dropped
                await gate.wait()
                await asyncio.sleep(random.random() * 6)  # arrivals spread over the faults
                while time.monotonic() < deadline:
                    try:
                        response = await http.post("/api/mp/cards/bookings", headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"drill-{card_id}"}, json={"card_id": card_id, "slot_id": slot_id})
                    except httpx.TransportError:
                        dropped += 1  # the worker holding the connection was killed: retry, as the phone does
                        await asyncio.sleep(0.2)
                        continue
                    answers[response.status_code] += 1
                    if response.status_code == 503:
                        await asyncio.sleep(0.3 + random.random() * 0.5)
                        continue
                    final.append((response.status_code, response.json().get("error", {}).get("code", "")))
                    return

            async def faults() -> None:
                await gate.wait()
                await asyncio.sleep(1.0)
                victim = next(iter(await _healthy_workers(base, tries=1)))
                os.kill(victim, signal.SIGKILL)
                await asyncio.sleep(1.5)
                await asyncio.to_thread(redis.stop)
                await asyncio.to_thread(redis.start)
                await asyncio.sleep(1.5)
                await asyncio.to_thread(postgres.stop)
                await asyncio.sleep(3)
                await asyncio.to_thread(postgres.start)

            tasks = [asyncio.create_task(client(token, card_id)) for token, card_id in clients]
            fault_task = asyncio.create_task(faults())
            storm_started = time.monotonic()
            deadline = storm_started + 150
            gate.set()
            await asyncio.gather(*tasks, fault_task)

        storm_seconds = time.monotonic() - storm_started
        # "Back by itself": ready, with four workers, within a minute of the last fault.
        ready, workers_after = 0, set()
        back_by = time.monotonic() + 60
        while time.monotonic() < back_by and (ready != 200 or len(workers_after) < 4):
            workers_after = await _healthy_workers(base)
            async with httpx.AsyncClient(base_url=base, timeout=5, headers={"Connection": "close"}) as http:
                try:
                    ready = (await http.get("/readyz")).status_code
                except httpx.HTTPError:
                    ready = 0
            await asyncio.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        output = "\n".join(line for line in log_path.read_text().splitlines() if "server.access" not in line)
        shutil.copy(log_path, Path(tempfile.gettempdir()) / "vets-fault-drill-server.log")  # kept for a look after a failure

    diagnosis = f"answers {dict(answers)}, final {len(final)}, dropped {dropped}, storm {storm_seconds:.0f} s, ready {ready}, workers {workers_after}; log tail: {output[-3000:]}"
    assert answers[500] == 0 and not [s for s in answers if s >= 500 and s != 503], diagnosis
    # A transaction left in a keep-alive connection's task answered every later request on it with
    # this (server/db_engines): 37 times in one drill before the fix, one phone 503 to the end.
    assert "released back to the pool" not in output, diagnosis
    assert len(final) == USERS, diagnosis
    assert {status for status, _ in final} <= {200, 201, 409}, Counter(final)
    assert {code for status, code in final if status == 409} <= {"slot_full"}
    db = await asyncpg.connect(postgres.url.replace("postgres://", "postgresql://"))
    try:
        cards = [r["card_id"] for r in await db.fetch("SELECT card_id FROM booking WHERE slot_id = $1 AND status = 'active'", slot_id)]
        booked = await db.fetchval("SELECT booked FROM pickup_slot WHERE id = $1", slot_id)
    finally:
        await db.close()
    assert len(cards) == len(set(cards)) == SEATS and booked == SEATS
    assert ready == 200 and len(workers_after) == 4, diagnosis
    print(f"\ndrill: answers {dict(answers)}, dropped connections retried {dropped}, final {dict(Counter(s for s, _ in final))}, storm {storm_seconds:.0f} s")
