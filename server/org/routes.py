from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from models.org import OrgKind
from models.staff import Role
from server.auth.guard import staff_required
from server.http.openapi import respond, staff_contract
from server.http.validation import api, patch_changes
from server.org import schemas, service
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


class UnitContactBody(BaseModel):
    address: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    opening_hours: str | None = Field(default=None, max_length=100, description="shown in the mini-program, e.g. 工作日 8:30-12:00，14:00-17:30")


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
@staff_contract(response=schemas.OrgUnitList)
@api(summary="Org units visible to the caller (a flat list forming a tree via parent_id)", tag="org")
@staff_required()
async def list_units(request: Request) -> HTTPResponse:
    units = await service.list_units(scope=request.ctx.scope)
    return respond(schemas.OrgUnitList(items=[schemas.OrgUnitInfo.of(u) for u in units]))


@bp.post("/org/units")
@staff_contract(response=schemas.OrgUnitInfo, status=201, roles=True, write=True, body=True, errors={404: ["org_unit_not_found"], 409: ["duplicate_code"], 422: ["invalid_parent"]})
@api(summary="Create an org unit (admin)", tag="org", json=UnitBody)
@staff_required(Role.ADMIN, write=True)
async def create_unit(request: Request, body: UnitBody) -> HTTPResponse:
    unit = await service.create_unit(actor=request.ctx.actor, **body.model_dump())
    return respond(schemas.OrgUnitInfo.of(unit), status=201)


@bp.patch("/org/units/<unit_id:int>")
@staff_contract(response=schemas.OrgUnitInfo, write=True, body=True, path_ids=["unit_id"], errors={403: ["out_of_scope"], 404: ["org_unit_not_found"]})
@api(summary="Change a unit's address, phone or opening hours (its station, the district above it, or the admin); audited", tag="org", json=UnitContactBody)
@staff_required(write=True)
async def update_unit(request: Request, unit_id: int, body: UnitContactBody) -> HTTPResponse:
    unit = await service.update_unit_contact(scope=request.ctx.scope, actor=request.ctx.actor, unit_id=unit_id, changes=patch_changes(body))
    return respond(schemas.OrgUnitInfo.of(unit))


@bp.get("/admin/staff")
@staff_contract(response=schemas.StaffList, roles=True)
@api(summary="Staff accounts in scope", tag="org")
@staff_required(Role.ADMIN, Role.BUREAU, Role.AUDITOR)
async def list_staff(request: Request) -> HTTPResponse:
    staff = await service.list_staff(scope=request.ctx.scope)
    return respond(schemas.StaffList(items=[schemas.StaffInfo.of(s) for s in staff]))


@bp.post("/admin/staff")
@staff_contract(response=schemas.StaffInfo, status=201, roles=True, write=True, body=True, errors={404: ["org_unit_not_found"], 409: ["duplicate_username"], 422: ["role_unit_mismatch"]})
@api(summary="Create a staff account (admin)", tag="org", json=StaffBody)
@staff_required(Role.ADMIN, write=True)
async def create_staff(request: Request, body: StaffBody) -> HTTPResponse:
    staff = await service.create_staff(actor=request.ctx.actor, **body.model_dump())
    return respond(schemas.StaffInfo.of(staff), status=201)


@bp.post("/admin/staff/<staff_id:int>/active")
@staff_contract(response=schemas.StaffInfo, roles=True, write=True, body=True, path_ids=["staff_id"])
@api(summary="Activate or deactivate a staff account (admin); activating also clears a lockout", tag="org", json=ActiveBody)
@staff_required(Role.ADMIN, write=True)
async def set_active(request: Request, staff_id: int, body: ActiveBody) -> HTTPResponse:
    staff = await service.set_staff_active(actor=request.ctx.actor, staff_id=staff_id, active=body.active)
    return respond(schemas.StaffInfo.of(staff))
