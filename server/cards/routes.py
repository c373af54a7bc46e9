from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, html, json, raw

from models.cards import ApplicationStatus, CardKind, CardStatus, PickupSlot
from models.staff import Role
from server import xlsx
from server.auth.guard import staff_required
from server.cards import (
    applications,
    appointments,
    booking,
    catalogue,
    cleanup,
    cross_checks,
    forms,
    issuance,
    privacy,
    reports,
    stats,
    timeline,
)
from server.cards import staff_schemas as cs
from server.cards.privacy import confidentiality_required
from server.clock import china_today
from server.errors import BadRequest
from server.http.openapi import XLSX, staff_contract
from server.http.uploads import required_upload
from server.http.validation import ClockTime, api, check_windows
from server.registry.categories import CATEGORY_LABELS
from server.registry.service import decrypt_id_number, get_beneficiary

bp = Blueprint("cards", url_prefix="/api/cards")


class OnSiteBody(BaseModel):
    beneficiary_id: int
    card_kind: CardKind


class TransitionBody(BaseModel):
    action: Literal["pass", "return"]
    reason: str = Field(default="", max_length=500)
    version: int | None = None


class ResubmitBody(BaseModel):
    note: str = Field(default="", max_length=300)


class ListQuery(BaseModel):
    status: ApplicationStatus | None = None
    overdue: bool = False
    problems: bool = False


class ProblemBody(BaseModel):
    flagged: bool
    note: str = Field(default="", max_length=300)
    report: str | None = Field(default=None, max_length=5000, description="the written report for problems not solved in the November clean-up")


class CollectBody(BaseModel):
    station_id: int
    card_ids: list[int] = Field(min_length=1, max_length=2000)


class DeliverBody(BaseModel):
    method: Literal["active_delivery", "group_issuance", "agreed", "pickup_appointment"]
    received_by: Literal["holder", "proxy"]
    id_checked: bool


class CardsQuery(BaseModel):
    status: CardStatus | None = None
    overdue: bool = False


class SlotsBody(BaseModel):
    station_id: int
    start: date
    days: int = Field(ge=1, le=60)
    windows: list[tuple[ClockTime, ClockTime]] = Field(min_length=1, max_length=12, description='e.g. [["09:00","10:00"],["10:00","11:00"]]')
    capacity: int = Field(ge=1, le=500)

    _windows_ordered = field_validator("windows")(check_windows)


class SlotsQuery(BaseModel):
    station_id: int | None = None
    day: date | None = None


class CheckInBody(BaseModel):
    token: str | None = Field(default=None, max_length=200)
    short_code: str | None = Field(default=None, max_length=16)


class TodayQuery(BaseModel):
    day: date | None = None


class BankBody(BaseModel):
    bank_name: str = Field(min_length=1, max_length=64)
    account: str = Field(min_length=1, max_length=40)


class WithdrawBody(BaseModel):
    reason: str = Field(default="", max_length=300)


class DisposalBody(BaseModel):
    action: Literal["archived", "destroyed"]
    reason: str = Field(default="", max_length=300)


class YearQuery(BaseModel):
    year: int | None = Field(default=None, ge=2000, le=2100)


class AppointmentCheckInBody(BaseModel):
    short_code: str = Field(min_length=4, max_length=16)


class ReportsQuery(BaseModel):
    kind: str | None = Field(default=None, max_length=32)


class CleanupBody(BaseModel):
    year: int = Field(ge=2000, le=2100)


class DifficultCasesBody(BaseModel):
    meeting_date: date
    summary: str = Field(default="", max_length=5000)


class NoticesQuery(BaseModel):
    unread: bool = False


class StationReportBody(BaseModel):
    station_id: int


class AgreementBody(BaseModel):
    staff_id: int
    signed_on: date


class RevokeBody(BaseModel):
    reason: str = Field(default="", max_length=300)


class CatalogueItem(BaseModel):
    area: str = Field(max_length=50)
    content: str = Field(max_length=500)
    provider: str = Field(default="", max_length=100)


class CatalogueBody(BaseModel):
    title: str = Field(default="优待目录", max_length=200)
    items: list[CatalogueItem] = Field(min_length=1, max_length=300)


# ---- applications (staff)


