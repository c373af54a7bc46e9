from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from models.org import OrgKind
from models.staff import Role
from server.auth.guard import staff_required
from server.http.validation import api
from server.org import service
from server.security.passwords import MIN_PASSWORD_LENGTH

bp = Blueprint("org", url_prefix="/api")


class UnitBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    kind: OrgKind
    parent_id: int | None = None
    address: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=32)
    opening_hours: str = Field(default="", max_length=100, description="shown in the mini-program, e.g. 工作日 8:30-12:00，14:00-17:30")


class StaffBody(BaseModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)
    role: Role
    org_unit_id: int
    phone: str = Field(default="", max_length=32)


class ActiveBody(BaseModel):
    active: bool


@bp.get("/org/units")
@api(summary="Org units visible to the caller (a flat list forming a tree via parent_id)", tag="org")
@staff_required()
async def list_units(request: Request) -> HTTPResponse:
    units = await service.list_units(scope=request.ctx.scope)
    return json({"items": [service.unit_json(u) for u in units]}, ensure_ascii=False)


@bp.post("/org/units")
@api(summary="Create an org unit (admin)", tag="org", json=UnitBody)
@staff_required(Role.ADMIN, write=True)
async def create_unit(request: Request, body: UnitBody) -> HTTPResponse:
    unit = await service.create_unit(actor=request.ctx.actor, **body.model_dump())
    return json(service.unit_json(unit), status=201, ensure_ascii=False)


@bp.get("/admin/staff")
@api(summary="Staff accounts in scope", tag="org")
@staff_required(Role.ADMIN, Role.BUREAU, Role.AUDITOR)
async def list_staff(request: Request) -> HTTPResponse:
    staff = await service.list_staff(scope=request.ctx.scope)
    return json({"items": [service.staff_json(s) for s in staff]}, ensure_ascii=False)


@bp.post("/admin/staff")
@api(summary="Create a staff account (admin)", tag="org", json=StaffBody)
@staff_required(Role.ADMIN, write=True)
async def create_staff(request: Request, body: StaffBody) -> HTTPResponse:
    staff = await service.create_staff(actor=request.ctx.actor, **body.model_dump())
    return json(service.staff_json(staff), status=201, ensure_ascii=False)


@bp.post("/admin/staff/<staff_id:int>/active")
@api(summary="Activate or deactivate a staff account (admin); activating also clears a lockout", tag="org", json=ActiveBody)
@staff_required(Role.ADMIN, write=True)
async def set_active(request: Request, staff_id: int, body: ActiveBody) -> HTTPResponse:
    staff = await service.set_staff_active(actor=request.ctx.actor, staff_id=staff_id, active=body.active)
    return json(service.staff_json(staff), ensure_ascii=False)
