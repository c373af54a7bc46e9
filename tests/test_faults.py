"""Dependencies failing under the app: a waiting Redis pool, and 503s that name what is down."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import httpx
import pytest
from sanic import Sanic
from tortoise import connections

from models.staff import Role
from server import db
from server.kv import RedisStore, StoreUnavailable
from tests.factories import login, make_county, make_staff

REDIS_URL = os.environ.get("VETS_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs VETS_TEST_REDIS_URL")
needs_postgres = pytest.mark.skipif(not os.environ.get("VETS_TEST_DATABASE_URL"), reason="needs VETS_TEST_DATABASE_URL")


def _dead_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs_redis
async def test_redis_pool_waits_for_a_free_connection_instead_of_failing() -> None:
    # Two connections for 300 concurrent commands: the old pool raised MaxConnectionsError here.
    store = RedisStore(REDIS_URL or "", prefix=f"pooltest-{uuid.uuid4().hex[:8]}:", max_connections=2, pool_timeout=10)
    try:
        values = await asyncio.gather(*(store.incr("counter", ttl=60) for _ in range(300)))
        assert sorted(values) == list(range(1, 301))
        assert await store.get("counter") == "300"
    finally:
        await store.flush_prefix()
        await store.close()


@needs_redis
async def test_redis_pool_gives_up_after_its_timeout_with_store_unavailable() -> None:
    store = RedisStore(REDIS_URL or "", prefix=f"pooltest-{uuid.uuid4().hex[:8]}:", max_connections=1, pool_timeout=0.2)
    pool = store._client.connection_pool
    held = await pool.get_connection()  # the only connection, held by "another request"
    try:
        with pytest.raises(StoreUnavailable):
            await store.get("anything")
    finally:
        await pool.release(held)
    assert await store.get("anything") is None  # free again: served at once
    await store.close()


async def test_unreachable_redis_raises_store_unavailable() -> None:
    store = RedisStore(f"redis://127.0.0.1:{_dead_port()}/0", connect_timeout=0.5, pool_timeout=0.5)
    try:
        with pytest.raises(StoreUnavailable):
            await store.set("k", "v")
        with pytest.raises(StoreUnavailable):
            await store.ping()
    finally:
        await store.close()


async def test_store_down_answers_503_store_unavailable_and_recovers(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    staff = await make_staff(role=Role.STATION, unit=county.station_a)
    headers = await login(client, staff)
    real = app.ctx.kv
    app.ctx.kv = RedisStore(f"redis://127.0.0.1:{_dead_port()}/0", connect_timeout=0.5, pool_timeout=0.5)
    try:
        me = await client.get("/api/staff/me", headers=headers)
        ready = await client.get("/readyz")
    finally:
        await app.ctx.kv.close()
        app.ctx.kv = real
    assert me.status_code == 503
    assert me.json()["error"]["code"] == "store_unavailable"
    assert me.headers["retry-after"]
    assert ready.status_code == 503
    # The session was never lost: with the store back the same token works.
    again = await client.get("/api/staff/me", headers=headers)
    assert again.status_code == 200


async def test_driver_connection_failures_count_as_outages_and_bugs_do_not() -> None:
    import asyncpg
    from tortoise.exceptions import IntegrityError

    with pytest.raises(OSError) as refused:
        await asyncpg.connect(host="127.0.0.1", port=_dead_port(), user="nobody", timeout=2)
    assert db.is_database_outage(refused.value)
    assert db.is_database_outage(asyncpg.exceptions.ConnectionDoesNotExistError("gone"))
    wrapped = RuntimeError("while serving")
    wrapped.__cause__ = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    assert db.is_database_outage(wrapped)
    assert db.is_database_outage(asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"))
    # A missing media file or a constraint violation is a bug or a conflict, never "database down".
    assert not db.is_database_outage(FileNotFoundError("var/media/x.jpg"))
    assert not db.is_database_outage(ConnectionRefusedError("raised outside the database driver"))
    assert not db.is_database_outage(IntegrityError("duplicate key"))


@needs_postgres
async def test_database_down_answers_503_database_unavailable_and_recovers(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    staff = await make_staff(role=Role.STATION, unit=county.station_a)
    conn = connections.get("default")
    real_port = conn.port
    # The pool is dropped and the next connection goes to a port nothing listens on: exactly
    # what a worker sees while PostgreSQL is stopped.
    await conn.close()
    conn.port = _dead_port()
    try:
        response = await client.post("/api/staff/login", json={"username": staff.username, "password": "whatever-it-is"})
        ready = await client.get("/readyz")
    finally:
        await conn.close()
        conn.port = real_port
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    assert ready.status_code == 503
    assert ready.json()["error"]["details"]["failed"] == ["database"]
    headers = await login(client, staff)  # back by itself once the database answers
    assert (await client.get("/api/staff/me", headers=headers)).status_code == 200