@bp.post("/applications")
@staff_contract(response=cs.StaffCardApplication, status=201, roles=True, write=True, body=True, errors={403: ["out_of_scope"], 404: ["beneficiary_not_found"], 409: ["application_exists", "card_already_approved"], 422: ["not_entitled", "card_kind_mismatch", "beneficiary_deceased", "record_incomplete", "outside_review_period"]})
@api(summary="On-site application entered by station staff", tag="cards", json=OnSiteBody)
@staff_required(Role.STATION, write=True)
async def on_site(request: Request, body: OnSiteBody) -> HTTPResponse:
    person = await get_beneficiary(scope=request.ctx.scope, beneficiary_id=body.beneficiary_id)
    await request.ctx.scope.require_station_writable(person.station_id)
    application = await applications.create_application(actor=request.ctx.actor, settings=request.app.ctx.settings, beneficiary=person, card_kind=body.card_kind, channel="on_site", staff_id=request.ctx.staff.staff_id)
    return json(applications.application_json(application), status=201, ensure_ascii=False)


@bp.get("/applications")
@staff_contract(response=cs.StaffCardApplicationList, query=True)
@api(summary="Applications in scope (by stage; overdue=true per level; problems=true for the November clean-up)", tag="cards", query=ListQuery)
@staff_required()
async def list_applications(request: Request, query: ListQuery) -> HTTPResponse:
    items = await applications.list_applications(scope=request.ctx.scope, status=query.status, overdue_only=query.overdue, problems_only=query.problems)
    return json({"items": [applications.application_json(a) for a in items]}, ensure_ascii=False)


@bp.get("/applications/<application_id:int>")
@staff_contract(response=cs.StaffCardApplicationDetail, path_ids=["application_id"], errors={404: ["application_not_found"]})
@api(summary="One application with its review history", tag="cards")
@staff_required()
async def get_application(request: Request, application_id: int) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    return json({**applications.application_json(application), "history": await applications.history(application_id=application.id)}, ensure_ascii=False)


@bp.get("/applications/<application_id:int>/print")
@staff_contract(response=None, html="the prefilled application form and bank debit-card confirmation, to print", roles=True, path_ids=["application_id"], errors={403: ["confidentiality_agreement_required"], 404: ["application_not_found", "beneficiary_not_found"]})
@api(summary="Printable, prefilled application form and bank debit-card confirmation for signing on site (full ID number: signed agreement required, audited)", tag="cards")
@staff_required(Role.STATION)
@confidentiality_required
async def print_forms(request: Request, application_id: int) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    person = await get_beneficiary(scope=request.ctx.scope, beneficiary_id=application.beneficiary_id)
    await privacy.audit_full_id_print(actor=request.ctx.actor, application=application, channel="station")
    photo = await forms.photo_data_uri(person=person, media_dir=request.app.ctx.settings.media_dir)
    # The full ID number is on the page: never kept in a browser or proxy cache.
    return html(forms.render_forms(application=application, person=person, id_number=decrypt_id_number(person), category=CATEGORY_LABELS[person.category], photo=photo, bank_account=applications.bank_account_of(application)), headers={"Cache-Control": "no-store"})


@bp.get("/applications/<application_id:int>/documents/<form:str>")
@staff_contract(response=None, file={"image/jpeg": "the signed form", "image/png": "the signed form", "application/pdf": "the signed form"}, path_ids=["application_id"], errors={403: ["confidentiality_agreement_required"], 404: ["application_not_found", "form_not_found"], 409: ["materials_destroyed"], 422: ["bad_form"]})
@api(summary="Open a signed form (application_form or bank_form) uploaded for review: signed agreement required, audited", tag="cards")
@staff_required()
@confidentiality_required
async def view_form(request: Request, application_id: int, form: str) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    path, content_type = await privacy.open_form(scope=request.ctx.scope, actor=request.ctx.actor, application=application, form=form, media_dir=request.app.ctx.settings.media_dir)
    return await file(path, mime_type=content_type)


@bp.post("/applications/<application_id:int>/bank")
@staff_contract(response=cs.StaffCardApplication, roles=True, write=True, body=True, path_ids=["application_id"], errors={403: ["out_of_scope"], 404: ["application_not_found"], 409: ["application_locked"], 422: ["bad_bank_account", "bank_name_required"]})
@api(summary="Record the debit card linked to the preferential card (kept encrypted; shown masked)", tag="cards", json=BankBody)
@staff_required(Role.STATION, write=True)
async def bank(request: Request, application_id: int, body: BankBody) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    await request.ctx.scope.require_station_writable(application.station_id)
    application = await applications.record_bank_account(actor=request.ctx.actor, application=application, bank_name=body.bank_name, account=body.account)
    return json(applications.application_json(application), ensure_ascii=False)


