from __future__ import annotations

import asyncio
import os
from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from tortoise import connections

from server.http.openapi import contract
from server.http.validation import api

bp = Blueprint("health")


class Alive(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str] = Field(description="each dependency (database, redis or memory): ok")


@bp.get("/healthz")
@contract(response=Alive, auth=False)
@api(summary="Liveness: the process answers", tag="health")
async def healthz(request: Request) -> HTTPResponse:
    # The header names the worker process that answered (operators, the fault drill, benchmarks).
    return json({"status": "ok"}, headers={"X-Worker": str(os.getpid())})


@bp.get("/readyz")
@contract(response=Ready, auth=False, errors={503: ["not_ready"]})
@api(summary="Readiness: database and key-value store reachable; 503 naming what failed", tag="health")
async def readyz(request: Request) -> HTTPResponse:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), timeout=3)
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason is reported
        checks["database"] = f"failed: {type(exc).__name__}"
    store = "redis" if request.app.ctx.settings.redis.url else "memory"
    try:
        await asyncio.wait_for(request.app.ctx.kv.ping(), timeout=3)
        checks[store] = "ok"
    except Exception as exc:
        checks[store] = f"failed: {type(exc).__name__}"
    failed = [name for name, state in checks.items() if state != "ok"]
    if failed:
        return json({"error": {"code": "not_ready", "message": "依赖服务不可用：" + ", ".join(failed), "details": {"checks": checks, "failed": failed}}}, status=503, ensure_ascii=False)
    return json({"status": "ready", "checks": checks})
