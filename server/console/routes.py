"""Console pages. Each handler resolves the staff session (cookie), calls the same services as the
JSON API with the same Scope, and renders a template. Forms post back with the CSRF token."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, timedelta
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, html, redirect
from sanic_ext import openapi

from models.cards import (
    ApplicationStatus,
    Booking,
    CardApplication,
    CardStatus,
    PickupSlot,
)
from models.confirmation import (
    Campaign,
    CampaignStatus,
    Confirmation,
    ReportSnapshot,
    ReviewStatus,
    SuspensionStatus,
)
from models.org import OrgUnit
from models.registry import Beneficiary, Category, PaymentStatus
from models.staff import Role, Staff
from models.wechat import ProxyStatus
from server import labels, media, xlsx
from server.auth import service as auth_service
from server.auth import sessions
from server.auth.csrf import (
    login_form_is_genuine,
    login_form_token,
    set_login_form_cookie,
)
from server.auth.guard import SESSION_COOKIE, client_address, current_staff
from server.calendar import service as calendar_service
from server.cards import applications as card_applications
from server.cards import booking, issuance
from server.cards import eligibility as card_eligibility
from server.cards import rules as card_rules
from server.clock import china_today
from server.confirmation import (
    campaigns,
    deaths,
    notices,
    records,
    reports,
    review,
    spot_checks,
    suspensions,
)
from server.confirmation.self_service import ACTION_TEXT, REASON_TEXT
from server.console import charts, work
from server.console.listing import Filter, ListSpec, by, by_name
from server.errors import ApiError, BadRequest, NotFound, Unauthorized
from server.face_service import face_config
from server.miniapp import proxies
from server.registry import service as registry
from server.registry.categories import CATEGORY_LABELS
from server.security.passwords import MIN_PASSWORD_LENGTH
from server.workdays import due_is_provisional

log = logging.getLogger("server.console")

STATIC_DIR = Path(__file__).parent / "static"
bp = Blueprint("console", url_prefix="/console")
bp.static("/static", STATIC_DIR, name="static")

_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
_templates.globals.update(L=labels.ALL, label=labels.label, action_text=ACTION_TEXT, reason_text=REASON_TEXT)
_templates.filters["dt"] = labels.china_time  # stored UTC, shown in China time


def _provisional_due(due: date | str | None) -> bool:
    """A due date counted on days not yet official (next year's holidays before the State Council publishes)."""
    if not due:
        return False
    try:
        return due_is_provisional(date.fromisoformat(due) if isinstance(due, str) else due)
    except ValueError:
        return False


_templates.globals["provisional_due"] = _provisional_due
# Free-text notes written by the services may carry reason codes ("action_missing,replay"): say them in words.
_templates.filters["words"] = lambda text: re.sub(r"[a-z][a-z_]+(,[a-z][a-z_]+)*", lambda m: "、".join(REASON_TEXT.get(c, ACTION_TEXT.get(c, c)) for c in m.group(0).split(",")), text or "")
_templates.filters["score"] = lambda value: "—" if value is None else f"{max(0.0, float(value)):.2f}"

# Which review step each role acts on in the card chain (its default tab on the card page).
ROLE_CARD_STEP = {role: status for status, (role, _, _) in card_rules.CHAIN.items()}
DECIDING_ROLES = (Role.STATION, Role.CENTRE, Role.ADMIN)


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTTPResponse:
    staff = getattr(request.ctx, "staff", None)
    body = _templates.get_template(template).render(
        staff=staff,
        role_label=labels.ROLE.get(staff.role, "") if staff else "",
        csrf=staff.csrf_token if staff else "",
        flash=request.args.get("msg"),
        calendar_warning=calendar_service.provisional_warning(today=china_today()) if staff else None,
        path=request.path,
        once=secrets.token_hex(8),
        **context,
    )
    return html(body, status=status, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"})


def _local(url: str | None, default: str = "/console/") -> str:
    """Only ever send the clerk back to a console page (no open redirect)."""
    path = urlsplit(url or "").path
    return path if path.startswith("/console/") else default


def _back(request: Request, message: str, *, key: str = "msg") -> HTTPResponse:
    return redirect(f"{_local(request.headers.get('referer'))}?{key}={quote(message)}")


# The query parameters each page understands; anything else in the address is answered with a Chinese 400
# page (a stale bookmark or a hand-edited link must not be silently ignored or turn into a 500).
COMMON_ARGS = {"msg"}
# A page with lists adds each list's parameters (``ListSpec.args``) next to where the list is declared.
PAGE_ARGS: dict[str, set[str]] = {"review_detail": {"error"}, "pickups": {"error", "code", "booking"}}


def page(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
    """A logged-in page: an expired session goes to the login page; a refused action comes back with its
    message in Chinese; anything unexpected is logged and shown as a plain error page (never a trace)."""

    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        refused = await _authenticate_page(request)
        if refused is not None:
            return refused
        once = ((request.form or {}).get("once") or "")[:64] if request.method == "POST" else ""
        if once:
            # Each rendered form carries a one-time token: a double click, a resent form or a second tab
            # submitting the same page again changes nothing, whatever the service would do with a repeat.
            fresh = await request.app.ctx.kv.set(f"console:once:{request.ctx.staff.staff_id}:{once}", "1", ttl=6 * 3600, only_if_absent=True)
            if not fresh:
                return _back(request, "该表单已提交过，未重复办理")
        try:
            if request.method == "GET":
                unknown = sorted(set(request.args) - COMMON_ARGS - PAGE_ARGS.get(handler.__name__, set()))
                if unknown:
                    raise BadRequest(f"网址中的参数“{unknown[0]}”无法识别，请从菜单重新进入本页", code="unknown_query_parameter")
            return await handler(request, *args, **kwargs)
        except ApiError as exc:
            if request.method == "POST":
                return _back(request, exc.message)
            if exc.status == 404:
                return render(request, "error.html", status=404, title="未找到", message="未找到该页面，或您无权查看")
            if exc.status == 400:
                return render(request, "error.html", status=400, title="请求有误", message=exc.message)
            if exc.status == 403:
                return render(request, "error.html", status=403, title="无权操作", message=exc.message)
            return render(request, "error.html", status=exc.status, title="无法打开", message=exc.message)
        except Exception:
            log.exception("console page failed", extra={"path": request.path})
            return render(request, "error.html", status=500, title="系统出错", message=f"系统暂时出错，请稍后重试。如反复出现，请将编号 {getattr(request.ctx, 'request_id', '')} 告知管理员。")

    # Read by server.http's input guard: the login page comes before any judgement of the path's ids.
    wrapper.__authenticate__ = _authenticate_page  # type: ignore[attr-defined]
    return openapi.exclude()(wrapper)


async def _authenticate_page(request: Request) -> HTTPResponse | None:
    """None once the clerk is known; else the answer instead of the page (login, password change, error)."""
    try:
        await current_staff(request)
    except Unauthorized:
        target = request.path if request.method == "GET" else ""
        return redirect("/console/login?expired=1" + (f"&next={quote(target)}" if target.startswith("/console/") else ""))
    except ApiError as exc:  # the CSRF check: a stale or forged form, or a password that must change first
        if exc.code == "password_change_required":
            return redirect("/console/password")
        return render(request, "error.html", status=exc.status, title="操作未完成", message=exc.message, back=_local(request.headers.get("referer")))
    return None


def _int_arg(request: Request, name: str, default: int, *, minimum: int = 1, maximum: int = 100_000) -> int:
    """A whole-number query parameter; anything else is a 400 page in Chinese (never a 500 or a guess)."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not minimum <= int(raw) <= maximum:
        raise BadRequest(f"参数“{name}”应为 {minimum} 到 {maximum} 之间的整数，请从菜单重新进入本页", code="bad_query_parameter")
    return int(raw)


def _choice_arg(request: Request, name: str, allowed: set[str] | dict[str, Any], default: str) -> str:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    if raw not in allowed:
        raise BadRequest(f"参数“{name}”的取值不正确，请从页面上的选项重新选择", code="bad_query_parameter")
    return raw


async def _names(model: type, ids: set[int]) -> dict[int, str]:
    return dict(await model.filter(id__in=list(ids)).values_list("id", "name")) if ids else {}


async def _open_campaign(request: Request) -> Campaign | None:
    items = [c for c in await campaigns.list_campaigns(scope=request.ctx.scope) if c.status == CampaignStatus.OPEN]
    return items[0] if items else None


# ---- login / logout -------------------------------------------------------------------------------


def _login_page(request: Request, *, message: str | None, username: str = "", next_url: str = "", status: int = 200, info: bool = False) -> HTTPResponse:
    security = request.app.ctx.settings.security
    csrf_token = login_form_token(request)
    body = _templates.get_template("login.html").render(message=message, username=username, next_url=next_url, info=info, max_failures=security.max_login_failures, lockout_minutes=max(1, security.lockout_seconds // 60), csrf_token=csrf_token)
    response = html(body, status=status, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})
    set_login_form_cookie(response, csrf_token, secure=not request.app.ctx.settings.is_development)
    return response


@bp.get("/login")
@openapi.exclude()
async def login_page(request: Request) -> HTTPResponse:
    if request.args.get("expired"):
        return _login_page(request, message="登录已超时，请重新登录", next_url=_local(request.args.get("next"), ""), info=True)
    if request.args.get("bye"):
        return _login_page(request, message="您已安全退出", info=True)
    return _login_page(request, message=None, next_url=_local(request.args.get("next"), ""))


@bp.post("/login")
@openapi.exclude()
async def login_submit(request: Request) -> HTTPResponse:
    form = request.form or {}
    username, password = (form.get("username") or "").strip(), form.get("password") or ""
    next_url = _local(form.get("next"))
    if not login_form_is_genuine(request):
        return _login_page(request, message="页面已过期，请重新输入后登录", username=username, next_url=next_url, status=403)
    if not username or not password:
        return _login_page(request, message="请输入用户名和密码", username=username, next_url=next_url, status=422)
    try:
        token, _ = await auth_service.login(kv=request.app.ctx.kv, security=request.app.ctx.settings.security, username=username, password=password, request_id=request.ctx.request_id, source=client_address(request))
    except ApiError as exc:
        return _login_page(request, message=exc.message, username=username, next_url=next_url, status=exc.status)
    response = redirect(next_url)
    response.add_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=not request.app.ctx.settings.is_development, path="/")
    return response


@bp.get("/password")
@page
async def password_page(request: Request) -> HTTPResponse:
    return render(request, "password.html", must_change=await _must_change_password(request), min_length=MIN_PASSWORD_LENGTH)


@bp.post("/password")
@page
async def password_submit(request: Request) -> HTTPResponse:
    """Change one's own password (the one-time password of a new account first of all): every other session
    ends, and this browser gets a fresh one."""
    form = request.form or {}
    old, new, again = form.get("old_password") or "", form.get("new_password") or "", form.get("new_password_again") or ""
    must_change = await _must_change_password(request)
    problem = None
    if not old or not new:
        problem = "请填写原密码和新密码"
    elif new != again:
        problem = "两次输入的新密码不一致"
    elif len(new) < MIN_PASSWORD_LENGTH:
        problem = f"新密码至少 {MIN_PASSWORD_LENGTH} 位"
    if problem:
        return render(request, "password.html", status=422, must_change=must_change, min_length=MIN_PASSWORD_LENGTH, error=problem)
    try:
        token, _ = await auth_service.change_password(kv=request.app.ctx.kv, security=request.app.ctx.settings.security, staff_id=request.ctx.staff.staff_id, old_password=old, new_password=new, actor=request.ctx.actor)
    except ApiError as exc:
        return render(request, "password.html", status=exc.status, must_change=must_change, min_length=MIN_PASSWORD_LENGTH, error=exc.message)
    response = redirect("/console/?msg=" + quote("已修改密码，其他设备上的登录已失效"))
    response.add_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=not request.app.ctx.settings.is_development, path="/")
    return response


async def _must_change_password(request: Request) -> bool:
    return bool(await Staff.filter(id=request.ctx.staff.staff_id, must_change_password=True).exists())


@bp.post("/logout")
@page
async def logout(request: Request) -> HTTPResponse:
    await sessions.end_session(request.app.ctx.kv, request.ctx.session_token)
    response = redirect("/console/login?bye=1")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---- 今日待办 ------------------------------------------------------------------------------------------


async def _visits_by_bracket(scope: Any, campaign: Campaign) -> list[dict[str, Any]]:
    progress = await reports.progress(scope=scope, campaign_id=campaign.id)
    by_bracket: dict[str, dict[str, int]] = {}
    for row in progress["rows"]:
        cell = by_bracket.setdefault(row["age_bracket_label"], {"people": 0, "required": 0, "done": 0, "confirmed": 0})
        cell["people"] += row["people"]
        cell["required"] += row["home_visits_required"]
        cell["done"] += row["home_visited"]
        cell["confirmed"] += row["confirmed"]
    order = list(reports.BRACKET_LABELS.values())
    return [{"bracket": k, **v, "missing": max(0, v["required"] - v["done"])} for k, v in sorted(by_bracket.items(), key=lambda kv: order.index(kv[0]))]


@bp.get("/")
@page
async def home(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    today = labels.china_now().date()
    items = [review.item_summary(i) for i in await review.list_items(scope=scope, status=ReviewStatus.OPEN, overdue_only=False, station_id=None)]
    campaign = await _open_campaign(request)
    visits = await _visits_by_bracket(scope, campaign) if campaign is not None else []
    overdue_cards = await card_applications.list_applications(scope=scope, status=None, overdue_only=True, problems_only=False)
    overdue_delivery = await issuance.list_cards(scope=scope, status=None, overdue_only=True)
    pickups = await booking.todays_bookings(scope=scope, day=today)
    names = await _names(Beneficiary, {a.beneficiary_id for a in overdue_cards})
    return render(
        request,
        "home.html",
        today=today,
        reviews=items,
        overdue_reviews=[r for r in items if r["overdue"]],
        due_today=[r for r in items if r["due_date"] == today.isoformat()],
        campaign=campaign,
        visits=visits,
        overdue_cards=[{**card_applications.application_json(a), "name": names.get(a.beneficiary_id, "")} for a in overdue_cards],
        overdue_delivery=len(overdue_delivery),
        pickups=[{**booking.booking_json(b), "slot": booking.slot_json(b.slot)} for b in pickups],
        pickups_waiting=sum(1 for b in pickups if b.status.value == "active"),
        unsent=len(await work.unsent_messages(scope=scope, include_handled=False)),
        proxies_pending=len(await proxies.list_for_station(scope=scope, status=ProxyStatus.PENDING)),
        cards_to_deliver=len(await issuance.list_cards(scope=scope, status=CardStatus.AT_STATION, overdue_only=False)),
        my_step=ROLE_CARD_STEP.get(scope.role),
        my_step_count=len(await card_applications.list_applications(scope=scope, status=ROLE_CARD_STEP[scope.role], overdue_only=False, problems_only=False)) if scope.role in ROLE_CARD_STEP else 0,
        campaign_json=campaigns.campaign_json(campaign) if campaign else None,
        days_left=(campaign.implementation_end - today).days if campaign else None,
        bureau_work={"resumptions": len(await suspensions.list_resumptions(scope=scope, status="pending")), "overpayments": len(await deaths.list_overpayments(scope=scope, outstanding_only=True))} if scope.role in (Role.BUREAU, Role.CENTRE, Role.CITY, Role.AUDITOR, Role.ADMIN) else None,
    )


# ---- 人脸核验 ------------------------------------------------------------------------------------------


REVIEWS = ListSpec(
    sorts={"due": by("due_date", "截止日期"), "name": by_name(), "submitted": by("submitted_at", "提交时间"), "station": by("station", "服务站")},
    default_sort="due",
    filters=(
        Filter("status", "状态", {"open": "待处理", "accepted": "已通过", "rejected": "未通过"}, default="open", all_label=None),
        Filter("station", "服务站", {}, field="station_id"),
        Filter("overdue", "期限", {"1": "已超期"}),
    ),
)

PAGE_ARGS["review_list"] = REVIEWS.args


@bp.get("/reviews")
@page
async def review_list(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    lst = REVIEWS.read(request, choices={"station": await station_choices(scope)})
    items = await review.list_items(scope=scope, status=ReviewStatus(lst.value("status")), overdue_only=lst.value("overdue") == "1", station_id=None)
    lst.apply(await work.with_people([review.item_summary(i) for i in items]))
    return render(request, "review_list.html", lst=lst, items=lst.items, filter_status=lst.value("status"), show_station=scope.role != Role.STATION)


@bp.get("/reviews/<item_id:int>")
@page
async def review_detail(request: Request, item_id: int) -> HTTPResponse:
    scope = request.ctx.scope
    evidence = await review.evidence(scope=scope, item_id=item_id)
    open_ids = [i.id for i in await review.list_items(scope=scope, status=ReviewStatus.OPEN, overdue_only=False, station_id=None)]
    position = open_ids.index(item_id) if item_id in open_ids else -1
    scores = evidence.get("scores") or {}
    frame_scores = {f.get("index"): f for f in scores.get("frames", []) if isinstance(f, dict)}
    engine = getattr(request.app.ctx, "face", None)
    face = engine.config if engine is not None else face_config(request.app.ctx.settings)
    return render(
        request,
        "review_detail.html",
        item=evidence,
        frames=[{**f, "detail": frame_scores.get(f["index"], {}), "evidence": f["index"] in (scores.get("evidence_frames") or [])} for f in evidence["frames"]],
        reference_scores=scores.get("reference_similarities") or [],
        consistency=scores.get("consistency"),
        thresholds={"pass": face.match_pass_threshold, "fail": face.match_fail_threshold},
        position=position + 1,
        open_count=len(open_ids),
        previous_id=open_ids[position - 1] if position > 0 else None,
        next_id=open_ids[position + 1] if 0 <= position < len(open_ids) - 1 else (open_ids[0] if position == -1 and open_ids else None),
        can_decide=scope.role in DECIDING_ROLES and scope.can_write,
        can_accept=bool(evidence["references"]),
        error=request.args.get("error"),
    )


@bp.post("/reviews/<item_id:int>/decide")
@page
async def review_decide(request: Request, item_id: int) -> HTTPResponse:
    form = request.form or {}
    decision = form.get("decision")
    reason = (form.get("reason") or "").strip()
    if decision not in ("accept", "reject"):
        return redirect(f"/console/reviews/{item_id}?error={quote('请选择“通过”或“不通过”')}")
    accept = decision == "accept"
    if not accept and len(reason) < 2:
        return redirect(f"/console/reviews/{item_id}?error={quote('选择“不通过”时必须填写原因（至少2个字），以便通知本人')}")
    scope = request.ctx.scope
    open_ids = [i.id for i in await review.list_items(scope=scope, status=ReviewStatus.OPEN, overdue_only=False, station_id=None)]
    following = [i for i in open_ids if i > item_id] + [i for i in open_ids if i < item_id]
    evidence = await review.evidence(scope=scope, item_id=item_id)
    if accept and not evidence["references"]:
        # Nothing to compare the frames with: the person must come in with the ID card (station confirmation).
        return redirect(f"/console/reviews/{item_id}?error={quote('尚无身份证照片可供比对，不能判定通过。请选择“不通过”并请本人持身份证到服务站办理')}")
    try:
        await review.decide(scope=scope, actor=request.ctx.actor, item_id=item_id, accept=accept, reason=reason)
    except ApiError as exc:
        if exc.code != "review_already_decided":
            raise
        # A second click or a colleague was faster: nothing was changed twice; carry on with the queue.
        message = quote(f"{evidence['name']} 的核验已被处理，未重复操作")
    else:
        told = await work.notification_outcome(dedupe_prefix=f"review:{item_id}:")
        message = quote(f"已{'通过' if accept else '判定不通过'}：{evidence['name']}；{told}")
    if following:
        return redirect(f"/console/reviews/{following[0]}?msg={message}")
    return redirect(f"/console/reviews?msg={message}")


# ---- 优抚对象 ------------------------------------------------------------------------------------------


async def station_choices(scope: Any) -> dict[str, str]:
    """The stations in the clerk's scope, for a list's 服务站 filter, in pinyin order."""
    ids = await scope.station_ids()
    names = await _names(OrgUnit, set(ids if ids is not None else await OrgUnit.filter(kind="station").values_list("id", flat=True)))
    return {str(k): v for k, v in sorted(names.items(), key=lambda kv: work.pinyin_key(kv[1]))}


# Paged in the database (a district's whole registry): the same spec and bar, counted by the query.
PEOPLE = ListSpec(
    sorts={"name": by_name(), "birth": by("birth_date", "出生日期"), "station": by("station", "服务站")},
    default_sort="name",
    filters=(Filter("station", "服务站", {}), Filter("category", "类别", labels.CATEGORY), Filter("payment", "发放状态", labels.PAYMENT_STATUS)),
)

PAGE_ARGS["beneficiaries"] = PEOPLE.args


@bp.get("/beneficiaries")
@page
async def beneficiaries(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    lst = PEOPLE.read(request, choices={"station": await station_choices(scope)})
    station, category, payment = lst.value("station"), lst.value("category"), lst.value("payment")
    items, total = await work.search_people(
        scope=scope, q=lst.q, station_id=int(station) if station else None, category=Category(category) if category else None,
        status=PaymentStatus(payment) if payment else None, sort=lst.sort, page=lst.page, page_size=PEOPLE.page_size,
    )
    lst.window(total)
    station_of = await _names(OrgUnit, {b.station_id for b in items})
    village_of = await _names(OrgUnit, {b.village_id for b in items if b.village_id})
    lst.items = [{**registry.beneficiary_json(b), "station": station_of.get(b.station_id, ""), "village": village_of.get(b.village_id or 0, "")} for b in items]
    return render(request, "beneficiaries.html", lst=lst, items=lst.items)


@bp.get("/beneficiaries/<beneficiary_id:int>")
@page
async def beneficiary(request: Request, beneficiary_id: int) -> HTTPResponse:
    scope = request.ctx.scope
    person = await registry.get_beneficiary(scope=scope, beneficiary_id=beneficiary_id)
    confirmations = []
    for c in await Confirmation.filter(beneficiary_id=person.id).select_related("campaign").order_by("-id"):
        confirmations.append({**campaigns.confirmation_json(c), "campaign": c.campaign.name, "records": [records.record_json(r) for r in await records.history(confirmation_id=c.id)]})
    grants = [g for g in await proxies.list_for_station(scope=scope, status=None) if g.beneficiary_id == person.id]
    current_row = await campaigns.current_confirmation(beneficiary_id=person.id)
    current = None
    if current_row is not None:
        await current_row.fetch_related("campaign")
        if current_row.campaign.status == CampaignStatus.OPEN:
            current = {**campaigns.confirmation_json(current_row), "campaign": current_row.campaign.name, "deadline": current_row.campaign.implementation_end.isoformat()}
    station = await OrgUnit.get_or_none(id=person.station_id)
    return render(
        request,
        "beneficiary.html",
        person=registry.beneficiary_json(person),
        station=station.name if station else "",
        category=CATEGORY_LABELS[person.category],
        confirmations=confirmations,
        proxies=[proxies.proxy_json(g) for g in grants],
        history=await registry.status_history(beneficiary_id=person.id),
        can_reveal=scope.can_see_full_id_number,
        current=current,
        may_record=scope.can_write and scope.role in (Role.STATION, Role.CENTRE, Role.ADMIN) and current is not None,
        applications=[card_applications.application_json(a) for a in await CardApplication.filter(beneficiary_id=person.id).order_by("-id")],
        card_kind=card_eligibility.card_kind_for(person.category),
        may_apply=scope.can_write and scope.role in (Role.STATION, Role.ADMIN),
        documents=await work.documents_of(scope=scope, beneficiary_id=person.id),
        today=labels.china_now().date().isoformat(),
    )


# ---- 年度确认 ------------------------------------------------------------------------------------------


@bp.get("/campaigns")
@page
async def campaign_list(request: Request) -> HTTPResponse:
    items = await campaigns.list_campaigns(scope=request.ctx.scope)
    return render(request, "campaigns.html", items=[campaigns.campaign_json(c) for c in items])


# Two lists on the campaign page: the suspension proposals (search, station, paging; the ticked count is
# what the bureau approves) and the notices (``notice_`` parameters).
PROPOSALS = ListSpec(
    sorts={"name": by_name(), "station": by("station", "服务站"), "amount": by("monthly_amount_value", "月发放金额", missing=0)},
    default_sort="station",
    filters=(Filter("station", "服务站", {}, field="station_id"),),
    page_size=100,
)
NOTICES = ListSpec(filters=(Filter("published", "发布情况", {"no": "未发布", "yes": "已发布"}, field="published_key"),), search=False, page_size=10, prefix="notice_")
PAGE_ARGS["campaign"] = PROPOSALS.args | NOTICES.args


@bp.get("/campaigns/<campaign_id:int>")
@page
async def campaign(request: Request, campaign_id: int) -> HTTPResponse:
    scope = request.ctx.scope
    stations_in_scope = await station_choices(scope)
    proposal_list = PROPOSALS.read(request, choices={"station": stations_in_scope})
    notice_list = NOTICES.read(request)
    item = await campaigns.get_campaign(scope=scope, campaign_id=campaign_id)
    progress = await reports.progress(scope=scope, campaign_id=campaign_id)
    proposals = await suspensions.list_proposals(scope=scope, campaign_id=campaign_id, status=SuspensionStatus.PROPOSED)
    summary = await reports.summary(scope=scope, campaign_id=campaign_id)
    notice_rows = await notices.list_notices(scope=scope, campaign_id=campaign_id)
    notice_stations = await _names(OrgUnit, {n.station_id for n in notice_rows if n.station_id})
    proposal_list.apply(await work.with_people([{**suspensions.proposal_json(p, p.beneficiary), "station_id": p.beneficiary.station_id, "monthly_amount_value": float(p.beneficiary.monthly_amount or 0)} for p in proposals]))
    notice_jobs = await notices.generation_jobs(notice_rows)
    notice_list.apply([{**notices.notice_json(n, generation=notice_jobs.get(n.id)), "station": notice_stations.get(n.station_id, ""), "published_key": "yes" if n.published_on else "no"} for n in sorted(notice_rows, key=lambda n: -n.id)])
    notice_by_id = {n.id: n for n in notice_rows}
    # A published notice's messages job (its progress while it runs).
    notice_messages = {i["id"]: notices.messages_json(await notices.messages_job(notice_by_id[i["id"]])) for i in notice_list.items if i["published_on"]}
    brackets = await _visits_by_bracket(scope, item)
    unconfirmed = {labels.label(labels.CONFIRMATION_STATUS, k): v for k, v in summary["unconfirmed_by_status"].items()}
    return render(
        request,
        "campaign.html",
        campaign=campaigns.campaign_json(item),
        progress=progress,
        station_chart=charts.station_bracket_chart(progress["rows"]),
        bracket_chart=charts.bracket_quota_chart(brackets),
        brackets=brackets,
        proposal_list=proposal_list,
        proposals=proposal_list.items,
        proposals_total=len(proposals),
        notice_list=notice_list,
        summary=summary,
        unconfirmed=unconfirmed,
        can_approve=scope.role in (Role.BUREAU, Role.ADMIN),
        notices=notice_list.items,
        spot=await spot_checks.spot_check_status(scope=scope, campaign_id=campaign_id),
        overpayments_outstanding=len(await deaths.list_overpayments(scope=scope, outstanding_only=True)),
        resumptions_pending=len(await suspensions.list_resumptions(scope=scope, status="pending")),
        today=labels.china_now().date().isoformat(),
        may_notice=scope.can_write and scope.role in (Role.STATION, Role.CENTRE, Role.BUREAU, Role.ADMIN),
        may_county_notice=scope.role in (Role.CENTRE, Role.BUREAU, Role.ADMIN),
        notice_stations_choice=list(stations_in_scope.items()),
        opening=campaigns.opening_json(job) if (job := await campaigns.latest_opening(campaign_id=campaign_id)) else None,
        may_open=item.status.value != "closed" and scope.can_write and scope.role in (Role.BUREAU, Role.ADMIN),
        notice_messages=notice_messages,
        notices_generating=any(n["state"] == "generating" for n in notice_list.items),
        may_draw=scope.can_write and scope.role in (Role.CENTRE, Role.BUREAU, Role.ADMIN),
        may_import_deaths=scope.can_write and scope.role in (Role.BUREAU, Role.ADMIN),
    )


@bp.post("/suspensions/approve")
@page
async def approve_suspensions(request: Request) -> HTTPResponse:
    ids = [int(x) for x in (request.form.getlist("proposal_id") or []) if x.isascii() and x.isdigit() and len(x) <= 9] if request.form else []
    if not ids:
        return _back(request, "请先勾选要批准暂停发放的人员")
    result = await suspensions.approve(scope=request.ctx.scope, actor=request.ctx.actor, proposal_ids=ids)
    message = f"已批准暂停发放 {len(result['approved'])} 人，自下月起停发" + (f"；{len(result['withdrawn'])} 人已完成确认，提议已撤销" if result["withdrawn"] else "")
    return _back(request, message)


# ---- 优待证 ------------------------------------------------------------------------------------------


CARD_LIST = ListSpec(
    sorts={"due": by("due_date", "应办结"), "name": by_name(), "id": by("id", "编号", missing=0), "station": by("station", "服务站")},
    default_sort="due",
    filters=(
        Filter("status", "环节", {**{s.value: card_rules.STATUS_LABELS[s] for s in ApplicationStatus}, "overdue": "审核超期", "all": "全部"}, all_label=None),
        Filter("station", "服务站", {}, field="station_id"),
        Filter("kind", "证件种类", labels.CARD_KIND, field="card_kind"),
        Filter("channel", "申请方式", labels.CHANNEL, field="channel"),
        Filter("problems", "问题件", {"1": "仅问题件"}),
    ),
)
PAGE_ARGS["cards"] = CARD_LIST.args


@bp.get("/cards")
@page
async def cards(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    default = ROLE_CARD_STEP.get(scope.role)
    spec = replace(CARD_LIST, filters=(replace(CARD_LIST.filters[0], default=default.value if default else "all"), *CARD_LIST.filters[1:]))
    lst = spec.read(request, choices={"station": await station_choices(scope)})
    everything = await card_applications.list_applications(scope=scope, status=None, overdue_only=False, problems_only=lst.value("problems") == "1")
    rows = [card_applications.application_json(a) for a in everything]
    counts: dict[str, int] = {}
    for a in rows:
        counts[a["status"]] = counts.get(a["status"], 0) + 1
    status = lst.value("status")
    shown = [a for a in rows if status == "all" or (status == "overdue" and a["overdue"]) or a["status"] == status]
    lst.apply(await work.with_people(shown))
    return render(
        request,
        "cards.html",
        lst=lst,
        items=lst.items,
        filter_status=status,
        counts=counts,
        overdue_count=sum(1 for a in rows if a["overdue"]),
        statuses=[(s.value, card_rules.STATUS_LABELS[s]) for s in ApplicationStatus],
        my_step=default.value if default else None,
        chain={s.value: role.value for s, (role, _, _) in card_rules.CHAIN.items()},
        role=scope.role.value,
        can_write=scope.can_write,
        sees_shipments=scope.role in (Role.CENTRE, Role.BUREAU, Role.CITY, Role.AUDITOR, Role.ADMIN),
    )


@bp.post("/cards/<application_id:int>/transition")
@page
async def card_transition(request: Request, application_id: int) -> HTTPResponse:
    form = request.form or {}
    action = form.get("action")
    if action not in ("pass", "return"):
        return _back(request, "请选择“通过”或“退回”")
    version = form.get("version") or ""
    await card_applications.transition(
        scope=request.ctx.scope,
        actor=request.ctx.actor,
        settings=request.app.ctx.settings,
        application_id=application_id,
        action=action,
        reason=(form.get("reason") or "").strip(),
        expected_version=int(version) if version.isascii() and version.isdigit() and len(version) <= 9 else None,
    )
    return _back(request, f"申请 {application_id} 已" + ("通过，转下一环节" if action == "pass" else "退回"))


# ---- 领证签到 ------------------------------------------------------------------------------------------


BOOKINGS = ListSpec(
    sorts={"time": by("start_time", "时段"), "name": by_name()},
    default_sort="time",
    filters=(Filter("status", "状态", labels.BOOKING_STATUS, field="status"), Filter("station", "服务站", {}, field="station_id")),
    search_hint="姓名、身份证号后4位、电话或预约码",
)
SLOTS = ListSpec(
    sorts={"day": by("day", "日期"), "station": by("station", "服务站")},
    default_sort="day",
    filters=(Filter("station", "服务站", {}, field="station_id"), Filter("full", "名额", {"free": "尚有名额", "full": "已满"}, field="full_key")),
    search=False,
    page_size=20,
    prefix="slot_",
)
PAGE_ARGS["pickups"] |= BOOKINGS.args | SLOTS.args


@bp.get("/pickups")
@page
async def pickups(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    stations = await station_choices(scope)
    booking_list = BOOKINGS.read(request, choices={"station": stations})
    slot_list = SLOTS.read(request, choices={"station": stations})
    today = labels.china_now().date()
    items = await booking.todays_bookings(scope=scope, day=today)
    booking_list.apply(await work.with_people([{**booking.booking_json(b), "slot": booking.slot_json(b.slot), "start_time": b.slot.start_time, "station_id": b.slot.station_id, "beneficiary_id": b.card.beneficiary_id, "search_extra": b.short_code} for b in items]))
    slots = await (await scope.filter_by_station(PickupSlot.filter(day__gte=today, day__lte=today + timedelta(days=14)))).order_by("day", "start_time").limit(2000)
    slot_stations = await _names(OrgUnit, {s.station_id for s in slots})
    slot_list.apply([{**booking.slot_json(s), "station": slot_stations.get(s.station_id, ""), "station_id": s.station_id, "full_key": "free" if booking.slot_json(s)["available"] else "full"} for s in slots])
    may_publish = scope.can_write and scope.role in (Role.STATION, Role.ADMIN)
    return render(
        request,
        "pickups.html",
        today=today,
        booking_list=booking_list,
        items=booking_list.items,
        slot_list=slot_list,
        slots=slot_list.items,
        can_check_in=scope.role in (Role.STATION, Role.ADMIN),
        may_publish=may_publish,
        publish_stations=list(stations.items()),
        publish_start=today + timedelta(days=1),
        error=request.args.get("error"),
        request_code=request.args.get("code"),
        preview=await work.booking_preview(scope=scope, booking_id=_int_arg(request, "booking", 0, maximum=2**31)) if request.args.get("booking") and scope.role in (Role.STATION, Role.ADMIN) else None,
    )


@bp.post("/pickups/check-in")
@page
async def pickup_check_in(request: Request) -> HTTPResponse:
    form = request.form or {}
    code = (form.get("code") or "").strip()
    if not code:
        return redirect(f"/console/pickups?error={quote('请扫描二维码或输入8位预约码')}")
    token, short_code = (code, None) if "." in code else (None, code)
    try:
        result = await booking.check_in(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, token=token, short_code=short_code)
    except ApiError as exc:
        return redirect(f"/console/pickups?error={quote(exc.message)}&code={quote(code[:80])}")
    card = await Booking.get(id=result.id).select_related("card")
    person = await Beneficiary.get_or_none(id=card.card.beneficiary_id)
    who = f"{person.name}的" if person else ""
    return redirect(f"/console/pickups?msg={quote(f'签到成功：预约码 {result.short_code}，{who}优待证已发放' + ('（代领）' if result.as_proxy else ''))}")


# ---- 报表下载 ------------------------------------------------------------------------------------------


@bp.get("/reports")
@page
async def report_downloads(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    items = await campaigns.list_campaigns(scope=scope)
    may_download_snapshots = scope.role in (Role.CENTRE, Role.BUREAU, Role.CITY, Role.AUDITOR, Role.ADMIN)
    rows = []
    for c in items:
        weekly = await ReportSnapshot.filter(kind="weekly_progress", scope_unit_id=c.district_id).order_by("-period").limit(12) if may_download_snapshots else []
        rows.append({**campaigns.campaign_json(c), "weekly": [{"id": s.id, "period": s.period, "created_at": s.created_at.isoformat(), "has_xlsx": bool(s.xlsx_path)} for s in weekly]})
    monthly = await ReportSnapshot.filter(kind="card_monthly").order_by("-period").limit(12) if may_download_snapshots else []
    visible_units = {None} if scope.is_global else set(await OrgUnit.filter(id__in=list(await scope.station_ids() or [])).values_list("parent_id", flat=True))
    return render(
        request,
        "reports.html",
        campaigns=rows,
        monthly=[{"id": s.id, "period": s.period, "created_at": s.created_at.isoformat(), "has_xlsx": bool(s.xlsx_path)} for s in monthly if scope.is_global or s.scope_unit_id in visible_units],
        may_download_snapshots=may_download_snapshots,
    )



@bp.get("/reports/monthly/<snapshot_id:int>/xlsx")
@page
async def monthly_snapshot(request: Request, snapshot_id: int) -> HTTPResponse:
    """A kept monthly card-statistics snapshot (before the 20th), for the district it was made for."""
    scope = request.ctx.scope
    scope.require_role(Role.CENTRE, Role.BUREAU, Role.CITY, Role.AUDITOR)
    snapshot = await ReportSnapshot.get_or_none(id=snapshot_id, kind="card_monthly")
    visible = scope.is_global or (snapshot is not None and snapshot.scope_unit_id in set(await OrgUnit.filter(id__in=list(await scope.station_ids() or [])).values_list("parent_id", flat=True)))
    if snapshot is None or snapshot.xlsx_path is None or not visible:
        raise NotFound("报表不存在", code="report_not_found")
    return await file(media.resolve(request.app.ctx.settings.media_dir, snapshot.xlsx_path), mime_type=xlsx.MIME, headers=xlsx.download_headers(f"优待证月度统计-{snapshot.period}.xlsx"))


# ---- unknown console addresses ----------------------------------------------------------------------


@bp.route("/<rest:path>", methods=["GET", "POST"])
@openapi.exclude()
async def unknown_page(request: Request, rest: str) -> HTTPResponse:
    """A mistyped or stale console address: a Chinese page, not the API's English JSON 404."""
    if not rest.strip("/") and request.method == "GET":  # the router may hand /console/ itself to this route
        return await home(request)
    try:
        await current_staff(request)
    except ApiError:
        pass
    return render(request, "error.html", status=404, title="未找到", message="未找到该页面。请从上方菜单进入。")


from server.console import bureau, daily  # noqa: F401,E402  (register the data-entry pages on the same blueprint)
