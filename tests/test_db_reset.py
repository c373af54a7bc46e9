"""The throwaway-database reset used by the tests and the benchmark scripts (PostgreSQL only)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from server import db
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs VETS_TEST_DATABASE_URL (PostgreSQL)")


async def test_a_missing_throwaway_database_is_created_then_reset() -> None:
    assert TEST_DATABASE_URL is not None
    base = TEST_DATABASE_URL.replace("postgres://", "postgresql://", 1).split("?")[0].rpartition("/")[0]
    name = f"vets_reset_{uuid.uuid4().hex[:8]}"
    try:
        await db.reset_postgres_schema(f"{base}/{name}")  # a fresh machine: the database is not there yet
        conn = await asyncpg.connect(f"{base}/{name}")
        try:
            await conn.execute("CREATE TABLE leftover (id int)")
        finally:
            await conn.close()
        await db.reset_postgres_schema(f"{base}/{name}")  # the second time it only empties the schema
        conn = await asyncpg.connect(f"{base}/{name}")
        try:
            assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(f"{base}/postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            await admin.close()
