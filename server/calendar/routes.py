"""Working-day calendar administration: the year's status, overrides from the State Council's notice,
confirming a year, and a deadline calculator for staff."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from models.calendar import CalendarOverride
from models.staff import Role
from server.auth.guard import staff_required
from server.calendar import schemas, service
from server.clock import china_today
from server.errors import BadRequest
from server.http.openapi import Ok, staff_contract
from server.http.validation import api

bp = Blueprint("calendar", url_prefix="/api/calendar")


class OverrideBody(BaseModel):
    day: date
    is_working_day: bool = Field(description="false for a holiday, true for a make-up working weekend")
    note: str = Field(default="", max_length=100)


class ConfirmYearBody(BaseModel):
    source: str = Field(min_length=2, max_length=200, description="the State Council notice the arrangement was checked against")


class DeadlineQuery(BaseModel):
    start: date
    working_days: int = Field(ge=0, le=365)


def _parse_day(day: str) -> date:
    try:
        return date.fromisoformat(day)
    except ValueError as exc:
        raise BadRequest("日期格式应为YYYY-MM-DD", code="bad_date") from exc


@bp.get("")
@staff_contract(response=schemas.CalendarStatus)
@api(summary="The calendar's status: each year official or provisional, the overrides, and the warning staff see", tag="calendar")
@staff_required()
async def calendar_status(request: Request) -> HTTPResponse:
    today = china_today()
    rows = await CalendarOverride.filter(day__gte=date(today.year - 1, 1, 1)).order_by("day")
    return json(
        {
            "today": today.isoformat(),
            "years": await service.year_statuses(today=today),
            "warning": service.provisional_warning(today=today),
            "overrides": [{"day": r.day.isoformat(), "is_working_day": r.is_working_day, "note": r.note} for r in rows],
        },
        ensure_ascii=False,
    )


@bp.put("/overrides")
@staff_contract(response=Ok, roles=True, write=True, body=True)
@api(summary="Set one day as a holiday or a make-up working day (admin); in force in every worker at once", tag="calendar", json=OverrideBody)
@staff_required(Role.ADMIN, write=True)
async def set_override(request: Request, body: OverrideBody) -> HTTPResponse:
    await service.set_override(actor=request.ctx.actor, kv=request.app.ctx.kv, day=body.day, is_working_day=body.is_working_day, note=body.note)
    return json({"ok": True})


@bp.delete("/overrides/<day:str>")
@staff_contract(response=Ok, roles=True, write=True, errors={400: ["bad_date"], 404: ["override_not_found"]})
@api(summary="Remove a day's override (admin)", tag="calendar")
@staff_required(Role.ADMIN, write=True)
async def delete_override(request: Request, day: str) -> HTTPResponse:
    await service.delete_override(actor=request.ctx.actor, kv=request.app.ctx.kv, day=_parse_day(day))
    return json({"ok": True})


@bp.put("/years/<year:int>")
@staff_contract(response=schemas.YearConfirmed, roles=True, write=True, body=True, errors={400: ["bad_year"]})
@api(summary="Confirm that a year's arrangement matches the State Council's notice (admin): its deadlines stop being provisional", tag="calendar", json=ConfirmYearBody)
@staff_required(Role.ADMIN, write=True)
async def confirm_year(request: Request, year: int, body: ConfirmYearBody) -> HTTPResponse:
    if not 2000 <= year <= 2100:
        raise BadRequest("年度超出范围", code="bad_year")
    row = await service.confirm_year(actor=request.ctx.actor, kv=request.app.ctx.kv, year=year, source=body.source)
    return json({"year": row.year, "confirmed_by": row.confirmed_by, "source": row.source}, ensure_ascii=False)


@bp.delete("/years/<year:int>")
@staff_contract(response=Ok, roles=True, write=True, errors={404: ["year_not_confirmed"]})
@api(summary="Withdraw a year's confirmation (admin)", tag="calendar")
@staff_required(Role.ADMIN, write=True)
async def withdraw_year(request: Request, year: int) -> HTTPResponse:
    await service.withdraw_year(actor=request.ctx.actor, kv=request.app.ctx.kv, year=year)
    return json({"ok": True})


@bp.get("/deadline")
@staff_contract(response=schemas.DeadlineInfo, query=True)
@api(summary="The date N working days after a start date, and whether it was counted on provisional days", tag="calendar", query=DeadlineQuery)
@staff_required()
async def deadline(request: Request, query: DeadlineQuery) -> HTTPResponse:
    return json(service.current().deadline(query.start, query.working_days).to_dict(), ensure_ascii=False)
