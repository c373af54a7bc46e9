"""Mini-program routes for cards: online application, pickup slots, booking and the QR code."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from models.cards import CardKind, PickupSlot
from server.cards import applications, booking
from server.errors import BadRequest, Forbidden, NotFound
from server.http.uploads import required_upload
from server.http.validation import api
from server.miniapp.acting import ProxyScope, acting_for
from server.miniapp.guard import mini_user_required

mp_bp = Blueprint("cards_mp", url_prefix="/api/mp/cards")

class OnlineBody(BaseModel):
    beneficiary_id: int
    card_kind: CardKind

class ResubmitBody(BaseModel):
    note: str = Field(default="", max_length=300)

class BookBody(BaseModel):
    card_id: int
    slot_id: int

class RescheduleBody(BaseModel):
    slot_id: int

class MpSlotsQuery(BaseModel):
    card_id: int


@mp_bp.post("/applications")
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
    return json(applications.application_json(application), status=201, ensure_ascii=False)


async def _mp_application(request: Request, application_id: int):  # type: ignore[no-untyped-def]
    from models.cards import CardApplication

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
@api(summary="My application's progress and history", tag="mini-program cards")
@mini_user_required
async def mp_application(request: Request, application_id: int) -> HTTPResponse:
    application, _ = await _mp_application(request, application_id)
    return json({**applications.application_json(application), "history": await applications.history(application_id=application.id)}, ensure_ascii=False)


@mp_bp.post("/applications/<application_id:int>/forms/<form:str>")
@api(summary="Upload a signed form from the phone (image or PDF)", tag="mini-program cards", multipart={"file": "JPEG, PNG or PDF"})
@mini_user_required
async def mp_upload_form(request: Request, application_id: int, form: str) -> HTTPResponse:
    application, acting = await _mp_application(request, application_id)
    application = await applications.attach_form(actor=acting.actor, application=application, form=form, data=required_upload(request, "file", limit=request.app.ctx.settings.uploads.max_document_bytes)[1], media_dir=request.app.ctx.settings.media_dir)
    return json(applications.application_json(application), ensure_ascii=False)


@mp_bp.post("/applications/<application_id:int>/resubmit")
@api(summary="Resubmit a returned application after fixing it", tag="mini-program cards", json=ResubmitBody)
@mini_user_required
async def mp_resubmit(request: Request, application_id: int, body: ResubmitBody) -> HTTPResponse:
    application, acting = await _mp_application(request, application_id)
    application = await applications.resubmit(actor=acting.actor, settings=request.app.ctx.settings, application=application, note=body.note)
    return json(applications.application_json(application), ensure_ascii=False)


@mp_bp.get("/slots")
@api(summary="Open pickup slots at the card's station", tag="mini-program cards", query=MpSlotsQuery)
@mini_user_required
async def mp_slots(request: Request, query: MpSlotsQuery) -> HTTPResponse:
    card, _, _ = await booking._card_for(user=request.ctx.mini_user, card_id=query.card_id, request_id=request.ctx.request_id)
    slots = await PickupSlot.filter(station_id=card.station_id, day__gte=date.today()).order_by("day", "start_time").limit(200)
    return json({"items": [booking.slot_json(s) for s in slots if s.booked < s.capacity]})


@mp_bp.post("/bookings")
@api(summary="Book a pickup slot for a ready card (header Idempotency-Key makes retries safe)", tag="mini-program cards", json=BookBody)
@mini_user_required
async def mp_book(request: Request, body: BookBody) -> HTTPResponse:
    key = request.headers.get("idempotency-key", "").strip()
    if not key or len(key) > 80:
        raise BadRequest("缺少 Idempotency-Key 请求头", code="idempotency_key_required")
    result, created = await booking.book(settings=request.app.ctx.settings, user=request.ctx.mini_user, card_id=body.card_id, slot_id=body.slot_id, idempotency_key=key, request_id=request.ctx.request_id)
    return json(booking.booking_json(result), status=201 if created else 200)


@mp_bp.post("/bookings/<booking_id:int>/reschedule")
@api(summary="Move a booking to another slot (before the cutoff)", tag="mini-program cards", json=RescheduleBody)
@mini_user_required
async def mp_reschedule(request: Request, booking_id: int, body: RescheduleBody) -> HTTPResponse:
    result = await booking.reschedule(settings=request.app.ctx.settings, user=request.ctx.mini_user, booking_id=booking_id, slot_id=body.slot_id, request_id=request.ctx.request_id)
    return json(booking.booking_json(result))


@mp_bp.post("/bookings/<booking_id:int>/cancel")
@api(summary="Cancel a booking (before the cutoff)", tag="mini-program cards")
@mini_user_required
async def mp_cancel(request: Request, booking_id: int) -> HTTPResponse:
    result = await booking.cancel(settings=request.app.ctx.settings, user=request.ctx.mini_user, booking_id=booking_id, request_id=request.ctx.request_id)
    return json(booking.booking_json(result))


@mp_bp.get("/bookings/<booking_id:int>/qr")
@api(summary="A signed, expiring QR token (and short code) to show at the station", tag="mini-program cards")
@mini_user_required
async def mp_qr(request: Request, booking_id: int) -> HTTPResponse:
    return json(await booking.qr_for_user(settings=request.app.ctx.settings, user=request.ctx.mini_user, booking_id=booking_id, request_id=request.ctx.request_id))


