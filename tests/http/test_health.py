from __future__ import annotations

import asyncio
import json
import os

import httpx
from sanic import Sanic


async def test_healthz_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-worker"] == str(os.getpid())  # the test server runs in-process
    assert response.headers["x-request-id"]


async def test_readyz_reports_database_and_store(client: httpx.AsyncClient, app: Sanic) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    store = "redis" if app.ctx.settings.redis.url else "memory"
    assert response.json()["checks"] == {"database": "ok", store: "ok"}


async def test_readyz_names_the_failed_dependency(client: httpx.AsyncClient, app: Sanic) -> None:
    class DeadStore:
        async def ping(self) -> bool:
            raise ConnectionError("down")

    real = app.ctx.kv
    app.ctx.kv = DeadStore()
    try:
        response = await client.get("/readyz")
    finally:
        app.ctx.kv = real
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "not_ready"
    store = "redis" if app.ctx.settings.redis.url else "memory"
    assert body["error"]["details"]["failed"] == [store]


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_oversized_body_refused_before_reading(app: Sanic) -> None:
    # Only the headers are sent: the server must answer from Content-Length alone.
    limit = app.ctx.settings.uploads.max_request_bytes
    host, port = app.ctx.test_base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST /api/staff/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(65536), timeout=5)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"413"
    assert json.loads(body)["error"]["code"] == "payload_too_large"


async def test_bad_json_is_a_clear_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/staff/login", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
