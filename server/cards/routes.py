from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, json, raw

from models.cards import ApplicationStatus, CardKind, CardStatus, PickupSlot
from models.staff import Role
from server.auth.guard import staff_required
from server.cards import applications, booking, issuance, stats
from server.errors import BadRequest
from server.http.uploads import required_upload
from server.http.validation import ClockTime, api, check_windows
from server.registry.service import get_beneficiary, reveal_id_number
from server.registry.categories import CATEGORY_LABELS

bp = Blueprint("cards", url_prefix="/api/cards")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


# ---- applications (staff)


@bp.post("/applications")
@api(summary="On-site application entered by station staff", tag="cards", json=OnSiteBody)
@staff_required(Role.STATION, write=True)
async def on_site(request: Request, body: OnSiteBody) -> HTTPResponse:
    person = await get_beneficiary(scope=request.ctx.scope, beneficiary_id=body.beneficiary_id)
    await request.ctx.scope.require_station_writable(person.station_id)
    application = await applications.create_application(actor=request.ctx.actor, settings=request.app.ctx.settings, beneficiary=person, card_kind=body.card_kind, channel="on_site", staff_id=request.ctx.staff.staff_id)
    return json(applications.application_json(application), status=201, ensure_ascii=False)


@bp.get("/applications")
@api(summary="Applications in scope (by stage; overdue=true per level; problems=true for the November clean-up)", tag="cards", query=ListQuery)
@staff_required()
async def list_applications(request: Request, query: ListQuery) -> HTTPResponse:
    items = await applications.list_applications(scope=request.ctx.scope, status=query.status, overdue_only=query.overdue, problems_only=query.problems)
    return json({"items": [applications.application_json(a) for a in items]}, ensure_ascii=False)


@bp.get("/applications/<application_id:int>")
@api(summary="One application with its review history", tag="cards")
@staff_required()
async def get_application(request: Request, application_id: int) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    return json({**applications.application_json(application), "history": await applications.history(application_id=application.id)}, ensure_ascii=False)


@bp.get("/applications/<application_id:int>/print")
@api(summary="Printable, prefilled application form and bank debit-card confirmation for signing on site", tag="cards")
@staff_required(Role.STATION)
async def print_forms(request: Request, application_id: int) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    person = await get_beneficiary(scope=request.ctx.scope, beneficiary_id=application.beneficiary_id)
    from server.cards.forms import render_forms

    id_number = await reveal_id_number(scope=request.ctx.scope, actor=request.ctx.actor, beneficiary_id=person.id, purpose="printed", details={"application_id": application.id})
    return html(render_forms(application=application, person=person, id_number=id_number, category=CATEGORY_LABELS[person.category]), headers={"Cache-Control": "no-store"})


@bp.post("/applications/<application_id:int>/forms/<form:str>")
@api(summary="Upload a signed form (application_form or bank_form) as image or PDF", tag="cards", multipart={"file": "JPEG, PNG or PDF"})
@staff_required(Role.STATION, write=True)
async def upload_form(request: Request, application_id: int, form: str) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    await request.ctx.scope.require_station_writable(application.station_id)
    application = await applications.attach_form(actor=request.ctx.actor, application=application, form=form, data=required_upload(request, "file", limit=request.app.ctx.settings.uploads.max_document_bytes)[1], media_dir=request.app.ctx.settings.media_dir)
    return json(applications.application_json(application), ensure_ascii=False)


@bp.post("/applications/<application_id:int>/transition")
@api(summary="Pass the application up or return it one level down with a written reason (role per level)", tag="cards", json=TransitionBody)
@staff_required(write=True)
async def transition(request: Request, application_id: int, body: TransitionBody) -> HTTPResponse:
    application = await applications.transition(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, application_id=application_id, action=body.action, reason=body.reason, expected_version=body.version)
    return json(applications.application_json(application), ensure_ascii=False)


@bp.post("/applications/<application_id:int>/resubmit")
@api(summary="Station resubmits a returned application for the applicant (same record, history kept)", tag="cards", json=ResubmitBody)
@staff_required(Role.STATION, write=True)
async def staff_resubmit(request: Request, application_id: int, body: ResubmitBody) -> HTTPResponse:
    application = await applications.get_application(scope=request.ctx.scope, application_id=application_id)
    await request.ctx.scope.require_station_writable(application.station_id)
    application = await applications.resubmit(actor=request.ctx.actor, settings=request.app.ctx.settings, application=application, note=body.note)
    return json(applications.application_json(application), ensure_ascii=False)


