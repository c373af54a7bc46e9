"""The console's data entry for the daily work: what the two seeds ask a station clerk, the centre, the
bureau and the city to record. Each handler checks the same roles as the matching JSON route, then calls
the same service with the same Scope; the services audit. Irreversible steps are confirmed in the page
(naming the person or the count) and every form disables its button after the first click; the services
refuse a repeat (a second click changes nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time
from typing import Any
from urllib.parse import quote

from sanic import Request
from sanic.response import HTTPResponse, ResponseStream, file, redirect

from models.cards import CardKind, CardStatus, PickupSlot
from models.confirmation import ConfirmationStatus, SpotCheck
from models.org import OrgUnit
from models.registry import Beneficiary
from models.staff import Role
from models.wechat import ProxyStatus, TransferStatus
from server import import_jobs, labels, xlsx
from server.cards import applications as card_applications
from server.cards import booking, issuance
from server.cards import eligibility as card_eligibility
from server.cards import rules as card_rules
from server.confirmation import campaigns, deaths, notices, records, spot_checks
from server.console import work
from server.console.listing import Filter, ListSpec, by, by_name
from server.console.routes import (
    PAGE_ARGS,
    _back,
    _local,
    _names,
    bp,
    page,
    render,
    station_choices,
)
from server.errors import ApiError, BadRequest, Conflict, NotFound, PayloadTooLarge
from server.miniapp import proxies
from server.miniapp import service as miniapp_service
from server.notifications import unsent as unsent_service
from server.registry import service as registry


def _allow(request: Request, *roles: Role) -> None:
    """The same role rule as the JSON route (``staff_required(*roles, write=True)``)."""
    scope = request.ctx.scope
    scope.require_role(*roles)
    scope.require_write()


def _upload(request: Request, field: str, *, limit: int, required: bool = False) -> bytes | None:
    upload = request.files.get(field) if request.files else None
    if upload is None or not upload.body:
        if required:
            raise BadRequest("请选择要上传的文件", code="missing_file")
        return None
    if len(upload.body) > limit:
        raise PayloadTooLarge(f"文件过大（不超过 {limit // 1024 // 1024} MB）", code="file_too_large")
    return upload.body


def _form(request: Request, name: str) -> str:
    return ((request.form or {}).get(name) or "").strip()


def _ok(target: str, message: str) -> HTTPResponse:
    return redirect(f"{target}?msg={quote(message)}")


def _parse_date(raw: str, what: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequest(f"{what}格式不正确，应为 年-月-日", code="bad_date") from exc


# ---- 年度确认：服务站办理、上门走访 --------------------------------------------------------------------


def _updates(request: Request) -> records.PersonUpdates:
    phone, address = _form(request, "phone"), _form(request, "address")
    hardship = _form(request, "hardship")
    return records.PersonUpdates(phone=phone or None, address=address or None, hardship=True if hardship == "1" else None, hardship_note=_form(request, "hardship_note") or None)


@bp.post("/confirmations/<confirmation_id:int>/station")
@page
async def station_confirm(request: Request, confirmation_id: int) -> HTTPResponse:
    _allow(request, Role.STATION, Role.CENTRE)
    settings = request.app.ctx.settings
    existing = await records.get_confirmation(scope=request.ctx.scope, confirmation_id=confirmation_id)
    if existing.status == ConfirmationStatus.CONFIRMED:
        return _back(request, f"{existing.beneficiary.name} 本年度已确认，未重复登记")
    c = await records.record_station_confirmation(
        scope=request.ctx.scope, actor=request.ctx.actor, confirmation_id=confirmation_id, notes=_form(request, "notes"), updates=_updates(request),
        photo=_upload(request, "photo", limit=settings.uploads.max_image_bytes), media_dir=settings.media_dir,
    )
    person = await Beneficiary.get(id=c.beneficiary_id)
    return _ok(f"/console/beneficiaries/{person.id}", f"已登记：{person.name} 在服务站完成年度确认")


@bp.post("/confirmations/<confirmation_id:int>/home-visit")
@page
async def home_visit(request: Request, confirmation_id: int) -> HTTPResponse:
    _allow(request, Role.STATION, Role.CENTRE)
    settings = request.app.ctx.settings
    outcome = _form(request, "outcome")
    visitors = _form(request, "visitors")
    if not visitors:
        raise BadRequest("请填写走访人员", code="visitors_required")
    day = _parse_date(_form(request, "visited_on") or labels.china_now().date().isoformat(), "走访日期")
    clock = _form(request, "visited_time") or "09:00"
    try:
        at = datetime.combine(day, time.fromisoformat(clock), tzinfo=labels.CHINA)
    except ValueError as exc:
        raise BadRequest("走访时间格式不正确，应为 时:分", code="bad_time") from exc
    death_raw = _form(request, "death_date")
    visit = records.HomeVisit(
        outcome=outcome, visited_at=at, visitors=visitors, notes=_form(request, "notes"), location=_form(request, "location"),
        death_date=_parse_date(death_raw, "死亡日期") if death_raw else None, updates=_updates(request),
    )
    c = await records.record_home_visit(scope=request.ctx.scope, actor=request.ctx.actor, confirmation_id=confirmation_id, visit=visit, photo=_upload(request, "photo", limit=settings.uploads.max_image_bytes), media_dir=settings.media_dir)
    person = await Beneficiary.get(id=c.beneficiary_id)
    return _ok(f"/console/beneficiaries/{person.id}", f"已登记上门走访：{person.name}，{labels.label(labels.VISIT_OUTCOME, outcome)}")


# ---- 档案材料（照片、签字表格、授权材料、破损照片）：按范围查看，逐次审计 ---------------------------------


@bp.get("/documents/<key:str>")
@page
async def document(request: Request, key: str) -> HTTPResponse:
    path = await work.open_document(scope=request.ctx.scope, actor=request.ctx.actor, media_dir=request.app.ctx.settings.media_dir, key=key)
    if not path.exists():
        raise NotFound("文件已按保存期限清除", code="document_gone")
    response = await file(path)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---- 优待证：现场申请、打印表格、上传签字表格 --------------------------------------------------------------


@bp.post("/beneficiaries/<beneficiary_id:int>/card-application")
@page
async def on_site_application(request: Request, beneficiary_id: int) -> HTTPResponse:
    _allow(request, Role.STATION)
    scope = request.ctx.scope
    person = await registry.get_beneficiary(scope=scope, beneficiary_id=beneficiary_id)
    await scope.require_station_writable(person.station_id)
    kind = card_eligibility.card_kind_for(person.category)
    if kind is None:
        raise BadRequest("该优抚类别不属于优待证申领对象", code="not_eligible")
    chosen = _form(request, "card_kind") or kind.value
    if chosen not in {k.value for k in CardKind}:
        raise BadRequest("请选择证件种类", code="bad_card_kind")
    application = await card_applications.create_application(actor=request.ctx.actor, settings=request.app.ctx.settings, beneficiary=person, card_kind=CardKind(chosen), channel="on_site", staff_id=request.ctx.staff.staff_id)
    return _ok(f"/console/beneficiaries/{person.id}", f"已为 {person.name} 登记现场申请（编号 {application.id}），请打印表格请本人签字后上传")


@bp.post("/cards/<application_id:int>/forms")
@page
async def upload_forms(request: Request, application_id: int) -> HTTPResponse:
    _allow(request, Role.STATION)
    scope = request.ctx.scope
    settings = request.app.ctx.settings
    application = await card_applications.get_application(scope=scope, application_id=application_id)
    await scope.require_station_writable(application.station_id)
    uploaded = []
    for form_name, text in (("application_form", "申领表"), ("bank_form", "银行借记卡信息确认书")):
        data = _upload(request, form_name, limit=settings.uploads.max_document_bytes)
        if data:
            application = await card_applications.attach_form(actor=request.ctx.actor, application=application, form=form_name, data=data, media_dir=settings.media_dir)
            uploaded.append(text)
    if not uploaded:
        raise BadRequest("请选择签字后的申领表或银行借记卡信息确认书（照片或PDF）", code="missing_file")
    person = await Beneficiary.get(id=application.beneficiary_id)
    return _back(request, f"已上传 {person.name} 签字的" + "、".join(uploaded))


@bp.get("/cards/<application_id:int>")
@page
async def application_detail(request: Request, application_id: int) -> HTTPResponse:
    scope = request.ctx.scope
    application = await card_applications.get_application(scope=scope, application_id=application_id)
    person = await Beneficiary.get(id=application.beneficiary_id)
    station = await OrgUnit.get_or_none(id=application.station_id)
    step_role = card_rules.CHAIN.get(application.status, (None,))[0]
    return render(
        request,
        "application.html",
        a=card_applications.application_json(application),
        person=registry.beneficiary_json(person),
        station=station.name if station else "",
        history=await card_applications.history(application_id=application.id),
        may_act=scope.can_write and step_role is not None and (scope.role == step_role or scope.role == Role.ADMIN),
        may_upload=scope.can_write and scope.role in (Role.STATION, Role.ADMIN),
    )


# ---- 制卡快递签收、服务站领回、发放 -----------------------------------------------------------------------


@bp.post("/shipments")
@page
async def receive_shipment(request: Request) -> HTTPResponse:
    _allow(request, Role.CENTRE)
    settings = request.app.ctx.settings
    ids_raw = _form(request, "application_ids").replace("，", ",").replace(" ", ",")
    ids = [int(x) for x in ids_raw.split(",") if x.strip().isdigit()]
    expected, counted = _form(request, "expected_count"), _form(request, "counted_count")
    if not _form(request, "tracking_number") or not expected.isdigit() or not counted.isdigit():
        raise BadRequest("请填写快递单号、应到数量和清点数量", code="shipment_fields")
    photos = [f.body for f in (request.files.getlist("photos") or []) if f.body] if request.files else []
    if any(len(p) > settings.uploads.max_image_bytes for p in photos):
        raise PayloadTooLarge("照片过大", code="image_too_large")
    shipment = await issuance.receive_shipment(
        scope=request.ctx.scope, actor=request.ctx.actor, tracking_number=_form(request, "tracking_number"), expected_count=int(expected), counted_count=int(counted),
        envelope_intact=_form(request, "envelope_intact") == "1", cards_intact=_form(request, "cards_intact") == "1", application_ids=ids,
        damage_description=_form(request, "damage_description"), damage_photos=photos, media_dir=settings.media_dir,
    )
    if shipment.status == "refused":
        return _ok("/console/issuance", f"已拒收快递 {shipment.tracking_number}，破损情况已报{shipment.report_to}")
    return _ok("/console/issuance", f"已签收快递 {shipment.tracking_number}，共 {len(ids)} 张优待证，已按服务站分拣")


DELIVERIES = ListSpec(
    sorts={"due": by("delivery_due", "应发放日期"), "name": by_name(), "station": by("station", "服务站")},
    default_sort="due",
    filters=(Filter("station", "服务站", {}, field="station_id"), Filter("overdue", "期限", {"1": "已超期"})),
)
PAGE_ARGS["issuance_page"] = DELIVERIES.args


@bp.get("/issuance")
@page
async def issuance_page(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    lst = DELIVERIES.read(request, choices={"station": await station_choices(scope)})
    at_centre = await issuance.list_cards(scope=scope, status=CardStatus.AT_CENTRE, overdue_only=False)
    at_station = await issuance.list_cards(scope=scope, status=CardStatus.AT_STATION, overdue_only=lst.value("overdue") == "1")
    centre_rows = await work.with_people([issuance.card_json(c) for c in at_centre])
    groups: dict[int, list[dict[str, Any]]] = {}
    for c in centre_rows:
        groups.setdefault(c["station_id"], []).append(c)
    lst.apply(await work.with_people([issuance.card_json(c) for c in at_station]))
    return render(
        request,
        "issuance.html",
        lst=lst,
        groups=[{"station_id": sid, "station": cards[0]["station"], "cards": cards} for sid, cards in groups.items()],
        at_station=lst.items,
        may_receive=scope.can_write and scope.role in (Role.CENTRE, Role.ADMIN),
        may_collect=scope.can_write and scope.role in (Role.STATION, Role.CENTRE, Role.ADMIN),
        may_deliver=scope.can_write and scope.role in (Role.STATION, Role.ADMIN),
        methods=[(k, v) for k, v in card_rules.DELIVERY_METHODS.items() if k != "pickup_appointment"],
        sees_shipments=True,
    )


SHIPMENTS = ListSpec(
    sorts={"received": by("received_at", "签收时间"), "tracking": by("tracking_number", "快递单号")},
    default_sort="-received",
    filters=(Filter("status", "结果", labels.SHIPMENT_STATUS, field="status"),),
    search_hint="快递单号",
)
PAGE_ARGS["shipments_page"] = SHIPMENTS.args


@bp.get("/shipments")
@page
async def shipments_page(request: Request) -> HTTPResponse:
    """Shipments of the reader's district (the same service as ``GET /api/cards/shipments``), with how each was
    sorted by station and its damage photos."""
    scope = request.ctx.scope
    lst = SHIPMENTS.read(request)
    rows = [{**issuance.shipment_json(s), "search_extra": s.tracking_number, "name": s.tracking_number} for s in await issuance.list_shipments(scope=scope)]
    lst.apply(rows)
    for row in lst.items:
        sorted_cards = await issuance.sorted_by_station(scope=scope, shipment_id=row["id"])
        names = await _names(OrgUnit, {g["station_id"] for g in sorted_cards["stations"]})
        row["stations"] = [{"name": names.get(g["station_id"], ""), "count": len(g["cards"])} for g in sorted_cards["stations"]]
    return render(request, "shipments.html", lst=lst, items=lst.items, may_receive=scope.can_write and scope.role in (Role.CENTRE, Role.ADMIN))


@bp.post("/issuance/collect")
@page
async def collect(request: Request) -> HTTPResponse:
    _allow(request, Role.STATION, Role.CENTRE)
    station_id = _form(request, "station_id")
    ids = [int(x) for x in (request.form.getlist("card_id") or []) if x.isdigit()] if request.form else []
    if not station_id.isdigit() or not ids:
        raise BadRequest("请勾选要领回的优待证", code="nothing_selected")
    try:
        cards = await issuance.collect_for_station(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, station_id=int(station_id), card_ids=ids)
    except Conflict:
        return _ok("/console/issuance", "这些优待证已领回（未重复登记）")
    due = cards[0].delivery_due.isoformat() if cards and cards[0].delivery_due else ""
    return _ok("/console/issuance", f"已领回 {len(cards)} 张优待证，请在 {due} 前发放到本人；已通知持证人")


@bp.post("/issuance/<card_id:int>/deliver")
@page
async def deliver(request: Request, card_id: int) -> HTTPResponse:
    _allow(request, Role.STATION)
    card = await issuance.deliver(
        scope=request.ctx.scope, actor=request.ctx.actor, card_id=card_id, method=_form(request, "method"), received_by=_form(request, "received_by"), id_checked=_form(request, "id_checked") == "1"
    )
    person = await Beneficiary.get(id=card.beneficiary_id)
    return _ok("/console/issuance", f"已登记发放：{person.name} 的优待证（{labels.label(labels.DELIVERY_METHOD, card.delivery_method)}）")


# ---- 领证签到：先看清是谁的证，再签到 ------------------------------------------------------------------


@bp.post("/pickups/lookup")
@page
async def pickup_lookup(request: Request) -> HTTPResponse:
    _allow(request, Role.STATION)
    code = _form(request, "code")
    if not code:
        return redirect(f"/console/pickups?error={quote('请扫描二维码或输入8位预约码')}")
    try:
        found = await work.find_booking(scope=request.ctx.scope, settings=request.app.ctx.settings, code=code)
    except ApiError as exc:
        return redirect(f"/console/pickups?error={quote(exc.message)}&code={quote(code[:80])}")
    return redirect(f"/console/pickups?booking={found.id}")


# ---- 代办授权、更换绑定 -----------------------------------------------------------------------------------


PROXIES = ListSpec(
    sorts={"requested": by("requested_at", "申请时间"), "name": by_name()},
    default_sort="requested",
    filters=(Filter("status", "状态", labels.PROXY_STATUS, default=ProxyStatus.PENDING.value, all_label=None), Filter("station", "服务站", {}, field="station_id")),
)
PAGE_ARGS["proxy_list"] = PROXIES.args


@bp.get("/proxies")
@page
async def proxy_list(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    lst = PROXIES.read(request, choices={"station": await station_choices(scope)})
    grants = await proxies.list_for_station(scope=scope, status=ProxyStatus(lst.value("status")))
    people = {b.id: b for b in await Beneficiary.filter(id__in=[g.beneficiary_id for g in grants])}
    rows = await work.with_people([{**proxies.proxy_json(g), "station_id": people[g.beneficiary_id].station_id if g.beneficiary_id in people else None, "search_extra": g.proxy_name} for g in grants])
    lst.apply(rows)
    transfers = await miniapp_service.list_transfers(scope=scope, status=TransferStatus.PENDING)
    return render(
        request,
        "proxies.html",
        lst=lst,
        filter_status=lst.value("status"),
        grants=lst.items,
        transfers=transfers,
        may_decide=scope.can_write and scope.role in (Role.STATION, Role.CENTRE, Role.ADMIN),
    )


@bp.post("/proxies/<grant_id:int>/approve")
@page
async def proxy_approve(request: Request, grant_id: int) -> HTTPResponse:
    _allow(request, Role.STATION, Role.CENTRE)
    settings = request.app.ctx.settings
    document_bytes = _upload(request, "document", limit=settings.uploads.max_document_bytes, required=True)
    grant = await proxies.approve_by_station(scope=request.ctx.scope, actor=request.ctx.actor, grant_id=grant_id, document=document_bytes or b"", media_dir=settings.media_dir)
    return _ok("/console/proxies", f"已同意 {grant.proxy_name} 代办，授权材料已存档")


@bp.post("/proxies/<grant_id:int>/reject")
@page
async def proxy_reject(request: Request, grant_id: int) -> HTTPResponse:
    _allow(request, Role.STATION, Role.CENTRE)
    reason = _form(request, "reason")
    if len(reason) < 2:
        raise BadRequest("请填写不同意的原因", code="reason_required")
    grant = await proxies.reject_by_station(scope=request.ctx.scope, actor=request.ctx.actor, grant_id=grant_id, reason=reason)
    return _ok("/console/proxies", f"已不同意 {grant.proxy_name} 代办")


@bp.post("/transfers/<transfer_id:int>/decide")
@page
async def transfer_decide(request: Request, transfer_id: int) -> HTTPResponse:
    _allow(request, Role.STATION, Role.CENTRE)
    approve = _form(request, "decision") == "approve"
    reason = _form(request, "reason")
    if not approve and len(reason) < 2:
        raise BadRequest("请填写不同意的原因", code="reason_required")
    await miniapp_service.decide_transfer(scope=request.ctx.scope, actor=request.ctx.actor, transfer_id=transfer_id, approve=approve, reason=reason)
    return _ok("/console/proxies", "已同意更换绑定" if approve else "已不同意更换绑定")


# ---- 待电话通知 -------------------------------------------------------------------------------------------


UNSENT = ListSpec(
    sorts={"time": by("created_at", "时间"), "name": by_name(), "station": by("station", "服务站")},
    default_sort="-time",
    filters=(Filter("show", "范围", {"open": "未处理", "all": "全部（含已电话告知）"}, default="open", all_label=None), Filter("station", "服务站", {}, field="station_id")),
)
PAGE_ARGS["unsent"] = UNSENT.args


@bp.get("/unsent")
@page
async def unsent(request: Request) -> HTTPResponse:
    scope = request.ctx.scope
    lst = UNSENT.read(request, choices={"station": await station_choices(scope)})
    rows = await work.unsent_messages(scope=scope, include_handled=lst.value("show") == "all")
    lst.apply([{**vars(r), "search_extra": r.title} for r in rows])
    return render(request, "unsent.html", lst=lst, rows=lst.items, show=lst.value("show"), may_handle=scope.can_write and scope.role in (Role.STATION, Role.CENTRE, Role.BUREAU, Role.ADMIN))


@bp.get("/unsent.xlsx")
@page
async def unsent_xlsx(request: Request) -> HTTPResponse | ResponseStream:
    """The phoning list to print or share: name, phone, station, what to tell them, why WeChat failed
    (all of it, however long: written page by page, flat memory)."""

    async def rows() -> AsyncIterator[list[list[Any]]]:
        async for found in work.unsent_pages(scope=request.ctx.scope, include_handled=False):
            yield [[r.name, r.phone, r.station, r.title, r.text, labels.label(labels.NOTIFICATION_STATUS, r.status) + (f"：{r.reason}" if r.reason else ""), labels.china_time(r.created_at)] for r in found]

    headers = [("姓名", 10), ("电话", 15), ("服务站", 24), ("事项", 18), ("要告知的内容", 60), ("未送达原因", 30), ("时间", 18)]
    name = f"待电话通知名单-{labels.china_now().date().isoformat()}.xlsx"
    return await xlsx.stream_download(name, xlsx.StreamSheet(title="待电话通知", headers=[h for h, _ in headers], widths=[w for _, w in headers], rows=rows()))


@bp.post("/unsent/<notification_id:int>/handled")
@page
async def unsent_handled(request: Request, notification_id: int) -> HTTPResponse:
    _allow(request, Role.STATION, Role.CENTRE, Role.BUREAU)
    try:
        await unsent_service.mark_handled(scope=request.ctx.scope, actor=request.ctx.actor, staff_id=request.ctx.staff.staff_id, notification_id=notification_id, note=_form(request, "note"))
    except Conflict:
        return _back(request, "该条已记录过（未重复登记）")
    return _back(request, "已记录：已电话告知")


# ---- 公告、抽查、死亡比对 --------------------------------------------------------------------------------
# ---- 公告、抽查、死亡比对 --------------------------------------------------------------------------------


@bp.post("/campaigns/<campaign_id:int>/open")
@page
async def open_campaign(request: Request, campaign_id: int) -> HTTPResponse:
    """The campaign opens at once; the people are added by a background job whose progress the
    campaign page shows (and refreshes itself while it runs)."""
    _allow(request, Role.BUREAU)
    settings = request.app.ctx.settings
    job = await campaigns.start_opening(scope=request.ctx.scope, actor=request.ctx.actor, campaign_id=campaign_id, settings=settings)
    job = await import_jobs.wait_for(job, settings.uploads.import_inline_wait_seconds)
    if job.status == "done":
        return _ok(f"/console/campaigns/{campaign_id}", f"已开启年度确认，已加入 {job.processed_rows} 人")
    return _ok(f"/console/campaigns/{campaign_id}", "已开启年度确认，正在后台加入人员（进度见本页）")



@bp.post("/campaigns/<campaign_id:int>/notices")
@page
async def generate_notice(request: Request, campaign_id: int) -> HTTPResponse:
    _allow(request, Role.STATION, Role.CENTRE, Role.BUREAU)
    station_raw = _form(request, "station_id")
    settings = request.app.ctx.settings
    notice, _ = await notices.start_notice(scope=request.ctx.scope, actor=request.ctx.actor, campaign_id=campaign_id, station_id=int(station_raw) if station_raw.isdigit() else None, settings=settings)
    notice, job = await notices.wait_generated(notice, wait_seconds=settings.uploads.import_inline_wait_seconds)
    if notices.notice_state(job) == "ready":
        return _ok(f"/console/campaigns/{campaign_id}", f"已生成公告（{notices.people_count(notice)} 人），请打印张贴后登记发布日期")
    return _ok(f"/console/campaigns/{campaign_id}", "正在后台生成公告（进度见公告列表，本页自动刷新），生成后请打印张贴并登记发布日期")


@bp.post("/notices/<notice_id:int>/publish")
@page
async def publish_notice(request: Request, notice_id: int) -> HTTPResponse:
    """Publication is recorded with the server's date (the 60 days run from it) and its evidence: a photo
    of each board or a capture of the website, as the API takes them."""
    _allow(request, Role.STATION, Role.CENTRE, Role.BUREAU)
    limit = request.app.ctx.settings.uploads.max_image_bytes
    evidence = []
    for channel in notices.CHANNELS:
        data = _upload(request, channel, limit=limit)
        if data:
            evidence.append(notices.Evidence(channel=channel, data=data, note=_form(request, "note")))
    settings = request.app.ctx.settings
    notice = await notices.publish_notice(scope=request.ctx.scope, actor=request.ctx.actor, notice_id=notice_id, evidence=evidence, media_dir=settings.media_dir, issuer=settings.confirmation.notice_issuer, settings=settings)
    published = notice.published_on.isoformat() if notice.published_on else ""
    job = await notices.messages_job(notice, wait_seconds=settings.uploads.import_inline_wait_seconds)
    told = "已通知" if job is not None and job.status == "done" else "正在通知（进度见公告列表）"
    return _ok(f"/console/campaigns/{notice.campaign_id}", f"已登记公告于 {published} 发布（证明材料 {len(evidence)} 份），公告所列 {notices.people_count(notice)} 人{told}")


@bp.post("/campaigns/<campaign_id:int>/spot-checks")
@page
async def draw_spot_check(request: Request, campaign_id: int) -> HTTPResponse:
    _allow(request, Role.CENTRE, Role.BUREAU)
    size_raw, pct_raw = _form(request, "size"), _form(request, "percentage")
    try:
        percentage = float(pct_raw) if pct_raw else None
    except ValueError as exc:
        raise BadRequest("抽查比例应为数字", code="bad_percentage") from exc
    if not size_raw and percentage is None:
        raise BadRequest("请填写抽查人数或比例", code="size_required")
    if size_raw and not size_raw.isdigit():
        raise BadRequest("抽查人数应为整数", code="bad_size")
    check = await spot_checks.draw_spot_check(scope=request.ctx.scope, actor=request.ctx.actor, campaign_id=campaign_id, size=int(size_raw) if size_raw else None, percentage=percentage, seed=_form(request, "seed") or None)
    return _ok(f"/console/spot-checks/{check.id}", f"已抽取 {check.sample_size} 人（随机种子 {check.seed}，可复核）")


SPOT_ITEMS = ListSpec(
    sorts={"name": by_name(), "station": by("station", "服务站")},
    default_sort="station",
    filters=(Filter("result", "抽查结果", {**labels.SPOT_RESULT, "none": "尚未登记"}, field="result_key"), Filter("station", "服务站", {}, field="station_id"), Filter("method", "确认方式", labels.METHOD, field="method")),
)
PAGE_ARGS["spot_check"] = SPOT_ITEMS.args


@bp.get("/spot-checks/<spot_check_id:int>")
@page
async def spot_check(request: Request, spot_check_id: int) -> HTTPResponse:
    scope = request.ctx.scope
    lst = SPOT_ITEMS.read(request, choices={"station": await station_choices(scope)})
    items = await spot_checks.list_items(scope=scope, spot_check_id=spot_check_id)
    check = await SpotCheck.get(id=spot_check_id)  # list_items above has checked it is in scope
    rows = [{"id": i.id, "beneficiary_id": i.confirmation.beneficiary_id, "station_id": i.station_id, "method": i.confirmation.method.value if i.confirmation.method else None, "status": i.confirmation.status.value, "result": i.result, "result_key": i.result or "none", "notes": i.notes} for i in items]
    lst.apply(await work.with_people(rows))
    return render(
        request,
        "spot_check.html",
        lst=lst,
        check=check,
        items=lst.items,
        results=[(r, labels.SPOT_RESULT[r]) for r in spot_checks.RESULTS],
        may_record=scope.can_write and scope.role in (Role.STATION, Role.CENTRE, Role.BUREAU, Role.ADMIN),
    )


@bp.post("/spot-checks/items/<item_id:int>")
@page
async def spot_result(request: Request, item_id: int) -> HTTPResponse:
    _allow(request, Role.STATION, Role.CENTRE, Role.BUREAU)
    item = await spot_checks.record_result(scope=request.ctx.scope, actor=request.ctx.actor, item_id=item_id, result=_form(request, "result"), notes=_form(request, "notes"))
    return _ok(f"/console/spot-checks/{item.spot_check_id}", f"已记录抽查结果：{labels.label(labels.SPOT_RESULT, item.result)}")


CONSOLE_IMPORT_WAIT_SECONDS = 120.0


@bp.post("/deaths/import")
@page
async def import_deaths(request: Request) -> HTTPResponse:
    _allow(request, Role.BUREAU)
    upload = request.files.get("file") if request.files else None
    if upload is None or not upload.body:
        raise BadRequest("请选择民政、公安或殡葬部门提供的死亡名单（XLSX 或 CSV）", code="missing_file")
    if len(upload.body) > request.app.ctx.settings.uploads.max_import_bytes:
        raise PayloadTooLarge("文件过大", code="file_too_large")
    # A background job (off the event loop); the page waits for it a while, then shows the rows done so far.
    report = await deaths.import_deaths(scope=request.ctx.scope, actor=request.ctx.actor, filename=upload.name or "deaths.xlsx", data=upload.body, settings=request.app.ctx.settings, wait_seconds=CONSOLE_IMPORT_WAIT_SECONDS)
    return render(request, "deaths_report.html", report=report, back=_back_target(request))


def _back_target(request: Request) -> str:
    return _local(request.headers.get("referer"))


# ---- 领证时段发布 ----------------------------------------------------------------------------------------


@bp.post("/slots")
@page
async def publish_slots(request: Request) -> HTTPResponse:
    """The station publishes pickup slots (the same body rules and service as ``POST /api/cards/slots``);
    publishing the same days again adds nothing (existing slots are kept as they are)."""
    _allow(request, Role.STATION)
    from pydantic import ValidationError

    from server.cards.routes import SlotsBody

    windows = [w.strip().replace("—", "-").replace("–", "-").replace("～", "-").replace("~", "-").replace("：", ":") for w in _form(request, "windows").replace("，", ",").replace("、", ",").replace(" ", ",").split(",") if w.strip()]
    try:
        body = SlotsBody(
            station_id=_form(request, "station_id") or "0", start=_form(request, "start"), days=_form(request, "days") or "0",
            windows=[tuple(w.split("-", 1)) for w in windows], capacity=_form(request, "capacity") or "0",
        )
    except (ValidationError, ValueError) as exc:
        raise BadRequest("请检查：开始日期、天数（1–60）、时段（如 09:00-10:30，多个用逗号分开，结束晚于开始）、每时段名额（1–500）", code="bad_slots") from exc
    if body.start < labels.china_now().date():
        raise BadRequest("开始日期不能早于今天", code="bad_slots")
    before = await PickupSlot.filter(station_id=body.station_id, day__gte=body.start).count()
    slots = await booking.generate_slots(scope=request.ctx.scope, actor=request.ctx.actor, station_id=body.station_id, start=body.start, days=body.days, windows=body.windows, capacity=body.capacity)
    after = await PickupSlot.filter(station_id=body.station_id, day__gte=body.start).count()
    days = len({s.day for s in slots})
    return _ok("/console/pickups", f"已发布领证时段：{days} 个工作日，新增 {after - before} 个时段（每时段 {body.capacity} 人）" if after > before else "这些领证时段已发布过，未重复发布")
