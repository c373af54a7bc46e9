"""Transactions give back their connection and leave no trace in the task, whatever fails.

tortoise's own transaction context kept the transaction in the task's context when BEGIN or the
release failed; Sanic serves a keep-alive connection's requests in one task, so in the fault drill
one phone's every later request failed ("connection has been released back to the pool").
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from sanic import Sanic
from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.exceptions import DBConnectionError
from tortoise.transactions import in_transaction

from models.org import OrgUnit
from models.staff import Role
from server import db
from server.db_engines.postgres_asyncpg import GuardedAsyncpgClient
from server.db_engines.sqlite import GuardedSqliteClient
from tests.factories import make_county, staff_headers


async def _one() -> int:
    rows = await connections.get("default").execute_query_dict("SELECT 1 AS one")
    return int(rows[0]["one"])


def _unopened_transaction_client() -> Any:
    context = connections.get("default")._in_transaction()  # type: ignore[attr-defined]
    return context.client if db.is_postgres() else context.connection  # tortoise names it differently per backend


def _in_a_transaction() -> bool:
    return isinstance(connections.get("default"), TransactionalDBClient)


async def test_the_configured_client_is_the_guarded_one(app: Sanic) -> None:
    assert isinstance(connections.get("default"), GuardedAsyncpgClient if db.is_postgres() else GuardedSqliteClient)


async def test_a_failed_begin_gives_back_the_connection_and_leaves_no_transaction(app: Sanic, monkeypatch: pytest.MonkeyPatch) -> None:
    base = connections.get("default")
    wrapper_type = type(_unopened_transaction_client())
    idle_before = base._pool.get_idle_size() if db.is_postgres() else None  # type: ignore[attr-defined]

    async def failing_begin(self: Any) -> None:
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(wrapper_type, "begin", failing_begin)
    for _ in range(3):  # more times than the pool could lose connections unnoticed
        with pytest.raises(ConnectionResetError):
            async with asyncio.timeout(5):  # SQLite: a lock left held would make this wait for ever
                async with in_transaction():
                    pytest.fail("the body must not run when BEGIN failed")
        assert not _in_a_transaction()
    monkeypatch.undo()

    if db.is_postgres():
        assert base._pool.get_idle_size() == idle_before  # type: ignore[attr-defined]
    # SQLite: the transaction lock was released, or this would wait for ever.
    async with asyncio.timeout(5):
        async with in_transaction():
            assert _in_a_transaction()
            assert await _one() == 1
    assert not _in_a_transaction()


async def test_a_failed_release_still_leaves_no_transaction(app: Sanic, monkeypatch: pytest.MonkeyPatch) -> None:
    if not db.is_postgres():
        pytest.skip("the connection pool is PostgreSQL's")
    pool = connections.get("default")._pool  # type: ignore[attr-defined]
    real_release = pool.release

    async def release_that_fails(self: Any, connection: Any, *, timeout: float | None = None) -> None:
        # What asyncpg does when the ROLLBACK it sends on release meets a broken connection:
        # it terminates the connection (freeing the slot) and raises.
        connection.terminate()
        await real_release(connection, timeout=timeout)
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(type(pool), "release", release_that_fails)
    with pytest.raises(ConnectionResetError):
        async with in_transaction():
            assert await _one() == 1
    monkeypatch.undo()

    assert not _in_a_transaction()
    assert await _one() == 1  # the next statement in this task gets a pooled connection again
    async with in_transaction():
        assert await _one() == 1


async def test_a_request_never_starts_inside_a_transaction_an_earlier_one_left(app: Sanic) -> None:
    base = connections.get("default")

    async def leave_a_transaction_then_start_a_request() -> tuple[bool, bool, Any]:
        leaked = _unopened_transaction_client()
        connections.set("default", leaked)  # what a transaction that never closed leaves behind
        return _in_a_transaction(), db.drop_leaked_transaction(), connections.get("default")

    leaked_before, dropped, after = await asyncio.create_task(leave_a_transaction_then_start_a_request())
    assert leaked_before and dropped
    assert after is base
    assert db.drop_leaked_transaction() is False  # nothing to drop: the usual case costs one lookup


async def test_after_a_database_hiccup_the_next_request_on_the_same_connection_succeeds(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clerk's save meets the database going away (503, try again); the retry, on the same
    keep-alive connection, saves. Before the fix every later request on that connection failed:
    on PostgreSQL when giving the connection back failed (what the fault drill hit), on SQLite when
    BEGIN failed (the transaction lock stayed held)."""
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)

    if db.is_postgres():
        pool = connections.get("default")._pool  # type: ignore[attr-defined]
        real_release, wrapper_type = pool.release, type(_unopened_transaction_client())
        real_commit = wrapper_type.commit
        committed = False

        async def commit(self: Any) -> None:
            nonlocal committed
            await real_commit(self)
            committed = True

        async def release_on_a_lost_connection(self: Any, connection: Any, *, timeout: float | None = None) -> None:
            # Only the transaction's connection, after its commit: the statements before it (the
            # session check) give theirs back as usual.
            nonlocal committed
            if not committed:
                return await real_release(connection, timeout=timeout)  # type: ignore[no-any-return]
            committed = False
            connection.terminate()
            await real_release(connection, timeout=timeout)
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")

        monkeypatch.setattr(wrapper_type, "commit", commit)
        monkeypatch.setattr(type(pool), "release", release_on_a_lost_connection)
    else:

        async def begin_on_a_lost_connection(self: Any) -> None:
            raise DBConnectionError("disk I/O error")

        monkeypatch.setattr(type(_unopened_transaction_client()), "begin", begin_on_a_lost_connection)
    failed = await client.patch(f"/api/org/units/{county.station_a.id}", headers=headers, json={"opening_hours": "周一至周五"})
    assert failed.status_code == 503 and failed.json()["error"]["code"] == "database_unavailable"
    monkeypatch.undo()

    for hours in ("周一至周五 8:30-17:30", "周一至周六 8:30-17:30"):  # more than one: nothing stays half-open
        async with asyncio.timeout(20):
            saved = await client.patch(f"/api/org/units/{county.station_a.id}", headers=headers, json={"opening_hours": hours})
        assert saved.status_code == 200, saved.text
        assert (await OrgUnit.get(id=county.station_a.id)).opening_hours == hours