@bp.post("/applications/<application_id:int>/withdraw")
@staff_contract(response=cs.StaffCardApplication, roles=True, write=True, body=True, path_ids=["application_id"], errors={403: ["out_of_scope"], 404: ["application_not_found"], 409: ["not_withdrawable", "version_conflict"], 422: ["reason_required"]})
@api(summary="The station withdraws an open application (e.g. at the applicant's request), with a reason", tag="cards", json=WithdrawBody)
@staff_required(Role.STATION, write=True)
async def staff_withdraw(request: Request, application_id: int, body: WithdrawBody) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    await request.ctx.scope.require_station_writable(application.station_id)
    application = await applications.withdraw(actor=request.ctx.actor, application=application, reason=body.reason, by="服务站")
    return json(applications.application_json(application), ensure_ascii=False)


@bp.post("/cross-checks/import")
@staff_contract(response=cs.CrossCheckReport, roles=True, write=True, errors={400: ["missing_file", "empty_file"], 413: ["payload_too_large"], 415: ["unsupported_file"], 422: ["import_file_invalid", "import_bad_csv", "import_bad_xlsx", "import_missing_columns"]})
@api(summary="Import cross-check findings (婚姻、社保、违法违纪、生存; CSV/XLSX: 身份证号, 姓名, 来源, 比对结果): open applications and undelivered cards are flagged", tag="cards", multipart={"file": ".csv or .xlsx"})
@staff_required(Role.CENTRE, Role.BUREAU, write=True)
async def cross_check_import(request: Request) -> HTTPResponse:
    name, data = required_upload(request, "file", limit=request.app.ctx.settings.uploads.max_import_bytes)
    return json(await cross_checks.import_findings(scope=request.ctx.scope, actor=request.ctx.actor, filename=name, data=data), ensure_ascii=False)


@bp.post("/applications/<application_id:int>/materials")
@staff_contract(response=cs.DisposalInfo, status=201, roles=True, write=True, body=True, path_ids=["application_id"], errors={404: ["application_not_found"], 409: ["application_not_closed", "materials_destroyed", "retention_not_over"], 422: ["bad_disposal_action", "reason_required"]})
@api(summary="Archive or destroy a closed application's materials, with a record (destruction after the retention period)", tag="cards privacy", json=DisposalBody)
@staff_required(Role.BUREAU, write=True)
async def dispose(request: Request, application_id: int, body: DisposalBody) -> HTTPResponse:
    record = await privacy.dispose_materials(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, application_id=application_id, action=body.action, reason=body.reason)
    return json(privacy.disposal_json(record), status=201, ensure_ascii=False)


@bp.post("/applications/<application_id:int>/forms/<form:str>")
@staff_contract(response=cs.StaffCardApplication, roles=True, write=True, path_ids=["application_id"], errors={400: ["missing_file", "empty_file"], 413: ["payload_too_large"], 415: ["unsupported_file"], 403: ["out_of_scope"], 404: ["application_not_found"], 409: ["application_locked"], 422: ["bad_form"]})
@api(summary="Upload a signed form (application_form or bank_form) as image or PDF", tag="cards", multipart={"file": "JPEG, PNG or PDF"})
@staff_required(Role.STATION, write=True)
async def upload_form(request: Request, application_id: int, form: str) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    await request.ctx.scope.require_station_writable(application.station_id)
    application = await applications.attach_form(actor=request.ctx.actor, application=application, form=form, data=required_upload(request, "file", limit=request.app.ctx.settings.uploads.max_document_bytes)[1], media_dir=request.app.ctx.settings.media_dir)
    return json(applications.application_json(application), ensure_ascii=False)


@bp.post("/applications/<application_id:int>/transition")
@staff_contract(response=cs.StaffCardApplication, write=True, body=True, path_ids=["application_id"], errors={403: ["role_not_allowed", "out_of_scope"], 404: ["application_not_found"], 409: ["not_under_review", "version_conflict"], 422: ["reason_required", "materials_incomplete"]})
@api(summary="Pass the application up or return it one level down with a written reason (role per level)", tag="cards", json=TransitionBody)
@staff_required(write=True)
async def transition(request: Request, application_id: int, body: TransitionBody) -> HTTPResponse:
    application = await applications.transition(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, application_id=application_id, action=body.action, reason=body.reason, expected_version=body.version)
    return json(applications.application_json(application), ensure_ascii=False)


