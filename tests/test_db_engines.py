"""Transactions give back their connection and leave no trace in the task, whatever fails.

tortoise's own transaction context kept the transaction in the task's context when BEGIN or the
release failed; Sanic serves a keep-alive connection's requests in one task, so in the fault drill
one phone's every later request failed ("connection has been released back to the pool").
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sanic import Sanic
from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.transactions import in_transaction

from server import db
from server.db_engines.postgres_asyncpg import GuardedAsyncpgClient
from server.db_engines.sqlite import GuardedSqliteClient


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
