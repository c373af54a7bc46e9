"""Mini-program routes the plan adds: the year's timeline, downloading the forms to sign, the linked
debit card, withdrawal by the applicant, appointments to apply on site, and the 优待目录."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html

from models.cards import CardApplication
from server.cards import applications, appointments, catalogue, forms, privacy, timeline
from server.cards.mp_routes import ACTING_ERRORS, APPLICATION_ERRORS
from server.cards.mp_schemas import (
    ApplicationAppointmentInfo,
    ApplicationSlotInfo,
    ApplicationSlotList,
    CardApplicationWithBank,
    Catalogue,
    Timeline,
)
from server.clock import china_today
from server.errors import BadRequest, NotFound
from server.http.openapi import MAX_ID, contract, respond
from server.http.validation import api
from server.miniapp import journeys
from server.miniapp.acting import ActingAs, ProxyScope, acting_for
from server.miniapp.guard import mini_user_required
from server.registry.categories import CATEGORY_LABELS
from server.registry.service import decrypt_id_number

mp_plan_bp = Blueprint("cards_mp_plan", url_prefix="/api/mp/cards")


class WithdrawBody(BaseModel):
    reason: str = Field(default="", max_length=300)


class BankBody(BaseModel):
    bank_name: str = Field(min_length=1, max_length=64)
    account: str = Field(min_length=1, max_length=40)


class PersonQuery(BaseModel):
    beneficiary_id: int = Field(ge=1, le=MAX_ID)


class AppointmentBody(BaseModel):
    beneficiary_id: int = Field(ge=1, le=MAX_ID)
    slot_id: int = Field(ge=1, le=MAX_ID, description="from GET /api/mp/cards/application-slots")


PERSON_ERRORS = {**ACTING_ERRORS, 404: ["beneficiary_not_found"], 422: ["validation_failed"]}
APPOINTMENT_ERRORS = {**ACTING_ERRORS, 404: ["appointment_not_found"], 409: ["appointment_not_active", "past_cutoff"]}
TIMELINE_EXAMPLE = {
    "year": 2026,
    "today": "2026-04-15",
    "stage": "acceptance",
    "batches": [
        {"batch": 1, "label": "第一批次", "from": "2026-03-01", "to": "2026-03-31", "current": False},
        {"batch": 2, "label": "第二批次", "from": "2026-04-01", "to": "2026-04-30", "current": True},
        {"batch": 3, "label": "第三批次", "from": "2026-05-01", "to": "2026-09-20", "current": False},
    ],
    "stages": [
        {"stage": "acceptance", "label": "集中受理阶段", "from": "2026-03-01", "to": "2026-09-20", "current": True},
        {"stage": "issuance", "label": "集中发证阶段", "from": "2026-09-21", "to": "2026-10-31", "current": False},
        {"stage": "cleanup", "label": "重点核查阶段", "from": "2026-11-01", "to": "2026-11-30", "current": False},
    ],
    "review_period": {"from": "2026-03-01", "to": "2026-11-30", "enforced": False},
    "statistics_due_day": 20,
}
FORMS_PAGE = "申领表 and 银行借记卡信息确认书, prefilled with the person's details (full ID number, photo, linked debit card): print, sign, photograph and upload each with POST …/forms/{form}"


async def _application(request: Request, application_id: int) -> tuple[CardApplication, ActingAs]:
    application = await CardApplication.get_or_none(id=application_id)
    if application is None:
        raise NotFound("申请不存在", code="application_not_found")
    acting = await acting_for(user=request.ctx.mini_user, beneficiary_id=application.beneficiary_id, scope=ProxyScope.APPLY, request_id=request.ctx.request_id)
    return application, acting


async def _with_bank(application: CardApplication, acting: ActingAs) -> CardApplicationWithBank:
    info = await journeys.application_info(application, beneficiary_name=acting.beneficiary.name)
    return CardApplicationWithBank(**{**applications.application_json(application), **info.model_dump()})


@mp_plan_bp.get("/timeline")
@contract(response=Timeline, example=TIMELINE_EXAMPLE)
@api(summary="This year's batches, stages and today's stage", tag="mini-program cards")
@mini_user_required
async def mp_timeline(request: Request) -> HTTPResponse:
    today = china_today()
    return respond(Timeline.model_validate(timeline.year_timeline(year=today.year, settings=request.app.ctx.settings, today=today)))


@mp_plan_bp.get("/applications/<application_id:int>/forms")
@contract(response=None, html=FORMS_PAGE, errors=APPLICATION_ERRORS, path_ids=["application_id"])
@api(summary="The forms to print, sign, photograph and upload (申领表 and 银行借记卡信息确认书), prefilled; audited", tag="mini-program cards")
@mini_user_required
async def mp_forms(request: Request, application_id: int) -> HTTPResponse:
    application, acting = await _application(request, application_id)
    person = acting.beneficiary
    await privacy.audit_full_id_print(actor=acting.actor, application=application, channel="mini_program")
    photo = await forms.photo_data_uri(person=person, media_dir=request.app.ctx.settings.media_dir)
    return html(forms.render_forms(application=application, person=person, id_number=decrypt_id_number(person), category=CATEGORY_LABELS[person.category], photo=photo, bank_account=applications.bank_account_of(application)))


@mp_plan_bp.post("/applications/<application_id:int>/bank")
@contract(response=CardApplicationWithBank, body=True, errors={**APPLICATION_ERRORS, 409: ["application_locked"], 422: ["bad_bank_account", "bank_name_required"]}, path_ids=["application_id"])
@api(summary="The debit card to link to the preferential card (kept encrypted, shown masked)", tag="mini-program cards", json=BankBody)
@mini_user_required
async def mp_bank(request: Request, application_id: int, body: BankBody) -> HTTPResponse:
    application, acting = await _application(request, application_id)
    application = await applications.record_bank_account(actor=acting.actor, application=application, bank_name=body.bank_name, account=body.account)
    return respond(await _with_bank(application, acting))


@mp_plan_bp.post("/applications/<application_id:int>/withdraw")
@contract(response=CardApplicationWithBank, body=True, errors={**APPLICATION_ERRORS, 409: ["not_withdrawable", "version_conflict"], 422: ["reason_required"]}, path_ids=["application_id"])
@api(summary="Withdraw my application (or as a proxy with scope apply), with a reason", tag="mini-program cards", json=WithdrawBody)
@mini_user_required
async def mp_withdraw(request: Request, application_id: int, body: WithdrawBody) -> HTTPResponse:
    application, acting = await _application(request, application_id)
    application = await applications.withdraw(actor=acting.actor, application=application, reason=body.reason, by="代办人" if acting.as_proxy else "申请人")
    return respond(await _with_bank(application, acting))


@mp_plan_bp.get("/application-slots")
@contract(response=ApplicationSlotList, errors=PERSON_ERRORS)
@api(summary="Open times to apply on site at the person's station", tag="mini-program cards", query=PersonQuery)
@mini_user_required
async def mp_application_slots(request: Request, query: PersonQuery) -> HTTPResponse:
    acting = await acting_for(user=request.ctx.mini_user, beneficiary_id=query.beneficiary_id, scope=ProxyScope.BOOK, request_id=request.ctx.request_id)
    slots = await appointments.open_slots(station_id=acting.beneficiary.station_id, today=china_today())
    return respond(ApplicationSlotList(items=[ApplicationSlotInfo.model_validate(appointments.slot_json(s)) for s in slots]))


@mp_plan_bp.post("/application-appointments")
@contract(
    response=ApplicationAppointmentInfo,
    status=201,
    also=[200],
    body=True,
    idempotency_key=True,
    errors={**ACTING_ERRORS, 400: ["idempotency_key_required"], 404: ["beneficiary_not_found", "slot_not_found"], 409: ["slot_full", "past_cutoff", "appointment_exists"], 422: ["not_entitled", "beneficiary_deceased"]},
)
@api(summary="Book a time to apply on site (header Idempotency-Key makes retries safe)", tag="mini-program cards", json=AppointmentBody)
@mini_user_required
async def mp_book_application(request: Request, body: AppointmentBody) -> HTTPResponse:
    key = request.headers.get("idempotency-key", "").strip()
    if not key or len(key) > 80:
        raise BadRequest("缺少 Idempotency-Key 请求头", code="idempotency_key_required")
    result, created = await appointments.book(settings=request.app.ctx.settings, user=request.ctx.mini_user, beneficiary_id=body.beneficiary_id, slot_id=body.slot_id, idempotency_key=key, request_id=request.ctx.request_id)
    return respond(ApplicationAppointmentInfo.model_validate(appointments.appointment_json(result)), status=201 if created else 200)


@mp_plan_bp.post("/application-appointments/<appointment_id:int>/cancel")
@contract(response=ApplicationAppointmentInfo, errors=APPOINTMENT_ERRORS, path_ids=["appointment_id"])
@api(summary="Cancel an appointment to apply (before the cutoff)", tag="mini-program cards")
@mini_user_required
async def mp_cancel_application(request: Request, appointment_id: int) -> HTTPResponse:
    result = await appointments.cancel(settings=request.app.ctx.settings, user=request.ctx.mini_user, appointment_id=appointment_id, request_id=request.ctx.request_id)
    return respond(ApplicationAppointmentInfo.model_validate(appointments.appointment_json(result)))


@mp_plan_bp.get("/catalogue")
@contract(response=Catalogue, errors={**PERSON_ERRORS, 403: ["not_authorised_for_beneficiary", "not_a_holder"], 404: ["beneficiary_not_found", "catalogue_not_published"]})
@api(summary="The 优待目录 of the holder's district", tag="mini-program cards", query=PersonQuery)
@mini_user_required
async def mp_catalogue(request: Request, query: PersonQuery) -> HTTPResponse:
    published = await catalogue.for_holder(user=request.ctx.mini_user, beneficiary_id=query.beneficiary_id, request_id=request.ctx.request_id)
    return respond(Catalogue.model_validate(catalogue.catalogue_json(published)))
