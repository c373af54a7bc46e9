"""Mini-program routes for cards: online application, pickup slots, booking and the QR code."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from models.cards import CardApplication, CardKind
from server.cards import applications, booking
from server.errors import BadRequest, Forbidden, NotFound
from server.http.openapi import MAX_ID, contract, respond
from server.http.uploads import required_upload
from server.http.validation import api
from server.miniapp import journeys, schemas
from server.miniapp.acting import ActingAs, ProxyScope, acting_for
from server.miniapp.guard import mini_user_required

mp_bp = Blueprint("cards_mp", url_prefix="/api/mp/cards")

class OnlineBody(BaseModel):
    beneficiary_id: int = Field(ge=1, le=MAX_ID)
    card_kind: CardKind

class ResubmitBody(BaseModel):
    note: str = Field(default="", max_length=300)

class BookBody(BaseModel):
    card_id: int = Field(ge=1, le=MAX_ID, description="from GET /api/mp/cards/mine")
    slot_id: int = Field(ge=1, le=MAX_ID, description="from GET /api/mp/cards/slots")

class RescheduleBody(BaseModel):
    slot_id: int = Field(ge=1, le=MAX_ID)

class MpSlotsQuery(BaseModel):
    card_id: int = Field(ge=1, le=MAX_ID)


ACTING_ERRORS = {403: ["not_authorised_for_beneficiary", "proxy_scope_missing"]}
APPLICATION_ERRORS = {**ACTING_ERRORS, 404: ["application_not_found"]}
BOOKING_ERRORS = {**ACTING_ERRORS, 404: ["booking_not_found"], 409: ["booking_not_active", "past_cutoff"]}


async def _info(application: CardApplication, acting: ActingAs) -> schemas.CardApplicationInfo:
    return await journeys.application_info(application, beneficiary_name=acting.beneficiary.name)


async def _booking(result) -> schemas.BookingInfo:  # type: ignore[no-untyped-def]
    return await journeys.booking_info(result)


@mp_bp.get("/mine")
@contract(response=schemas.CardList)
@api(summary="My cards and the cards of those I act for (with book or collect): status, station, whether a pickup can be booked", tag="mini-program cards")
@mini_user_required
async def mp_my_cards(request: Request) -> HTTPResponse:
    return respond(await journeys.my_cards(user=request.ctx.mini_user))


@mp_bp.get("/applications")
@contract(response=schemas.CardApplicationList)
@api(summary="My card applications and those of the people I act for (with apply), newest first", tag="mini-program cards")
@mini_user_required
async def mp_my_applications(request: Request) -> HTTPResponse:
    return respond(await journeys.my_applications(user=request.ctx.mini_user))


@mp_bp.get("/bookings")
@contract(response=schemas.BookingList)
@api(summary="My pickup bookings and those for the people I act for, newest first (find a booking again to show its QR code or cancel it)", tag="mini-program cards")
@mini_user_required
async def mp_my_bookings(request: Request) -> HTTPResponse:
    return respond(await journeys.my_bookings(user=request.ctx.mini_user))


@mp_bp.post("/applications")
@contract(response=schemas.CardApplicationInfo, status=201, body=True, errors={**ACTING_ERRORS, 404: ["beneficiary_not_found"], 409: ["application_exists", "card_already_approved"], 422: ["not_entitled", "card_kind_mismatch"]})
@api(summary="Apply online (the person, or a proxy with scope apply)", tag="mini-program cards", json=OnlineBody)
@mini_user_required
async def mp_apply(request: Request, body: OnlineBody) -> HTTPResponse:
    acting = await acting_for(user=request.ctx.mini_user, beneficiary_id=body.beneficiary_id, scope=ProxyScope.APPLY, request_id=request.ctx.request_id)
    application = await applications.create_application(
        actor=acting.actor,
        settings=request.app.ctx.settings,
        beneficiary=acting.beneficiary,
        card_kind=body.card_kind,
        channel="online",
        applicant_user_id=None if acting.as_proxy else request.ctx.mini_user.id,
        proxy_user_id=request.ctx.mini_user.id if acting.as_proxy else None,
    )
    return respond(await _info(application, acting), status=201)


async def _mp_application(request: Request, application_id: int) -> tuple[CardApplication, ActingAs]:
    application = await CardApplication.get_or_none(id=application_id)
    if application is None:
        raise NotFound("申请不存在", code="application_not_found")
    try:
        acting = await acting_for(user=request.ctx.mini_user, beneficiary_id=application.beneficiary_id, scope=ProxyScope.APPLY, request_id=request.ctx.request_id)
    except Forbidden as exc:
        if exc.code == "not_authorised_for_beneficiary":  # a stranger's application looks absent
            raise NotFound("申请不存在", code="application_not_found") from None
        raise
    return application, acting


@mp_bp.get("/applications/<application_id:int>")
@contract(response=schemas.CardApplicationDetail, errors=APPLICATION_ERRORS, path_ids=["application_id"])
@api(summary="My application's progress and history", tag="mini-program cards")
@mini_user_required
async def mp_application(request: Request, application_id: int) -> HTTPResponse:
    application, acting = await _mp_application(request, application_id)
    return respond(await journeys.application_detail(application, beneficiary_name=acting.beneficiary.name))


@mp_bp.post("/applications/<application_id:int>/forms/<form:str>")
@contract(response=schemas.CardApplicationInfo, errors={**APPLICATION_ERRORS, 400: ["missing_file", "empty_file"], 409: ["application_locked"], 413: ["payload_too_large"], 415: ["unsupported_file"], 422: ["bad_form"]}, path_ids=["application_id"])
@api(summary="Upload a signed form from the phone (image or PDF)", tag="mini-program cards", multipart={"file": "JPEG, PNG or PDF"})
@mini_user_required
async def mp_upload_form(request: Request, application_id: int, form: str) -> HTTPResponse:
    application, acting = await _mp_application(request, application_id)
    application = await applications.attach_form(actor=acting.actor, application=application, form=form, data=required_upload(request, "file", limit=request.app.ctx.settings.uploads.max_document_bytes)[1], media_dir=request.app.ctx.settings.media_dir)
    return respond(await _info(application, acting))


@mp_bp.post("/applications/<application_id:int>/resubmit")
@contract(response=schemas.CardApplicationInfo, body=True, errors={**APPLICATION_ERRORS, 409: ["not_returned", "version_conflict"]}, path_ids=["application_id"])
@api(summary="Resubmit a returned application after fixing it", tag="mini-program cards", json=ResubmitBody)
@mini_user_required
async def mp_resubmit(request: Request, application_id: int, body: ResubmitBody) -> HTTPResponse:
    application, acting = await _mp_application(request, application_id)
    application = await applications.resubmit(actor=acting.actor, settings=request.app.ctx.settings, application=application, note=body.note)
    return respond(await _info(application, acting))


@mp_bp.get("/slots")
@contract(response=schemas.SlotList, errors={**ACTING_ERRORS, 404: ["card_not_found"], 409: ["card_not_ready"], 422: ["validation_failed"]})
@api(summary="Pickup slots still bookable at the card's station, with the station's address, phone and hours and local (+08:00) times", tag="mini-program cards", query=MpSlotsQuery)
@mini_user_required
async def mp_slots(request: Request, query: MpSlotsQuery) -> HTTPResponse:
    return json(await journeys.slots_for_card(user=request.ctx.mini_user, settings=request.app.ctx.settings, card_id=query.card_id, request_id=request.ctx.request_id), ensure_ascii=False)


@mp_bp.post("/bookings")
@contract(response=schemas.BookingInfo, status=201, also=[200], body=True, idempotency_key=True, errors={**ACTING_ERRORS, 400: ["idempotency_key_required"], 404: ["card_not_found", "slot_not_found"], 409: ["card_not_ready", "slot_full", "past_cutoff", "card_already_booked"]})
@api(summary="Book a pickup slot for a ready card (header Idempotency-Key makes retries safe)", tag="mini-program cards", json=BookBody)
@mini_user_required
async def mp_book(request: Request, body: BookBody) -> HTTPResponse:
    key = request.headers.get("idempotency-key", "").strip()
    if not key or len(key) > 80:
        raise BadRequest("缺少 Idempotency-Key 请求头", code="idempotency_key_required")
    result, created = await booking.book(settings=request.app.ctx.settings, user=request.ctx.mini_user, card_id=body.card_id, slot_id=body.slot_id, idempotency_key=key, request_id=request.ctx.request_id)
    return respond(await _booking(result), status=201 if created else 200)


@mp_bp.post("/bookings/<booking_id:int>/reschedule")
@contract(response=schemas.BookingInfo, body=True, errors={**BOOKING_ERRORS, 404: ["booking_not_found", "slot_not_found"], 409: ["booking_not_active", "past_cutoff", "slot_full"]}, path_ids=["booking_id"])
@api(summary="Move a booking to another slot (before the cutoff)", tag="mini-program cards", json=RescheduleBody)
@mini_user_required
async def mp_reschedule(request: Request, booking_id: int, body: RescheduleBody) -> HTTPResponse:
    result = await booking.reschedule(settings=request.app.ctx.settings, user=request.ctx.mini_user, booking_id=booking_id, slot_id=body.slot_id, request_id=request.ctx.request_id)
    return respond(await _booking(result))


@mp_bp.post("/bookings/<booking_id:int>/cancel")
@contract(response=schemas.BookingInfo, errors=BOOKING_ERRORS, path_ids=["booking_id"])
@api(summary="Cancel a booking (before the cutoff)", tag="mini-program cards")
@mini_user_required
async def mp_cancel(request: Request, booking_id: int) -> HTTPResponse:
    result = await booking.cancel(settings=request.app.ctx.settings, user=request.ctx.mini_user, booking_id=booking_id, request_id=request.ctx.request_id)
    return respond(await _booking(result))


@mp_bp.get("/bookings/<booking_id:int>/qr")
@contract(response=schemas.QrToken, errors=BOOKING_ERRORS, path_ids=["booking_id"])
@api(summary="A signed, expiring QR token (and short code) to show at the station", tag="mini-program cards")
@mini_user_required
async def mp_qr(request: Request, booking_id: int) -> HTTPResponse:
    return respond(schemas.QrToken.model_validate(await booking.qr_for_user(settings=request.app.ctx.settings, user=request.ctx.mini_user, booking_id=booking_id, request_id=request.ctx.request_id)))


