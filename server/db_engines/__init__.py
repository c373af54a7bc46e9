"""tortoise's database clients with transactions that always give back what they took.

tortoise 1.1.9 keeps the open transaction in a context variable and leaves it there in two cases:
``begin()`` fails after the connection was taken (PostgreSQL: the pooled connection is never
released either; SQLite: the transaction lock stays held), and giving the connection back fails
(asyncpg's release raises when the rollback it sends on a broken connection fails). Sanic runs every
request of a keep-alive connection in one task, so the stale transaction then answered every later
request on that connection with "connection has been released back to the pool": in the fault
drill one phone got 503 for the whole 150 s after PostgreSQL came back. The upstream threads
(tortoise-orm#413, #743) are open or closed without a fix.

The clients here differ from tortoise's only in their transaction context: taken connections are
released and the context variable is reset on every path. Selected by ``engine`` in
:func:`server.db.tortoise_config`. The module names carry "asyncpg" and "sqlite": tortoise's
migrations pick their schema editor by the client class's module name.
"""

from __future__ import annotations

from typing import Any

from tortoise.connection import ConnectionToken, get_connections


async def begin_in_task(client: Any) -> ConnectionToken:
    """Make ``client`` the task's connection and send BEGIN; if BEGIN fails the task's context is as before."""
    token = get_connections().set(client.connection_name, client)
    try:
        await client.begin()
    except BaseException:
        get_connections().reset(token)
        raise
    return token
