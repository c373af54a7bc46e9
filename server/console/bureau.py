"""The bureau's pages that were API-only: re-check (复核) of recorded confirmations, overpayment recovery
(追回) and resumption sign-off (恢复发放). Each calls the same service with the same Scope and role rule
as its JSON route; the confirmation in the page names the person and the amount; a repeat changes
nothing (the one-time form token, and the services refuse a second sign-off or an over-recovery)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from sanic import Request
from sanic.response import HTTPResponse, redirect

from models.confirmation import CampaignStatus, ConfirmationStatus
from models.staff import Role
from server import labels
from server.clock import china_today
from server.confirmation import campaigns, deaths, records, suspensions
from server.console import work
from server.console.listing import Filter, ListSpec, by, by_name
from server.console.routes import PAGE_ARGS, _back, bp, page, render, station_choices
from server.errors import BadRequest, Conflict


def _form(request: Request, name: str) -> str:
    return ((request.form or {}).get(name) or "").strip()


def _ok(target: str, message: str) -> HTTPResponse:
    return redirect(f"{target}{'&' if '?' in target else '?'}msg={quote(message)}")


# ---- 事务局复核 ----------------------------------------------------------------------------------------

RECHECK_STATUS = {"none": "未复核", "accepted": "复核无误", "questioned": "复核存疑"}
RECHECKS = ListSpec(
    filters=(
        Filter("campaign", "年度", {}),
        Filter("recheck", "复核情况", RECHECK_STATUS, default="none", all_label=None),
        Filter("method", "确认方式", labels.METHOD),
        Filter("station", "服务站", {}),
    ),
    search=False,
)
PAGE_ARGS["rechecks"] = RECHECKS.args


@bp.get("/rechecks")
@page
async def rechecks(request: Request) -> HTTPResponse:
    """Confirmed records of a campaign for the bureau's 复核, paged in the database (the API's list with the
    method and re-check filters)."""
    scope = request.ctx.scope
    items = await campaigns.list_campaigns(scope=scope)
    choices = {str(c.id): c.name for c in items}
    opened = [c for c in items if c.status == CampaignStatus.OPEN]
    default = str((opened or items)[0].id) if items else ""
    spec = ListSpec(filters=(Filter("campaign", "年度", choices, default=default, all_label=None), *RECHECKS.filters[1:]), search=False)
    lst = spec.read(request, choices={"station": await station_choices(scope)})
    rows: list[dict] = []
    if lst.value("campaign"):
        station = lst.value("station")
        found, total = await campaigns.list_confirmations(
            scope=scope, campaign_id=int(lst.value("campaign")), station_id=int(station) if station else None, status=ConfirmationStatus.CONFIRMED, age_bracket=None,
            page=lst.page, page_size=spec.page_size, method=lst.value("method") or None, recheck_status=lst.value("recheck"),
        )
        lst.window(total)
        rows = await work.with_people([campaigns.confirmation_json(c) for c in found])
    lst.items = rows
    return render(
        request, "rechecks.html", lst=lst, items=rows, recheck_labels=RECHECK_STATUS,
        may_recheck=scope.can_write and scope.role in (Role.BUREAU, Role.ADMIN),
    )


@bp.post("/confirmations/<confirmation_id:int>/recheck")
@page
async def recheck(request: Request, confirmation_id: int) -> HTTPResponse:
    scope = request.ctx.scope
    scope.require_role(Role.BUREAU)
    scope.require_write()
    decision = _form(request, "decision")
    if decision not in ("accepted", "questioned"):
        raise BadRequest("请选择“复核无误”或“复核存疑”", code="bad_decision")
    note = _form(request, "note")[:300]
    if decision == "questioned" and len(note) < 2:
        raise BadRequest("复核存疑时请写明疑点", code="note_required")
    existing = await records.get_confirmation(scope=scope, confirmation_id=confirmation_id)
    name = existing.beneficiary.name
    if existing.recheck_status == decision:
        # The same 复核 again (another tab, a resent form): recorded once.
        return _back(request, f"{name} 已{RECHECK_STATUS[decision]}，未重复登记")
    await records.recheck(scope=scope, actor=request.ctx.actor, confirmation_id=confirmation_id, accepted=decision == "accepted", note=note)
    return _back(request, f"已登记复核：{name}，{RECHECK_STATUS[decision]}")


# ---- 多发追回 --------------------------------------------------------------------------------------------

OVERPAYMENTS = ListSpec(
    sorts={"name": by_name(), "death": by("death_date", "死亡日期"), "outstanding": by("outstanding_value", "未追回金额", missing=0)},
    default_sort="-outstanding",
    filters=(Filter("status", "状态", {**labels.OVERPAYMENT_STATUS, "all": "全部"}, default="outstanding", field="status", all_label=None), Filter("station", "服务站", {}, field="station_id"), Filter("source", "数据来源", labels.DEATH_SOURCE, field="source")),
)
PAGE_ARGS["overpayments"] = OVERPAYMENTS.args


@bp.get("/overpayments")
@page
async def overpayments(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    lst = OVERPAYMENTS.read(request, choices={"station": await station_choices(scope)})
    found = await deaths.list_overpayments(scope=scope, outstanding_only=False)
    rows = [{**deaths.death_json(d, d.beneficiary), "outstanding_value": float(deaths.outstanding_amount(d))} for d in found]
    lst.apply(await work.with_people(rows))
    recoveries = await deaths.recoveries_of(scope=scope, death_record_ids=[row["id"] for row in lst.items])
    for row in lst.items:
        row["recoveries"] = [deaths.recovery_json(r) for r in recoveries[row["id"]]]
    return render(request, "overpayments.html", lst=lst, items=lst.items, today=china_today().isoformat(), may_recover=scope.can_write and scope.role in (Role.BUREAU, Role.ADMIN))


@bp.post("/overpayments/<death_record_id:int>/recoveries")
@page
async def record_recovery(request: Request, death_record_id: int) -> HTTPResponse:
    scope = request.ctx.scope
    scope.require_role(Role.BUREAU)
    scope.require_write()
    try:
        amount = Decimal(_form(request, "amount"))
    except InvalidOperation as exc:
        raise BadRequest("追回金额应为数字（元）", code="bad_amount") from exc
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise BadRequest("追回金额应大于0，最多两位小数", code="bad_amount")
    try:
        day = date.fromisoformat(_form(request, "recovered_on") or china_today().isoformat())
    except ValueError as exc:
        raise BadRequest("追回日期格式不正确，应为 年-月-日", code="bad_date") from exc
    record = await deaths.record_recovery(scope=scope, actor=request.ctx.actor, death_record_id=death_record_id, amount=amount, recovered_on=day, note=_form(request, "note")[:200])
    done = "，已全部追回" if record.status != deaths.OUTSTANDING else f"，尚未追回 {deaths.outstanding_amount(record)} 元"
    return _back(request, f"已登记追回：{record.beneficiary.name} {amount} 元{done}")


# ---- 恢复发放 --------------------------------------------------------------------------------------------

RESUMPTIONS = ListSpec(
    sorts={"name": by_name(), "resume": by("resume_from", "恢复月份"), "station": by("station", "服务站")},
    default_sort="resume",
    filters=(Filter("status", "状态", {"pending": "待审批", "signed_off": "已审批"}, default="pending", all_label=None), Filter("station", "服务站", {}, field="station_id")),
)
PAGE_ARGS["resumptions"] = RESUMPTIONS.args


@bp.get("/resumptions")
@page
async def resumptions(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    lst = RESUMPTIONS.read(request, choices={"station": await station_choices(scope)})
    found = await suspensions.list_resumptions(scope=scope, status=lst.value("status"))
    lst.apply(await work.with_people([suspensions.resumption_json(r, r.beneficiary) for r in found]))
    return render(request, "resumptions.html", lst=lst, items=lst.items, may_sign=scope.can_write and scope.role in (Role.BUREAU, Role.ADMIN))


@bp.post("/resumptions/<resumption_id:int>/sign-off")
@page
async def sign_off(request: Request, resumption_id: int) -> HTTPResponse:
    scope = request.ctx.scope
    scope.require_role(Role.BUREAU)
    scope.require_write()
    try:
        resumption = await suspensions.sign_off_resumption(scope=scope, actor=request.ctx.actor, resumption_id=resumption_id)
    except Conflict as exc:
        if exc.code != "resumption_already_signed_off":
            raise
        return _back(request, "该恢复发放已审批，未重复办理")
    months = f"，补发 {resumption.back_pay_months} 个月" if resumption.back_pay_months else ""
    return _back(request, f"已审批恢复发放：{resumption.beneficiary.name}，自 {resumption.resume_from.isoformat()} 起恢复{months}；已通知本人")