@bp.post("/applications/<application_id:int>/resubmit")
@staff_contract(response=cs.StaffCardApplication, roles=True, write=True, body=True, path_ids=["application_id"], errors={403: ["out_of_scope"], 404: ["application_not_found"], 409: ["not_returned", "version_conflict"], 422: ["materials_incomplete"]})
@api(summary="Station resubmits a returned application for the applicant (same record, history kept)", tag="cards", json=ResubmitBody)
@staff_required(Role.STATION, write=True)
async def staff_resubmit(request: Request, application_id: int, body: ResubmitBody) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    await request.ctx.scope.require_station_writable(application.station_id)
    application = await applications.resubmit(actor=request.ctx.actor, settings=request.app.ctx.settings, application=application, note=body.note)
    return json(applications.application_json(application), ensure_ascii=False)


@bp.post("/applications/<application_id:int>/problem")
@staff_contract(response=cs.StaffCardApplication, write=True, body=True, path_ids=["application_id"], errors={403: ["out_of_scope"], 404: ["application_not_found"]})
@api(summary="Flag or clear a problem record, with an optional written report", tag="cards", json=ProblemBody)
@staff_required(write=True)
async def problem(request: Request, application_id: int, body: ProblemBody) -> HTTPResponse:
    application = await applications.flag_problem(scope=request.ctx.scope, actor=request.ctx.actor, application_id=application_id, flagged=body.flagged, note=body.note, report=body.report)
    return json(applications.application_json(application), ensure_ascii=False)


# ---- issuance


