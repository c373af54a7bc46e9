from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from models.staff import Role
from server.audit import schemas, service
from server.auth.guard import staff_required
from server.http.openapi import staff_contract
from server.http.validation import api

bp = Blueprint("audit", url_prefix="/api/audit")


class EntriesQuery(BaseModel):
    entity_type: str | None = Field(default=None, max_length=48)
    entity_id: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


@bp.get("/verify")
@staff_contract(response=schemas.ChainVerification, also=[409], roles=True)
@api(summary="Verify the audit hash chain; names the first broken entry", tag="audit")
@staff_required(Role.ADMIN, Role.AUDITOR)
async def verify(request: Request) -> HTTPResponse:
    report = await service.verify_chain()
    return json(report.to_dict(), status=200 if report.ok else 409)


@bp.get("/entries")
@staff_contract(response=schemas.AuditEntryList, roles=True, query=True)
@api(summary="Audit entries of the caller's districts, newest first", tag="audit", query=EntriesQuery)
@staff_required(Role.ADMIN, Role.AUDITOR, Role.BUREAU)
async def entries(request: Request, query: EntriesQuery) -> HTTPResponse:
    rows = await service.list_entries(scope=request.ctx.scope, **query.model_dump())
    return json(
        {
            "items": [
                {
                    "seq": e.seq,
                    "at": e.created_at.isoformat(),
                    "actor_type": e.actor_type,
                    "actor_id": e.actor_id,
                    "actor_role": e.actor_role,
                    "on_behalf_of": e.on_behalf_of,
                    "action": e.action,
                    "entity_type": e.entity_type,
                    "entity_id": e.entity_id,
                    "summary": e.summary,
                    "hash": e.hash,
                }
                for e in rows
            ]
        },
        ensure_ascii=False,
    )
