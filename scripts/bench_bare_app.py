"""The bare comparison app for scripts/bench_reads.py: Sanic with nothing of the project in it.

    /bare     -> a constant JSON body
    /bare-io  -> one Redis GET and one PostgreSQL lookup by primary key, then JSON

Started by bench_reads.py exactly like the project (four workers), with BENCH_DATABASE_URL and
BENCH_REDIS_URL in the environment.
"""

from __future__ import annotations

import os

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json


def create_app() -> Sanic:
    app = Sanic("bench_bare")
    app.config.ACCESS_LOG = False

    @app.before_server_start
    async def connect(app: Sanic) -> None:
        import asyncpg
        from redis import asyncio as redis_asyncio

        dsn = os.environ["BENCH_DATABASE_URL"].replace("postgres://", "postgresql://", 1)
        app.ctx.pg = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        app.ctx.redis = redis_asyncio.Redis.from_pool(redis_asyncio.BlockingConnectionPool.from_url(os.environ["BENCH_REDIS_URL"], max_connections=64, decode_responses=True))

    @app.after_server_stop
    async def disconnect(app: Sanic) -> None:
        await app.ctx.pg.close()
        await app.ctx.redis.aclose()

    @app.get("/bare")
    async def bare(request: Request) -> HTTPResponse:
        return json({"ok": True})

    @app.get("/bare-io")
    async def bare_io(request: Request) -> HTTPResponse:
        session = await app.ctx.redis.get("bench-bare:session")
        row = await app.ctx.pg.fetchrow("SELECT id, name FROM beneficiary WHERE id = $1", int(request.args.get("id", "1")))
        return json({"session": session, "id": row["id"] if row else None, "name": row["name"] if row else None}, ensure_ascii=False)

    return app
