"""生活仍然困难的优抚对象: 摸清底数、建档立卡，制定措施、明确责任，跟踪问效、重点帮扶.

A hardship case is a record per person: the situation, the measures decided, the person responsible
(owner), and follow-ups each with what was achieved and the next due date. Cases are listed per
station with those whose follow-up is overdue (the server's date) first.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.functions import Count
from tortoise.transactions import in_transaction

from models.confirmation import HardshipCase, HardshipFollowUp
from models.registry import Beneficiary
from server import clock
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import Conflict, NotFound, ValidationFailed

OPEN, CLOSED = "open", "closed"


def _check_due(due: date) -> None:
    if due <= clock.china_today():
        raise ValidationFailed("下次跟踪日期须晚于今天", code="bad_due_date")


async def open_case(*, scope: Scope, actor: Actor, beneficiary_id: int, situation: str, measures: list[str], owner_name: str, owner_staff_id: int | None, next_follow_up_due: date, campaign_id: int | None = None) -> HardshipCase:
    person = await Beneficiary.get_or_none(id=beneficiary_id)
    if person is None or not await scope.contains_station(person.station_id):
        raise NotFound("未找到该优抚对象", code="beneficiary_not_found")
    await scope.require_station_writable(person.station_id)
    _check_due(next_follow_up_due)
    if not [m for m in measures if m.strip()]:
        raise ValidationFailed("请填写帮扶措施", code="measures_required")
    if await HardshipCase.filter(beneficiary_id=person.id, status=OPEN).exists():
        raise Conflict("该对象已有在册的困难档案", code="hardship_case_open")
    async with in_transaction():
        case = await HardshipCase.create(beneficiary_id=person.id, station_id=person.station_id, campaign_id=campaign_id, situation=situation, measures=[m.strip() for m in measures if m.strip()], owner_name=owner_name, owner_staff_id=owner_staff_id, next_follow_up_due=next_follow_up_due, created_by_staff_id=int(actor.id or 0))
        await audit.record(actor=actor, action="hardship.opened", entity_type="beneficiary", entity_id=person.id, details={"case_id": case.id, "owner": owner_name, "measures": case.measures, "next_due": next_follow_up_due.isoformat()})
    return case


async def get_case(*, scope: Scope, case_id: int) -> HardshipCase:
    case = await HardshipCase.get_or_none(id=case_id).select_related("beneficiary")
    if case is None:
        raise NotFound("困难档案不存在", code="hardship_case_not_found")
    await scope.require_station_visible(case.station_id)
    return case


async def follow_up(*, scope: Scope, actor: Actor, case_id: int, note: str, effect: str, next_due: date | None, close: bool) -> HardshipCase:
    """Record what was done and its effect (跟踪问效); either the next due date or closing the case."""
    case = await get_case(scope=scope, case_id=case_id)
    await scope.require_station_writable(case.station_id)
    if case.status != OPEN:
        raise Conflict("该困难档案已结案", code="hardship_case_closed")
    if not close:
        if next_due is None:
            raise ValidationFailed("未结案须填写下次跟踪日期", code="next_due_required")
        _check_due(next_due)
    now = clock.now()
    async with in_transaction():
        await HardshipFollowUp.create(case_id=case.id, staff_id=int(actor.id or 0), happened_at=now, note=note, effect=effect, next_due=None if close else next_due)
        updates: dict[str, Any] = {"status": CLOSED, "closed_at": now, "outcome": effect} if close else {"next_follow_up_due": next_due}
        await HardshipCase.filter(id=case.id).update(**updates)
        await audit.record(actor=actor, action="hardship.closed" if close else "hardship.followed_up", entity_type="beneficiary", entity_id=case.beneficiary_id, details={"case_id": case.id, "effect": effect, "next_due": next_due.isoformat() if next_due and not close else None})
    return await get_case(scope=scope, case_id=case.id)


async def list_cases(*, scope: Scope, station_id: int | None = None, status: str | None = OPEN, overdue_only: bool = False) -> list[HardshipCase]:
    query = await scope.filter_by_station(HardshipCase.all())
    if station_id is not None:
        query = query.filter(station_id=station_id)
    if status:
        query = query.filter(status=status)
    if overdue_only:
        query = query.filter(status=OPEN, next_follow_up_due__lt=clock.china_today())
    return await query.select_related("beneficiary").order_by("station_id", "next_follow_up_due", "id")


async def counts(*, scope: Scope) -> dict[str, int]:
    """Open and overdue cases in scope (for the summary's 问题)."""
    query = await scope.filter_by_station(HardshipCase.filter(status=OPEN))
    return {"open": await query.count(), "overdue": await query.filter(next_follow_up_due__lt=clock.china_today()).count()}


async def per_station(*, scope: Scope) -> list[dict[str, Any]]:
    query = await scope.filter_by_station(HardshipCase.filter(status=OPEN))
    rows = await query.annotate(n=Count("id")).group_by("station_id").values("station_id", "n")
    overdue = dict(await (await scope.filter_by_station(HardshipCase.filter(status=OPEN, next_follow_up_due__lt=clock.china_today()))).annotate(n=Count("id")).group_by("station_id").values_list("station_id", "n"))
    return [{"station_id": r["station_id"], "open": r["n"], "overdue": overdue.get(r["station_id"], 0)} for r in rows]


async def follow_ups(*, case_id: int) -> list[HardshipFollowUp]:
    return await HardshipFollowUp.filter(case_id=case_id).order_by("happened_at", "id")


def case_json(c: HardshipCase, *, follow_up_rows: list[HardshipFollowUp] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": c.id,
        "beneficiary_id": c.beneficiary_id,
        "station_id": c.station_id,
        "situation": c.situation,
        "measures": c.measures,
        "owner_name": c.owner_name,
        "owner_staff_id": c.owner_staff_id,
        "next_follow_up_due": c.next_follow_up_due.isoformat(),
        "overdue": c.status == OPEN and c.next_follow_up_due < clock.china_today(),
        "status": c.status,
        "outcome": c.outcome,
        "opened_at": c.created_at.isoformat(),
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
    }
    if isinstance(c.beneficiary, Beneficiary):
        data.update(name=c.beneficiary.name, id_number=c.beneficiary.id_number_masked, phone=c.beneficiary.phone, address=c.beneficiary.address)
    if follow_up_rows is not None:
        data["follow_ups"] = [{"at": f.happened_at.isoformat(), "staff_id": f.staff_id, "note": f.note, "effect": f.effect, "next_due": f.next_due.isoformat() if f.next_due else None} for f in follow_up_rows]
    return data
