"""Console pages. Each handler resolves the staff session (cookie), calls the same services as the
JSON API with the same Scope, and renders a template. Forms post back with the CSRF token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, redirect
from sanic_ext import openapi

from models.cards import ApplicationStatus
from models.confirmation import Campaign, CampaignStatus, ReviewStatus, SuspensionStatus
from models.staff import Role
from server.auth import service as auth_service
from server.auth import sessions
from server.auth.guard import SESSION_COOKIE, current_staff
from server.cards import applications as card_applications
from server.cards import booking
from server.confirmation import campaigns, records, reports, review, suspensions
from server.confirmation.self_service import ACTION_TEXT, REASON_TEXT
from server.errors import ApiError, Unauthorized
from server.miniapp import proxies
from server.registry import service as registry
from server.registry.categories import CATEGORY_LABELS

bp = Blueprint("console", url_prefix="/console")
_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
ROLE_LABELS = {"station": "服务站", "centre": "服务中心", "bureau": "事务局", "city": "市局", "auditor": "纪检监察（只读）", "admin": "管理员"}
BRACKET_LABELS = reports.BRACKET_LABELS


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTTPResponse:
    staff = getattr(request.ctx, "staff", None)
    body = _templates.get_template(template).render(staff=staff, role_label=ROLE_LABELS.get(staff.role, "") if staff else "", csrf=staff.csrf_token if staff else "", flash=request.args.get("msg"), **context)
    return html(body, status=status, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def page(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
    """A logged-in page: an expired session goes to the login page; a refused action comes back with its message."""

    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        try:
            await current_staff(request)
        except Unauthorized:
            return redirect("/console/login?expired=1")
        try:
            return await handler(request, *args, **kwargs)
        except ApiError as exc:
            if request.method == "POST":
                back = request.headers.get("referer") or "/console/"
                back = back.split("?")[0]
                return redirect(f"{back}?msg={quote(exc.message)}")
            if exc.status == 404:
                return render(request, "error.html", message="未找到该页面或无权查看", status=404)
            return render(request, "error.html", message=exc.message, status=exc.status)

    return openapi.exclude()(wrapper)


@bp.get("/login")
@openapi.exclude()
async def login_page(request: Request) -> HTTPResponse:
    message = "登录已超时，请重新登录" if request.args.get("expired") else request.args.get("msg")
    return html(_templates.get_template("login.html").render(message=message), headers={"Cache-Control": "no-store"})


@bp.post("/login")
@openapi.exclude()
async def login_submit(request: Request) -> HTTPResponse:
    form = request.form or {}
    username, password = (form.get("username") or "").strip(), form.get("password") or ""
    try:
        token, _ = await auth_service.login(kv=request.app.ctx.kv, security=request.app.ctx.settings.security, username=username, password=password, request_id=request.ctx.request_id)
    except ApiError as exc:
        return html(_templates.get_template("login.html").render(message=exc.message, username=username), status=exc.status)
    response = redirect("/console/")
    response.add_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=not request.app.ctx.settings.is_development, path="/")
    return response


@bp.post("/logout")
@page
async def logout(request: Request) -> HTTPResponse:
    await sessions.end_session(request.app.ctx.kv, request.ctx.session_token)
    response = redirect("/console/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _open_campaign(request: Request) -> Campaign | None:
    items = [c for c in await campaigns.list_campaigns(scope=request.ctx.scope) if c.status == CampaignStatus.OPEN]
    return items[0] if items else None


@bp.get("/")
@page
async def home(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    reviews = await review.list_items(scope=scope, status=ReviewStatus.OPEN, overdue_only=False, station_id=None)
    campaign = await _open_campaign(request)
    visits: list[dict[str, Any]] = []
    if campaign is not None:
        progress = await reports.progress(scope=scope, campaign_id=campaign.id)
        by_bracket: dict[str, dict[str, int]] = {}
        for row in progress["rows"]:
            cell = by_bracket.setdefault(row["age_bracket_label"], {"required": 0, "done": 0})
            cell["required"] += row["home_visits_required"]
            cell["done"] += row["home_visited"]
        visits = [{"bracket": k, **v, "missing": max(0, v["required"] - v["done"])} for k, v in by_bracket.items()]
    overdue_cards = await card_applications.list_applications(scope=scope, status=None, overdue_only=True, problems_only=False)
    pickups = await booking.todays_bookings(scope=scope, day=date.today())
    return render(request, "home.html", reviews=[review.item_summary(i) for i in reviews], campaign=campaign, visits=visits, overdue_cards=[card_applications.application_json(a) for a in overdue_cards], pickups=[{**booking.booking_json(b), "slot": booking.slot_json(b.slot)} for b in pickups])


@bp.get("/reviews")
@page
async def review_list(request: Request) -> HTTPResponse:
    status = request.args.get("status") or ReviewStatus.OPEN.value
    items = await review.list_items(scope=request.ctx.scope, status=ReviewStatus(status), overdue_only=False, station_id=None)
    return render(request, "review_list.html", items=[review.item_summary(i) for i in items], filter_status=status)


@bp.get("/reviews/<item_id:int>")
@page
async def review_detail(request: Request, item_id: int) -> HTTPResponse:
    evidence = await review.evidence(scope=request.ctx.scope, item_id=item_id)
    open_ids = [i.id for i in await review.list_items(scope=request.ctx.scope, status=ReviewStatus.OPEN, overdue_only=False, station_id=None)]
    position = open_ids.index(item_id) if item_id in open_ids else -1
    return render(
        request,
        "review_detail.html",
        item=evidence,
        action_text=ACTION_TEXT,
        reason_text=REASON_TEXT,
        previous_id=open_ids[position - 1] if position > 0 else None,
        next_id=open_ids[position + 1] if 0 <= position < len(open_ids) - 1 else None,
        can_decide=request.ctx.scope.role in (Role.STATION, Role.CENTRE, Role.ADMIN),
    )


@bp.post("/reviews/<item_id:int>/decide")
@page
async def review_decide(request: Request, item_id: int) -> HTTPResponse:
    form = request.form or {}
    accept = form.get("decision") == "accept"
    reason = (form.get("reason") or "").strip()
    if not accept and len(reason) < 2:
        raise ApiError("不通过须填写原因", code="reason_required", status=422)
    await review.decide(scope=request.ctx.scope, actor=request.ctx.actor, item_id=item_id, accept=accept, reason=reason)
    return redirect(f"/console/reviews?msg={quote('已' + ('通过' if accept else '退回') + '，并已通知本人')}")


@bp.get("/beneficiaries")
@page
async def beneficiaries(request: Request) -> HTTPResponse:
    q = (request.args.get("q") or "").strip()
    page_no = max(1, int(request.args.get("page") or 1))
    by_id = len(q) == 18 and q[:17].isdigit()
    items, total = await registry.search(scope=request.ctx.scope, name=None if by_id else (q or None), id_number=q if by_id else None, page=page_no, page_size=30)
    return render(request, "beneficiaries.html", q=q, items=[registry.beneficiary_json(b) for b in items], total=total, page=page_no)


@bp.get("/beneficiaries/<beneficiary_id:int>")
@page
async def beneficiary(request: Request, beneficiary_id: int) -> HTTPResponse:
    person = await registry.get_beneficiary(scope=request.ctx.scope, beneficiary_id=beneficiary_id)
    confirmations = []
    from models.confirmation import Confirmation

    for c in await Confirmation.filter(beneficiary_id=person.id).select_related("campaign").order_by("-id"):
        confirmations.append({**campaigns.confirmation_json(c), "campaign": c.campaign.name, "records": [records.record_json(r) for r in await records.history(confirmation_id=c.id)]})
    grants = [g for g in await proxies.list_for_station(scope=request.ctx.scope, status=None) if g.beneficiary_id == person.id]
    return render(request, "beneficiary.html", person=registry.beneficiary_json(person), category=CATEGORY_LABELS[person.category], confirmations=confirmations, proxies=[proxies.proxy_json(g) for g in grants], history=await registry.status_history(beneficiary_id=person.id), can_reveal=request.ctx.scope.can_see_full_id_number)


@bp.get("/campaigns")
@page
async def campaign_list(request: Request) -> HTTPResponse:
    items = await campaigns.list_campaigns(scope=request.ctx.scope)
    return render(request, "campaigns.html", items=[campaigns.campaign_json(c) for c in items])


@bp.get("/campaigns/<campaign_id:int>")
@page
async def campaign(request: Request, campaign_id: int) -> HTTPResponse:
    scope = request.ctx.scope
    item = await campaigns.get_campaign(scope=scope, campaign_id=campaign_id)
    progress = await reports.progress(scope=scope, campaign_id=campaign_id)
    proposals = await suspensions.list_proposals(scope=scope, campaign_id=campaign_id, status=SuspensionStatus.PROPOSED)
    summary = await reports.summary(scope=scope, campaign_id=campaign_id)
    from models.confirmation import PublicNotice
    from server.confirmation import deaths, notices, spot_checks

    notice_rows = [n for n in await PublicNotice.filter(campaign_id=campaign_id).order_by("-id") if n.station_id is None or await scope.contains_station(n.station_id)]
    return render(
        request,
        "campaign.html",
        campaign=campaigns.campaign_json(item),
        progress=progress,
        proposals=[suspensions.proposal_json(p, p.beneficiary) for p in proposals],
        summary=summary,
        can_approve=scope.role in (Role.BUREAU, Role.ADMIN),
        notices=[notices.notice_json(n, with_entries=False) for n in notice_rows],
        spot=await spot_checks.spot_check_status(scope=scope, campaign_id=campaign_id),
        overpayments=[deaths.death_json(d) for d in await deaths.list_overpayments(scope=scope, outstanding_only=False)],
    )


@bp.post("/suspensions/approve")
@page
async def approve_suspensions(request: Request) -> HTTPResponse:
    ids = [int(x) for x in (request.form.getlist("proposal_id") or []) if x.isdigit()] if request.form else []
    if not ids:
        raise ApiError("请先勾选要审批的人员", code="nothing_selected", status=422)
    result = await suspensions.approve(scope=request.ctx.scope, actor=request.ctx.actor, proposal_ids=ids)
    back = (request.headers.get("referer") or "/console/campaigns").split("?")[0]
    message = f"已批准暂停发放 {len(result['approved'])} 人" + (f"，撤销 {len(result['withdrawn'])} 人（已确认）" if result["withdrawn"] else "")
    return redirect(f"{back}?msg={quote(message)}")


@bp.get("/cards")
@page
async def cards(request: Request) -> HTTPResponse:
    status = request.args.get("status")
    items = await card_applications.list_applications(scope=request.ctx.scope, status=ApplicationStatus(status) if status else None, overdue_only=False, problems_only=False)
    from models.cards import Shipment
    from server.cards import issuance

    shipments = [issuance.shipment_json(x) for x in await Shipment.all().order_by("-id").limit(50)] if request.ctx.scope.role in (Role.CENTRE, Role.BUREAU, Role.CITY, Role.AUDITOR, Role.ADMIN) else []
    return render(request, "cards.html", shipments=shipments, items=[card_applications.application_json(a) for a in items], filter_status=status, statuses=[(s.value, card_applications.rules.STATUS_LABELS[s]) for s in ApplicationStatus])


@bp.post("/cards/<application_id:int>/transition")
@page
async def card_transition(request: Request, application_id: int) -> HTTPResponse:
    form = request.form or {}
    await card_applications.transition(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, application_id=application_id, action=form.get("action") or "pass", reason=(form.get("reason") or "").strip())
    return redirect(f"/console/cards?msg={quote('已处理')}")


@bp.get("/pickups")
@page
async def pickups(request: Request) -> HTTPResponse:
    items = await booking.todays_bookings(scope=request.ctx.scope, day=date.today())
    return render(request, "pickups.html", items=[{**booking.booking_json(b), "slot": booking.slot_json(b.slot)} for b in items])


@bp.post("/pickups/check-in")
@page
async def pickup_check_in(request: Request) -> HTTPResponse:
    form = request.form or {}
    code = (form.get("code") or "").strip()
    token, short_code = (code, None) if "." in code else (None, code)
    result = await booking.check_in(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, token=token, short_code=short_code)
    return redirect(f"/console/pickups?msg={quote(f'签到成功，预约 {result.short_code} 的优待证已发放')}")


@bp.get("/reports")
@page
async def report_downloads(request: Request) -> HTTPResponse:
    items = await campaigns.list_campaigns(scope=request.ctx.scope)
    return render(request, "reports.html", campaigns=[campaigns.campaign_json(c) for c in items])
