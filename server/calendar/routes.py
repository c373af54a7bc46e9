"""Working-day calendar administration: overrides for years the holiday packages do not settle, and a
deadline calculator for staff."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from models.cards import CalendarOverride
from models.staff import Role
from server.auth.guard import staff_required
from server.errors import BadRequest, NotFound
from server.http.validation import api
from server.workdays import add_working_days, load_overrides

bp = Blueprint("calendar", url_prefix="/api/cards")

class OverrideBody(BaseModel):
    day: date
    is_working_day: bool
    note: str = Field(default="", max_length=100)

class DeadlineQuery(BaseModel):
    start: date
    working_days: int = Field(ge=0, le=365)


@bp.get("/calendar/overrides")
@api(summary="Working-day overrides for years the holiday package does not cover", tag="cards calendar")
@staff_required()
async def overrides(request: Request) -> HTTPResponse:
    rows = await CalendarOverride.all().order_by("day")
    return json({"items": [{"day": r.day.isoformat(), "is_working_day": r.is_working_day, "note": r.note} for r in rows]}, ensure_ascii=False)


@bp.put("/calendar/overrides")
@api(summary="Set a working-day override (admin)", tag="cards calendar", json=OverrideBody)
@staff_required(Role.ADMIN, write=True)
async def set_override(request: Request, body: OverrideBody) -> HTTPResponse:
    from server.audit import service as audit

    await CalendarOverride.update_or_create(defaults={"is_working_day": body.is_working_day, "note": body.note}, day=body.day)
    await audit.record(actor=request.ctx.actor, action="calendar.override_set", entity_type="calendar", entity_id=body.day.isoformat(), after=body.model_dump(mode="json"))
    await load_overrides()
    return json({"ok": True})


@bp.delete("/calendar/overrides/<day:str>")
@api(summary="Remove a working-day override (admin)", tag="cards calendar")
@staff_required(Role.ADMIN, write=True)
async def delete_override(request: Request, day: str) -> HTTPResponse:
    from server.audit import service as audit

    try:
        parsed = date.fromisoformat(day)
    except ValueError as exc:
        raise BadRequest("日期格式应为YYYY-MM-DD", code="bad_date") from exc
    if not await CalendarOverride.filter(day=parsed).delete():
        raise NotFound("没有该日期的设置", code="override_not_found")
    await audit.record(actor=request.ctx.actor, action="calendar.override_deleted", entity_type="calendar", entity_id=day)
    await load_overrides()
    return json({"ok": True})


@bp.get("/calendar/deadline")
@api(summary="The date N working days after a start date (calendar_unknown outside known data)", tag="cards calendar", query=DeadlineQuery)
@staff_required()
async def deadline(request: Request, query: DeadlineQuery) -> HTTPResponse:
    return json({"start": query.start.isoformat(), "working_days": query.working_days, "due": add_working_days(query.start, query.working_days).isoformat()})


