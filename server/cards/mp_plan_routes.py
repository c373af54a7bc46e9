"""Mini-program routes the plan adds: the year's timeline, downloading the forms to sign, the linked
debit card, withdrawal by the applicant, appointments to apply on site, and the 优待目录."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, json

from models.cards import CardApplication
from server.cards import applications, appointments, catalogue, forms, privacy, timeline
from server.errors import BadRequest, NotFound
from server.http.validation import api
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
    beneficiary_id: int


class AppointmentBody(BaseModel):
    beneficiary_id: int
    slot_id: int


async def _application(request: Request, application_id: int) -> tuple[CardApplication, ActingAs]:
    application = await CardApplication.get_or_none(id=application_id)
    if application is None:
        raise NotFound("申请不存在", code="application_not_found")
    acting = await acting_for(user=request.ctx.mini_user, beneficiary_id=application.beneficiary_id, scope=ProxyScope.APPLY, request_id=request.ctx.request_id)
    return application, acting


@mp_plan_bp.get("/timeline")
@api(summary="This year's batches, stages and today's stage", tag="mini-program cards")
@mini_user_required
async def mp_timeline(request: Request) -> HTTPResponse:
    today = timeline.china_today()
    return json(timeline.year_timeline(year=today.year, settings=request.app.ctx.settings, today=today), ensure_ascii=False)


@mp_plan_bp.get("/applications/<application_id:int>/forms")
@api(summary="The forms to print, sign, photograph and upload (申领表 and 银行借记卡信息确认书), prefilled; audited", tag="mini-program cards")
@mini_user_required
async def mp_forms(request: Request, application_id: int) -> HTTPResponse:
    application, acting = await _application(request, application_id)
    person = acting.beneficiary
    await privacy.audit_full_id_print(actor=acting.actor, application=application, channel="mini_program")
    photo = await forms.photo_data_uri(person=person, media_dir=request.app.ctx.settings.media_dir)
    return html(forms.render_forms(application=application, person=person, id_number=decrypt_id_number(person), category=CATEGORY_LABELS[person.category], photo=photo, bank_account=applications.bank_account_of(application)))


@mp_plan_bp.post("/applications/<application_id:int>/bank")
@api(summary="The debit card to link to the preferential card (kept encrypted, shown masked)", tag="mini-program cards", json=BankBody)
@mini_user_required
async def mp_bank(request: Request, application_id: int, body: BankBody) -> HTTPResponse:
    application, acting = await _application(request, application_id)
    application = await applications.record_bank_account(actor=acting.actor, application=application, bank_name=body.bank_name, account=body.account)
    return json(applications.application_json(application), ensure_ascii=False)


@mp_plan_bp.post("/applications/<application_id:int>/withdraw")
@api(summary="Withdraw my application (or as a proxy with scope apply), with a reason", tag="mini-program cards", json=WithdrawBody)
@mini_user_required
async def mp_withdraw(request: Request, application_id: int, body: WithdrawBody) -> HTTPResponse:
    application, acting = await _application(request, application_id)
    application = await applications.withdraw(actor=acting.actor, application=application, reason=body.reason, by="代办人" if acting.as_proxy else "申请人")
    return json(applications.application_json(application), ensure_ascii=False)


@mp_plan_bp.get("/application-slots")
@api(summary="Open times to apply on site at the person's station", tag="mini-program cards", query=PersonQuery)
@mini_user_required
async def mp_application_slots(request: Request, query: PersonQuery) -> HTTPResponse:
    acting = await acting_for(user=request.ctx.mini_user, beneficiary_id=query.beneficiary_id, scope=ProxyScope.BOOK, request_id=request.ctx.request_id)
    slots = await appointments.open_slots(station_id=acting.beneficiary.station_id, today=timeline.china_today())
    return json({"items": [appointments.slot_json(s) for s in slots]})


@mp_plan_bp.post("/application-appointments")
@api(summary="Book a time to apply on site (header Idempotency-Key makes retries safe)", tag="mini-program cards", json=AppointmentBody)
@mini_user_required
async def mp_book_application(request: Request, body: AppointmentBody) -> HTTPResponse:
    key = request.headers.get("idempotency-key", "").strip()
    if not key or len(key) > 80:
        raise BadRequest("缺少 Idempotency-Key 请求头", code="idempotency_key_required")
    result, created = await appointments.book(settings=request.app.ctx.settings, user=request.ctx.mini_user, beneficiary_id=body.beneficiary_id, slot_id=body.slot_id, idempotency_key=key, request_id=request.ctx.request_id)
    return json(appointments.appointment_json(result), status=201 if created else 200)


@mp_plan_bp.post("/application-appointments/<appointment_id:int>/cancel")
@api(summary="Cancel an appointment to apply (before the cutoff)", tag="mini-program cards")
@mini_user_required
async def mp_cancel_application(request: Request, appointment_id: int) -> HTTPResponse:
    result = await appointments.cancel(settings=request.app.ctx.settings, user=request.ctx.mini_user, appointment_id=appointment_id, request_id=request.ctx.request_id)
    return json(appointments.appointment_json(result))


@mp_plan_bp.get("/catalogue")
@api(summary="The 优待目录 of the holder's district", tag="mini-program cards", query=PersonQuery)
@mini_user_required
async def mp_catalogue(request: Request, query: PersonQuery) -> HTTPResponse:
    published = await catalogue.for_holder(user=request.ctx.mini_user, beneficiary_id=query.beneficiary_id, request_id=request.ctx.request_id)
    return json(catalogue.catalogue_json(published), ensure_ascii=False)