@bp.post("/shipments")
@staff_contract(response=cs.ShipmentInfo, status=201, roles=True, write=True, errors={400: ["missing_data", "invalid_json", "shipment_fields"], 413: ["payload_too_large"], 415: ["unsupported_file"], 409: ["shipment_exists", "card_already_received"], 422: ["count_mismatch", "damage_description_required", "unknown_applications", "centre_only"]})
@api(summary="Receive a shipment at the service centre; a damaged one is refused and reported to the province centre", tag="cards issuance", multipart={"data": 'JSON: {"tracking_number", "expected_count", "counted_count", "envelope_intact", "cards_intact", "application_ids", "damage_description"}', "photos": "damage photos (repeated)"})
@staff_required(Role.CENTRE, write=True)
async def receive(request: Request) -> HTTPResponse:
    import json as jsonlib

    raw_data = request.form.get("data") if request.form else None
    if raw_data is None:
        raise BadRequest("缺少 data 字段", code="missing_data")
    try:
        data = jsonlib.loads(raw_data)
    except ValueError as exc:
        raise BadRequest("data 不是有效的JSON", code="invalid_json") from exc
    photos = [f.body for f in (request.files.getlist("photos") or [])] if request.files else []
    try:
        shipment = await issuance.receive_shipment(
            scope=request.ctx.scope,
            actor=request.ctx.actor,
            tracking_number=str(data["tracking_number"]),
            expected_count=int(data["expected_count"]),
            counted_count=int(data["counted_count"]),
            envelope_intact=bool(data["envelope_intact"]),
            cards_intact=bool(data["cards_intact"]),
            application_ids=[int(x) for x in data.get("application_ids", [])],
            damage_description=str(data.get("damage_description", "")),
            damage_photos=photos,
            media_dir=request.app.ctx.settings.media_dir,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRequest("签收信息不完整", code="shipment_fields", missing=str(exc)) from exc
    return json(issuance.shipment_json(shipment), status=201, ensure_ascii=False)


@bp.get("/shipments")
@staff_contract(response=cs.ShipmentList)
@api(summary="Shipments of the reader's district (city: its districts)", tag="cards issuance")
@staff_required()
async def shipments(request: Request) -> HTTPResponse:
    return json({"items": [issuance.shipment_json(s) for s in await issuance.list_shipments(scope=request.ctx.scope)]}, ensure_ascii=False)


@bp.get("/shipments/<shipment_id:int>")
@staff_contract(response=cs.ShipmentSorted, path_ids=["shipment_id"], errors={404: ["shipment_not_found"]})
@api(summary="A shipment of the reader's district, its reports, and its cards sorted per station", tag="cards issuance")
@staff_required()
async def shipment(request: Request, shipment_id: int) -> HTTPResponse:
    return json(await issuance.sorted_by_station(scope=request.ctx.scope, shipment_id=shipment_id), ensure_ascii=False)


@bp.post("/collections")
@staff_contract(response=cs.StaffCardList, roles=True, write=True, body=True, errors={403: ["out_of_scope"], 404: ["station_not_found"], 409: ["cards_not_collectable"]})
@api(summary="A station collects its cards from the centre (the 10-working-day delivery clock starts)", tag="cards issuance", json=CollectBody)
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def collect(request: Request, body: CollectBody) -> HTTPResponse:
    cards = await issuance.collect_for_station(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, station_id=body.station_id, card_ids=body.card_ids)
    return json({"items": [issuance.card_json(c) for c in cards]})


@bp.get("/cards")
@staff_contract(response=cs.StaffCardList, query=True)
@api(summary="Cards in scope (overdue=true: collected but not delivered within 10 working days)", tag="cards issuance", query=CardsQuery)
@staff_required()
async def cards(request: Request, query: CardsQuery) -> HTTPResponse:
    return json({"items": [issuance.card_json(c) for c in await issuance.list_cards(scope=request.ctx.scope, status=query.status, overdue_only=query.overdue)]})


@bp.post("/cards/<card_id:int>/deliver")
@staff_contract(response=cs.StaffCardInfo, roles=True, write=True, body=True, path_ids=["card_id"], errors={403: ["out_of_scope"], 404: ["card_not_found"], 409: ["card_not_deliverable", "card_flagged"], 422: ["bad_delivery_method", "bad_receiver", "id_check_required"]})
@api(summary="Record delivery: method and who received it, after an ID check", tag="cards issuance", json=DeliverBody)
@staff_required(Role.STATION, write=True)
async def deliver(request: Request, card_id: int, body: DeliverBody) -> HTTPResponse:
    card = await issuance.deliver(scope=request.ctx.scope, actor=request.ctx.actor, card_id=card_id, method=body.method, received_by=body.received_by, id_checked=body.id_checked)
    return json(issuance.card_json(card))


# ---- pickup slots and check-in


@bp.post("/slots")
@staff_contract(response=cs.StaffSlotList, status=201, roles=True, write=True, body=True, errors={403: ["out_of_scope"], 404: ["station_not_found"]})
@api(summary="Publish pickup slots for coming days (non-working days skipped)", tag="cards pickup", json=SlotsBody)
@staff_required(Role.STATION, write=True)
async def publish_slots(request: Request, body: SlotsBody) -> HTTPResponse:
    slots = await booking.generate_slots(scope=request.ctx.scope, actor=request.ctx.actor, station_id=body.station_id, start=body.start, days=body.days, windows=body.windows, capacity=body.capacity)
    return json({"items": [booking.slot_json(s) for s in slots]}, status=201)


@bp.get("/slots")
@staff_contract(response=cs.StaffSlotList, query=True)
@api(summary="Pickup slots in scope", tag="cards pickup", query=SlotsQuery)
@staff_required()
async def list_slots(request: Request, query: SlotsQuery) -> HTTPResponse:
    slots = await request.ctx.scope.filter_by_station(PickupSlot.all())
    if query.station_id is not None:
        slots = slots.filter(station_id=query.station_id)
    if query.day is not None:
        slots = slots.filter(day=query.day)
    return json({"items": [booking.slot_json(s) for s in await slots.order_by("day", "start_time").limit(500)]})


@bp.get("/bookings/today")
@staff_contract(response=cs.StaffBookingList, query=True)
@api(summary="Bookings of a day (default today) in scope", tag="cards pickup", query=TodayQuery)
@staff_required()
async def today_bookings(request: Request, query: TodayQuery) -> HTTPResponse:
    items = await booking.todays_bookings(scope=request.ctx.scope, day=query.day or date.today())
    return json({"items": [{**booking.booking_json(b), "slot": booking.slot_json(b.slot)} for b in items]})


@bp.post("/check-in")
@staff_contract(response=cs.StaffBooking, roles=True, write=True, body=True, errors={400: ["qr_invalid"], 403: ["out_of_scope"], 404: ["booking_not_found"], 409: ["booking_not_active"], 410: ["qr_expired"], 422: ["code_required"]})
@api(summary="Check in a pickup by QR token or typed short code: the card is marked delivered", tag="cards pickup", json=CheckInBody)
@staff_required(Role.STATION, write=True)
async def check_in(request: Request, body: CheckInBody) -> HTTPResponse:
    result = await booking.check_in(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, token=body.token, short_code=body.short_code)
    return json(booking.booking_json(result))


# ---- statistics and calendar


@bp.get("/statistics")
@staff_contract(response=cs.MonthlyStatistics)
@api(summary="Monthly statistics per station and district (JSON)", tag="cards statistics")
@staff_required()
async def statistics(request: Request) -> HTTPResponse:
    return json(await stats.monthly_statistics(scope=request.ctx.scope), ensure_ascii=False)


@bp.get("/statistics.xlsx")
@staff_contract(response=None, file={XLSX: "the monthly statistics table"})
@api(summary="Monthly statistics as XLSX", tag="cards statistics")
@staff_required()
async def statistics_xlsx(request: Request) -> HTTPResponse:
    report = await stats.monthly_statistics(scope=request.ctx.scope)
    return raw(stats.statistics_xlsx(report), content_type=xlsx.MIME, headers=xlsx.download_headers(f"优待证制发统计-{report['period']}.xlsx"))


@bp.get("/statistics/monthly/<period:str>")
@staff_contract(response=cs.DistrictMonthList, roles=True, errors={422: ["bad_period"]})
@api(summary="The month's statistics table per district in scope: frozen on the 20th (China time), with which stations reported and when", tag="cards statistics")
@staff_required()
async def statistics_month(request: Request, period: str) -> HTTPResponse:
    return json({"items": await stats.read_month(scope=request.ctx.scope, period=period)}, ensure_ascii=False)


@bp.get("/statistics/snapshots/<snapshot_id:int>/xlsx")
@staff_contract(response=None, file={XLSX: "the frozen monthly table"}, path_ids=["snapshot_id"], errors={404: ["report_not_found"]})
@api(summary="A frozen monthly table as XLSX (the reader's district only)", tag="cards statistics")
@staff_required()
async def statistics_snapshot(request: Request, snapshot_id: int) -> HTTPResponse:
    path, period = await stats.snapshot_xlsx(scope=request.ctx.scope, snapshot_id=snapshot_id, media_dir=request.app.ctx.settings.media_dir)
    return await file(path, mime_type=xlsx.MIME, headers=xlsx.download_headers(f"优待证制发统计-{period}.xlsx"))


@bp.post("/statistics/station-reports")
@staff_contract(response=cs.StationReportSubmitted, status=201, roles=True, write=True, body=True, errors={403: ["out_of_scope"], 404: ["station_not_found"], 422: ["already_reported"]})
@api(summary="A station submits its month's figures (due before the 20th)", tag="cards statistics", json=StationReportBody)
@staff_required(Role.STATION, write=True)
async def station_report(request: Request, body: StationReportBody) -> HTTPResponse:
    report = await stats.submit_station_report(scope=request.ctx.scope, actor=request.ctx.actor, station_id=body.station_id)
    return json({"id": report.id, "station_id": report.station_id, "period": report.period, "submitted_at": report.created_at.isoformat(), "data": report.data}, status=201, ensure_ascii=False)


# ---- the year's timeline, on-site application appointments


@bp.get("/timeline")
@staff_contract(response=cs.Timeline, query=True)
@api(summary="The year's batches and stages from settings, and today's stage", tag="cards", query=YearQuery)
@staff_required()
async def year_timeline(request: Request, query: YearQuery) -> HTTPResponse:
    today = china_today()
    return json(timeline.year_timeline(year=query.year or today.year, settings=request.app.ctx.settings, today=today), ensure_ascii=False)


@bp.post("/application-slots")
@staff_contract(response=cs.StaffSlotList, status=201, roles=True, write=True, body=True, errors={403: ["out_of_scope"], 404: ["station_not_found"]})
@api(summary="Publish times for applying on site (non-working days skipped)", tag="cards appointments", json=SlotsBody)
@staff_required(Role.STATION, write=True)
async def publish_application_slots(request: Request, body: SlotsBody) -> HTTPResponse:
    slots = await appointments.publish_slots(scope=request.ctx.scope, actor=request.ctx.actor, station_id=body.station_id, start=body.start, days=body.days, windows=body.windows, capacity=body.capacity)
    return json({"items": [appointments.slot_json(s) for s in slots]}, status=201)


@bp.get("/application-appointments")
@staff_contract(response=cs.StaffAppointmentList, query=True)
@api(summary="Appointments to apply on site on a day (default today) in scope", tag="cards appointments", query=TodayQuery)
@staff_required()
async def application_appointments(request: Request, query: TodayQuery) -> HTTPResponse:
    items = await appointments.day_list(scope=request.ctx.scope, day=query.day or china_today())
    return json({"items": [{**appointments.appointment_json(a), "slot": appointments.slot_json(a.slot)} for a in items]})


@bp.post("/application-appointments/check-in")
@staff_contract(response=cs.StaffAppointment, roles=True, write=True, body=True, errors={403: ["out_of_scope"], 404: ["appointment_not_found"], 409: ["appointment_not_active"]})
@api(summary="The applicant arrived: check in by the appointment's short code", tag="cards appointments", json=AppointmentCheckInBody)
@staff_required(Role.STATION, write=True)
async def application_check_in(request: Request, body: AppointmentCheckInBody) -> HTTPResponse:
    return json(appointments.appointment_json(await appointments.check_in(scope=request.ctx.scope, actor=request.ctx.actor, short_code=body.short_code)))


# ---- documents sent up the chain, station notices


@bp.get("/reports")
@staff_contract(response=cs.CardReportList, query=True)
@api(summary="Reports sent up the chain by the districts in scope (refused/short shipments, clean-up, difficult cases)", tag="cards reports", query=ReportsQuery)
@staff_required()
async def list_reports(request: Request, query: ReportsQuery) -> HTTPResponse:
    return json({"items": [reports.report_json(r) for r in await reports.list_reports(scope=request.ctx.scope, kind=query.kind)]}, ensure_ascii=False)


@bp.get("/reports/<report_id:int>/document")
@staff_contract(response=None, html="the report as sent", path_ids=["report_id"], errors={403: ["confidentiality_agreement_required"], 404: ["report_not_found"]})
@api(summary="A report's document (the difficult-cases report names people: signed agreement required)", tag="cards reports")
@staff_required()
async def report_document(request: Request, report_id: int) -> HTTPResponse:
    report = await reports.get_report(scope=request.ctx.scope, report_id=report_id)
    if report.kind == "difficult_cases":
        await privacy.require_signed_agreement(staff_id=request.ctx.staff.staff_id)
    return await file(reports.report_file(request.app.ctx.settings.media_dir, report), mime_type="text/html; charset=utf-8")


@bp.post("/reports/<report_id:int>/receive")
@staff_contract(response=cs.CardReportInfo, roles=True, write=True, path_ids=["report_id"], errors={404: ["report_not_found"], 409: ["report_already_received"]})
@api(summary="The city bureau acknowledges a district's report", tag="cards reports")
@staff_required(Role.CITY, write=True)
async def receive_report(request: Request, report_id: int) -> HTTPResponse:
    return json(reports.report_json(await reports.acknowledge(scope=request.ctx.scope, actor=request.ctx.actor, report_id=report_id)), ensure_ascii=False)


@bp.post("/cleanup-report")
@staff_contract(response=cs.CardReportInfo, status=201, roles=True, write=True, body=True, errors={403: ["district_only"]})
@api(summary="The November clean-up report for the district, sent to the city bureau", tag="cards reports", json=CleanupBody)
@staff_required(Role.BUREAU, write=True)
async def cleanup_report(request: Request, body: CleanupBody) -> HTTPResponse:
    report = await cleanup.cleanup_report(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, year=body.year, media_dir=request.app.ctx.settings.media_dir)
    return json(reports.report_json(report), status=201, ensure_ascii=False)


@bp.post("/difficult-cases-report")
@staff_contract(response=cs.CardReportInfo, status=201, roles=True, write=True, body=True, errors={403: ["district_only", "confidentiality_agreement_required"], 422: ["no_difficult_cases", "summary_required"]})
@api(summary="The leading group's written report of unsolved cases, sent to the city bureau", tag="cards reports", json=DifficultCasesBody)
@staff_required(Role.BUREAU, write=True)
@confidentiality_required
async def difficult_cases(request: Request, body: DifficultCasesBody) -> HTTPResponse:
    report = await cleanup.difficult_cases_report(scope=request.ctx.scope, actor=request.ctx.actor, meeting_date=body.meeting_date, summary=body.summary, media_dir=request.app.ctx.settings.media_dir)
    return json(reports.report_json(report), status=201, ensure_ascii=False)


@bp.get("/station-notices")
@staff_contract(response=cs.StationNoticeList, query=True)
@api(summary="Notices to the station (cards ready to collect, people flagged by a death or cross-check)", tag="cards issuance", query=NoticesQuery)
@staff_required()
async def notices(request: Request, query: NoticesQuery) -> HTTPResponse:
    return json({"items": [issuance.notice_json(n) for n in await issuance.station_notices(scope=request.ctx.scope, unread_only=query.unread)]}, ensure_ascii=False)


@bp.post("/station-notices/<notice_id:int>/read")
@staff_contract(response=cs.StationNoticeInfo, roles=True, write=True, path_ids=["notice_id"], errors={403: ["out_of_scope"], 404: ["notice_not_found"]})
@api(summary="Mark a station notice read", tag="cards issuance")
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def notice_read(request: Request, notice_id: int) -> HTTPResponse:
    return json(issuance.notice_json(await issuance.mark_notice_read(scope=request.ctx.scope, actor=request.ctx.actor, notice_id=notice_id)), ensure_ascii=False)


# ---- privacy: confidentiality agreements; the 优待目录


@bp.post("/privacy/agreements")
@staff_contract(response=cs.AgreementInfo, status=201, roles=True, write=True, body=True, errors={400: ["agreement_fields", "missing_file", "empty_file"], 413: ["payload_too_large"], 415: ["unsupported_file"], 403: ["self_recording"], 404: ["staff_not_found"], 422: ["signed_on_in_future"]})
@api(summary="Record a staff member's signed confidentiality agreement (optional scan as multipart 'document' with fields staff_id, signed_on)", tag="cards privacy", json=AgreementBody, parse_body=False)
@staff_required(Role.BUREAU, write=True)
async def record_agreement(request: Request) -> HTTPResponse:
    document: bytes | None = None
    if request.form is not None and request.form.get("staff_id"):
        fields = {"staff_id": request.form.get("staff_id"), "signed_on": request.form.get("signed_on")}
        if request.files and request.files.get("document"):
            document = required_upload(request, "document", limit=request.app.ctx.settings.uploads.max_document_bytes)[1]
    else:
        fields = request.json if isinstance(request.json, dict) else {}
    try:
        body = AgreementBody.model_validate(fields)
    except ValueError as exc:
        raise BadRequest("保密协议信息不完整", code="agreement_fields") from exc
    agreement = await privacy.record_agreement(scope=request.ctx.scope, actor=request.ctx.actor, staff_id=body.staff_id, signed_on=body.signed_on, document=document, media_dir=request.app.ctx.settings.media_dir)
    return json(privacy.agreement_json(agreement), status=201)


@bp.get("/privacy/agreements")
@staff_contract(response=cs.AgreementList, roles=True)
@api(summary="Confidentiality agreements of staff in scope", tag="cards privacy")
@staff_required(Role.BUREAU, Role.AUDITOR)
async def list_agreements(request: Request) -> HTTPResponse:
    return json({"items": [privacy.agreement_json(a) for a in await privacy.list_agreements(scope=request.ctx.scope)]})


@bp.post("/privacy/agreements/<staff_id:int>/revoke")
@staff_contract(response=cs.AgreementRevoked, roles=True, write=True, body=True, path_ids=["staff_id"], errors={404: ["staff_not_found"]})
@api(summary="End a staff member's access to personal data (left the card work)", tag="cards privacy", json=RevokeBody)
@staff_required(Role.BUREAU, write=True)
async def revoke_agreement(request: Request, staff_id: int, body: RevokeBody) -> HTTPResponse:
    await privacy.revoke_agreement(scope=request.ctx.scope, actor=request.ctx.actor, staff_id=staff_id, reason=body.reason)
    return json({"staff_id": staff_id, "revoked": True})


@bp.post("/catalogue")
@staff_contract(response=cs.Catalogue, status=201, roles=True, write=True, body=True, errors={403: ["district_only"], 409: ["version_conflict"], 422: ["catalogue_empty", "catalogue_item_incomplete"]})
@api(summary="Publish a new version of the district's 优待目录 to card holders", tag="cards privacy", json=CatalogueBody)
@staff_required(Role.BUREAU, write=True)
async def publish_catalogue(request: Request, body: CatalogueBody) -> HTTPResponse:
    published = await catalogue.publish(scope=request.ctx.scope, actor=request.ctx.actor, title=body.title, items=[i.model_dump() for i in body.items])
    return json(catalogue.catalogue_json(published), status=201, ensure_ascii=False)
