"""Every foreign key leads some index, in the schema the checked-in migrations build.

Without one, each page that filters by it (a person's payment history, a user's bindings and proxy
grants) scans the whole table: 311 ms per detail view at a million people.
"""

from __future__ import annotations

from sanic import Sanic
from tortoise import Tortoise, connections

from server import db


async def _unindexed_foreign_keys() -> list[str]:
    conn = connections.get("default")
    if db.is_postgres():
        rows = await conn.execute_query_dict(
            """
            SELECT c.conrelid::regclass::text AS tbl, a.attname AS col
            FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1
              AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
            """
        )
        return sorted(f"{r['tbl']}.{r['col']}" for r in rows)
    missing = []
    assert Tortoise.apps is not None
    for model in Tortoise.apps["models"].values():
        table = model._meta.db_table
        keys = await conn.execute_query_dict(f'PRAGMA foreign_key_list("{table}")')
        leading = set()
        for index in await conn.execute_query_dict(f'PRAGMA index_list("{table}")'):
            columns = await conn.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
            leading.update(c["name"] for c in columns if c["seqno"] == 0)
        missing += [f"{table}.{k['from']}" for k in keys if k["from"] not in leading]
    return sorted(missing)


async def test_every_foreign_key_is_indexed(app: Sanic) -> None:
    assert await _unindexed_foreign_keys() == []


async def test_id_columns_pages_filter_on_are_indexed(app: Sanic) -> None:
    # Plain integer references (no constraint) that lookups filter by.
    expected = {("card", "beneficiary_id"), ("card", "station_id"), ("face_attempt", "beneficiary_id"), ("notification", "beneficiary_id")}
    conn = connections.get("default")
    found = set()
    for table, column in expected:
        if db.is_postgres():
            rows = await conn.execute_query_dict(
                "SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = $1::regclass AND a.attname = $2",
                [table, column],
            )
            if rows:
                found.add((table, column))
        else:
            for index in await conn.execute_query_dict(f'PRAGMA index_list("{table}")'):
                columns = await conn.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
                if any(c["seqno"] == 0 and c["name"] == column for c in columns):
                    found.add((table, column))
    assert found == expected