@bp.post("/applications/<application_id:int>/problem")
@api(summary="Flag or clear a problem record, with an optional written report", tag="cards", json=ProblemBody)
@staff_required(write=True)
async def problem(request: Request, application_id: int, body: ProblemBody) -> HTTPResponse:
    application = await applications.flag_problem(scope=request.ctx.scope, actor=request.ctx.actor, application_id=application_id, flagged=body.flagged, note=body.note, report=body.report)
    return json(applications.application_json(application), ensure_ascii=False)


# ---- issuance


@bp.post("/shipments")
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


@bp.get("/shipments/<shipment_id:int>")
@api(summary="A shipment and its cards sorted per station", tag="cards issuance")
@staff_required()
async def shipment(request: Request, shipment_id: int) -> HTTPResponse:
    return json(await issuance.sorted_by_station(scope=request.ctx.scope, shipment_id=shipment_id), ensure_ascii=False)


@bp.post("/collections")
@api(summary="A station collects its cards from the centre (the 10-working-day delivery clock starts)", tag="cards issuance", json=CollectBody)
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def collect(request: Request, body: CollectBody) -> HTTPResponse:
    cards = await issuance.collect_for_station(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, station_id=body.station_id, card_ids=body.card_ids)
    return json({"items": [issuance.card_json(c) for c in cards]})


@bp.get("/cards")
@api(summary="Cards in scope (overdue=true: collected but not delivered within 10 working days)", tag="cards issuance", query=CardsQuery)
@staff_required()
async def cards(request: Request, query: CardsQuery) -> HTTPResponse:
    return json({"items": [issuance.card_json(c) for c in await issuance.list_cards(scope=request.ctx.scope, status=query.status, overdue_only=query.overdue)]})


@bp.post("/cards/<card_id:int>/deliver")
@api(summary="Record delivery: method and who received it, after an ID check", tag="cards issuance", json=DeliverBody)
@staff_required(Role.STATION, write=True)
async def deliver(request: Request, card_id: int, body: DeliverBody) -> HTTPResponse:
    card = await issuance.deliver(scope=request.ctx.scope, actor=request.ctx.actor, card_id=card_id, method=body.method, received_by=body.received_by, id_checked=body.id_checked)
    return json(issuance.card_json(card))


# ---- pickup slots and check-in


@bp.post("/slots")
@api(summary="Publish pickup slots for coming days (non-working days skipped)", tag="cards pickup", json=SlotsBody)
@staff_required(Role.STATION, write=True)
async def publish_slots(request: Request, body: SlotsBody) -> HTTPResponse:
    slots = await booking.generate_slots(scope=request.ctx.scope, actor=request.ctx.actor, station_id=body.station_id, start=body.start, days=body.days, windows=body.windows, capacity=body.capacity)
    return json({"items": [booking.slot_json(s) for s in slots]}, status=201)


@bp.get("/slots")
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
@api(summary="Bookings of a day (default today) in scope", tag="cards pickup", query=TodayQuery)
@staff_required()
async def today_bookings(request: Request, query: TodayQuery) -> HTTPResponse:
    items = await booking.todays_bookings(scope=request.ctx.scope, day=query.day or date.today())
    return json({"items": [{**booking.booking_json(b), "slot": booking.slot_json(b.slot)} for b in items]})


@bp.post("/check-in")
@api(summary="Check in a pickup by QR token or typed short code: the card is marked delivered", tag="cards pickup", json=CheckInBody)
@staff_required(Role.STATION, write=True)
async def check_in(request: Request, body: CheckInBody) -> HTTPResponse:
    result = await booking.check_in(scope=request.ctx.scope, actor=request.ctx.actor, settings=request.app.ctx.settings, token=body.token, short_code=body.short_code)
    return json(booking.booking_json(result))


# ---- statistics and calendar


@bp.get("/statistics")
@api(summary="Monthly statistics per station and district (JSON)", tag="cards statistics")
@staff_required()
async def statistics(request: Request) -> HTTPResponse:
    return json(await stats.monthly_statistics(scope=request.ctx.scope), ensure_ascii=False)


@bp.get("/statistics.xlsx")
@api(summary="Monthly statistics as XLSX", tag="cards statistics")
@staff_required()
async def statistics_xlsx(request: Request) -> HTTPResponse:
    report = await stats.monthly_statistics(scope=request.ctx.scope)
    return raw(stats.statistics_xlsx(report), content_type=XLSX, headers={"Content-Disposition": f"attachment; filename=card-statistics-{report['period']}.xlsx"})
