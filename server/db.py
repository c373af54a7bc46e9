"""Database set-up: one tortoise app holding every model module, and its built-in migrations."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as migrate_api

MODEL_MODULES = [
    "models.org",
    "models.staff",
    "models.registry",
    "models.audit",
    "models.wechat",
    "models.confirmation",
    "models.payments",
    "models.cards",
    "models.calendar",
]


async def _keep_session(connection: Any) -> None:
    """What a PostgreSQL connection needs when it goes back to the pool: nothing more.

    asyncpg's default reset sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    after every statement run outside a transaction: a second round trip per query. This code takes no
    session-level advisory locks, cursors, LISTENs or SETs (only ``SET LOCAL`` inside transactions), and
    asyncpg still rolls back a transaction left open before this is called.
    """


def tortoise_config(database_url: str, *, pool_max_size: int = 10) -> dict[str, Any]:
    url = database_url
    connection: str | dict[str, Any] = url
    if url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        if "maxsize=" not in url:
            url += ("&" if "?" in url else "?") + f"maxsize={pool_max_size}"
        connection = expand_db_url(url)
        connection["credentials"]["reset"] = _keep_session
        connection["engine"] = "server.db_engines.postgres_asyncpg"  # transactions that always give back what they took
    elif url.startswith("sqlite://"):
        connection = expand_db_url(url)
        connection["engine"] = "server.db_engines.sqlite"
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "migrations": "models.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        # UTC in the database: SQLite compares datetimes as text, so stored values and query
        # parameters must share one offset. China time is applied when text is shown to people.
        "timezone": "UTC",
    }


def ensure_sqlite_directory(database_url: str) -> None:
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        Path(database_url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)


async def apply_migrations(database_url: str) -> None:
    """Apply every checked-in migration (idempotent). Runs once, in the main process, before workers."""
    ensure_sqlite_directory(database_url)
    config = tortoise_config(database_url, pool_max_size=2)
    await migrate_api(config=config)
    await Tortoise.close_connections()


async def init_orm(database_url: str, *, pool_max_size: int = 10) -> None:
    ensure_sqlite_directory(database_url)
    # Sanic handles requests in tasks that do not inherit the listener's context, hence the
    # global fallback (the same choice tortoise's own Sanic integration makes).
    await Tortoise.init(config=tortoise_config(database_url, pool_max_size=pool_max_size), _enable_global_fallback=True)


async def close_orm() -> None:
    await Tortoise.close_connections()


async def reset_postgres_schema(database_url: str) -> None:
    """Drop and recreate the public schema: for tests and benchmarks on a throwaway database only.

    A throwaway database that does not exist yet is created first (from the server's ``postgres``
    maintenance database), so a benchmark on a fresh machine needs no manual ``CREATE DATABASE``."""
    import asyncpg

    dsn = database_url.replace("postgres://", "postgresql://", 1).split("?")[0]
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        base, _, name = dsn.rpartition("/")
        admin = await asyncpg.connect(f"{base}/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name.replace(chr(34), "")}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def _raised_in_driver(exc: BaseException) -> bool:
    """True when the exception came out of the database driver or the ORM's connection code."""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if any(part in filename for part in ("/asyncpg/", "/tortoise/backends/", "/aiosqlite/")):
            return True
        tb = tb.tb_next
    return False


def is_database_outage(exc: BaseException) -> bool:
    """Did this request fail because the database could not be reached (not because of a bug)?

    PostgreSQL down, restarting or refusing connections surfaces as asyncpg's connection errors,
    as OS-level connection errors raised inside the driver, or as tortoise's DBConnectionError.
    Query errors (syntax, constraints, data) are not outages and stay 500 / 409.
    """
    import asyncpg
    from tortoise.exceptions import DBConnectionError

    outage_types: tuple[type[BaseException], ...] = (
        DBConnectionError,
        asyncpg.PostgresConnectionError,  # includes CannotConnectNowError, ConnectionDoesNotExistError
        asyncpg.InterfaceError,  # "connection is closed", pool closing
        asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown
        asyncpg.exceptions.InsufficientResourcesError,  # too many connections, out of memory/disk
        # A pooled connection left mid-operation when the server terminated it (seen in the fault
        # drill while PostgreSQL shut down): unusable until replaced, the request can be retried.
        asyncpg.exceptions.InternalClientError,
    )
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, outage_types):
            return True
        if isinstance(current, (ConnectionError, TimeoutError, OSError)) and not isinstance(current, FileNotFoundError) and _raised_in_driver(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def drop_leaked_transaction(alias: str = "default") -> bool:
    """Start a request outside any transaction, whatever an earlier request on its connection left.

    Sanic runs every request of a keep-alive connection in one task, and tortoise keeps the open
    transaction in that task's context: a transaction that was not closed (see server/db_engines)
    would otherwise serve every later request on that connection. True when one was dropped.
    """
    current = connections.get(alias)
    if not isinstance(current, TransactionalDBClient):
        return False
    base: Any = current
    while isinstance(base, TransactionalDBClient):
        base = base._parent
    connections.set(alias, base)
    logging.getLogger(__name__).error("a transaction left open by an earlier request on this connection was dropped")
    return True


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


# For the `tortoise` command line (makemigrations, migrate, history): `tortoise makemigrations`.
TORTOISE_ORM = tortoise_config(os.environ.get("VETS_DATABASE__URL", "sqlite://var/vets.sqlite3"))
