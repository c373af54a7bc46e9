"""Appointments for applying on site (引导申请人使用预约功能，确保申请现场平稳有序).

The same slot machinery as card pickup (server/cards/slots.py): slots published per station on working
days, capacity taken by a conditional update in the booking's transaction, a short code for the clerk,
cancellation before a cutoff; plus an idempotency key per user."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.cards import ApplicationAppointment, ApplicationSlot, BookingStatus
from models.org import OrgUnit
from models.wechat import MiniUser
from server.acting import ProxyScope, acting_for
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.cards import eligibility, slots
from server.cards.slots import require_before_cutoff, short_code, slot_start
from server.cards.slots import slot_json as slot_json  # re-exported (the routes)
from server.config import Settings
from server.errors import Conflict, NotFound, ValidationFailed
from server.notifications.outbox import notify_beneficiary


def appointment_json(a: ApplicationAppointment) -> dict[str, Any]:
    return {"id": a.id, "slot_id": a.slot_id, "beneficiary_id": a.beneficiary_id, "status": a.status.value, "short_code": a.short_code, "as_proxy": a.as_proxy, "created_at": a.created_at.isoformat()}


async def publish_slots(*, scope: Scope, actor: Actor, station_id: int, start: date, days: int, windows: list[tuple[str, str]], capacity: int) -> list[ApplicationSlot]:
    return await slots.publish(ApplicationSlot, scope=scope, actor=actor, action="application_slots.published", station_id=station_id, start=start, days=days, windows=windows, capacity=capacity)


async def open_slots(*, station_id: int, today: date) -> list[ApplicationSlot]:
    slots = await ApplicationSlot.filter(station_id=station_id, day__gte=today).order_by("day", "start_time").limit(200)
    return [s for s in slots if s.booked < s.capacity]


async def book(*, settings: Settings, user: MiniUser, beneficiary_id: int, slot_id: int, idempotency_key: str, request_id: str | None = None, now: datetime | None = None) -> tuple[ApplicationAppointment, bool]:
    """Book a time to apply at the person's own station. An eligible, living person only; an
    incomplete record is what the visit is for, so it does not stop the booking."""
    now = now or datetime.now(UTC)
    existing = await ApplicationAppointment.get_or_none(user_id=user.id, idempotency_key=idempotency_key)
    if existing is not None:
        return existing, False
    acting = await acting_for(user=user, beneficiary_id=beneficiary_id, scope=ProxyScope.BOOK, request_id=request_id)
    person = acting.beneficiary
    if eligibility.card_kind_for(person.category) is None:
        raise ValidationFailed(f"该类别人员不在优待证申领范围内：{eligibility.ELIGIBILITY[person.category].why}", code="not_entitled")
    if eligibility.is_deceased(person):
        raise ValidationFailed("该优抚对象已登记死亡，不能预约申领", code="beneficiary_deceased")
    slot = await ApplicationSlot.get_or_none(id=slot_id)
    if slot is None or slot.station_id != person.station_id:
        raise NotFound("时段不存在", code="slot_not_found")
    require_before_cutoff(slot, settings, now)
    try:
        async with in_transaction():
            await slots.take_place(ApplicationSlot, slot.id)
            appointment = await ApplicationAppointment.create(slot_id=slot.id, beneficiary_id=person.id, user_id=user.id, as_proxy=acting.as_proxy, idempotency_key=idempotency_key, active_beneficiary_id=person.id, short_code=short_code())
            await audit.record(actor=acting.actor, action="application_appointment.created", entity_type="beneficiary", entity_id=person.id, details={"appointment_id": appointment.id, "slot_id": slot.id})
            station = await OrgUnit.get(id=slot.station_id)
            await notify_beneficiary(
                beneficiary_id=person.id,
                station_id=slot.station_id,
                template_key="booking_confirmed",
                context={"booking_id": appointment.id, "service_name": "优待证现场申请", "slot_start": slot_start(slot), "office_name": station.name, "booking_no": appointment.short_code},
                dedupe_key=f"application_appointment:{appointment.id}",
                proxy_scope=ProxyScope.BOOK,
            )
    except IntegrityError as exc:
        again = await ApplicationAppointment.get_or_none(user_id=user.id, idempotency_key=idempotency_key)
        if again is not None:
            return again, False
        raise Conflict("已有有效的申请预约", code="appointment_exists") from exc
    return appointment, True


async def cancel(*, settings: Settings, user: MiniUser, appointment_id: int, request_id: str | None = None, now: datetime | None = None) -> ApplicationAppointment:
    appointment = await ApplicationAppointment.get_or_none(id=appointment_id).select_related("slot")
    if appointment is None:
        raise NotFound("预约不存在", code="appointment_not_found")
    acting = await acting_for(user=user, beneficiary_id=appointment.beneficiary_id, scope=ProxyScope.BOOK, request_id=request_id)
    require_before_cutoff(appointment.slot, settings, now or datetime.now(UTC))
    async with in_transaction():
        if not await ApplicationAppointment.filter(id=appointment.id, status=BookingStatus.ACTIVE).update(status=BookingStatus.CANCELLED, active_beneficiary_id=None):
            raise Conflict("该预约已失效", code="appointment_not_active")
        await slots.give_back_place(ApplicationSlot, appointment.slot_id)
        await audit.record(actor=acting.actor, action="application_appointment.cancelled", entity_type="beneficiary", entity_id=appointment.beneficiary_id, details={"appointment_id": appointment.id})
    return await ApplicationAppointment.get(id=appointment.id)


async def day_list(*, scope: Scope, day: date) -> list[ApplicationAppointment]:
    query = await scope.filter_by_station(ApplicationAppointment.filter(slot__day=day).select_related("slot"), "slot__station_id")
    return await query.order_by("slot__start_time", "id")


async def check_in(*, scope: Scope, actor: Actor, short_code: str) -> ApplicationAppointment:
    """The applicant arrived: the clerk types the short code and takes the application on site."""
    code = short_code.strip().upper()
    # The column holds 8 characters: a longer code is simply not one of ours.
    appointment = await ApplicationAppointment.get_or_none(short_code=code).select_related("slot") if len(code) <= 8 else None
    if appointment is None:
        raise NotFound("预约不存在", code="appointment_not_found")
    await scope.require_station_writable(appointment.slot.station_id)
    async with in_transaction():
        if not await ApplicationAppointment.filter(id=appointment.id, status=BookingStatus.ACTIVE).update(status=BookingStatus.CHECKED_IN, active_beneficiary_id=None):
            raise Conflict("该预约已失效或已签到", code="appointment_not_active")
        await audit.record(actor=actor, action="application_appointment.checked_in", entity_type="beneficiary", entity_id=appointment.beneficiary_id, details={"appointment_id": appointment.id})
    return await ApplicationAppointment.get(id=appointment.id)
