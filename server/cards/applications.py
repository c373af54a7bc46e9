"""Card applications and the four-level review chain (受理及检查 → 核实 → 初审 → 审核)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.cards import (
    ApplicationAppointment,
    ApplicationSlot,
    ApplicationStatus,
    Booking,
    BookingStatus,
    Card,
    CardApplication,
    CardKind,
    CardReviewStep,
    CardStatus,
    PickupSlot,
    StationNotice,
)
from models.registry import Beneficiary, ReferencePhoto
from server import media
from server.acting import ProxyScope
from server.actors import SYSTEM, Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.cards import eligibility, rules, timeline
from server.config import Settings
from server.errors import Conflict, NotFound, ValidationFailed
from server.notifications.outbox import notify_beneficiary
from server.security.fields import cipher
from server.workdays import add_working_days, due_is_provisional

OPEN_STATUSES = [ApplicationStatus.STATION_CHECK, ApplicationStatus.CENTRE_VERIFICATION, ApplicationStatus.BUREAU_REVIEW, ApplicationStatus.CITY_REVIEW, ApplicationStatus.RETURNED]


def application_json(a: CardApplication, *, today: date | None = None) -> dict[str, Any]:
    today = today or date.today()
    return {
        "id": a.id,
        "beneficiary_id": a.beneficiary_id,
        "station_id": a.station_id,
        "card_kind": a.card_kind.value,
        "card_kind_label": rules.KIND_LABELS[a.card_kind],
        "batch": a.batch,
        "channel": a.channel,
        "status": a.status.value,
        "status_label": rules.STATUS_LABELS[a.status],
        "due_date": a.due_date.isoformat() if a.due_date else None,
        "overdue": bool(a.due_date and a.due_date < today and a.status in rules.CHAIN),
        "due_provisional": due_is_provisional(a.due_date, start=a.step_started_on),
        "return_count": a.return_count,
        "flagged": a.flagged,
        "problem_note": a.problem_note,
        "forms": {"application_form": bool(a.application_form_path), "bank_form": bool(a.bank_form_path)},
        "bank": {"bank_name": a.bank_name, "account_masked": a.bank_account_masked} if a.bank_account_masked else None,
        "materials_status": a.materials_status,
        "version": a.version,
        "created_at": a.created_at.isoformat(),
    }


def _due(status: ApplicationStatus, settings: Settings, start: date) -> date | None:
    days = rules.step_due_days(status, settings)
    return add_working_days(start, days) if days is not None else None


async def _notify(application: CardApplication, *, note: str) -> None:
    await notify_beneficiary(
        beneficiary_id=application.beneficiary_id,
        station_id=application.station_id,
        template_key="card_status_changed",
        context={"application_id": application.id, "status_label": rules.STATUS_LABELS[application.status], "changed_at": datetime.now(UTC), "note": note or "无"},
        dedupe_key=f"card_app:{application.id}:v{application.version}",
        proxy_scope=ProxyScope.APPLY,
    )


def check_may_apply(*, beneficiary: Beneficiary, card_kind: CardKind) -> None:
    """Eligibility by category, alive, and a complete record (健全建档立卡) before entering the chain."""
    entitled = eligibility.ELIGIBILITY[beneficiary.category]
    if entitled.kind is None:
        raise ValidationFailed(f"该类别人员不在优待证申领范围内：{entitled.why}", code="not_entitled", category=beneficiary.category.value)
    if entitled.kind != card_kind:
        raise ValidationFailed(f"申请的优待证种类不正确，应申领{rules.KIND_LABELS[entitled.kind]}", code="card_kind_mismatch", expected=entitled.kind.value)
    if eligibility.is_deceased(beneficiary):
        raise ValidationFailed("该优抚对象已登记死亡，不能申领优待证", code="beneficiary_deceased")
    missing = eligibility.missing_record_elements(beneficiary)
    if missing:
        labels = "、".join(eligibility.RECORD_ELEMENTS[m] for m in missing)
        raise ValidationFailed(f"建档立卡信息不完整（缺少{labels}），请先到服务站完善信息", code="record_incomplete", missing=missing)


async def refuse_reapplication_while_card_held(*, beneficiary_id: int, card_kind: CardKind) -> None:
    """One card of a kind per person: no new application while one is approved (being made, issued or
    delivered). Applications still in the review chain are refused by the open_key unique index."""
    if await CardApplication.filter(beneficiary_id=beneficiary_id, card_kind=card_kind, status=ApplicationStatus.APPROVED).exists():
        raise Conflict("已有审核通过的同类优待证，不能重复申领", code="card_already_approved")


async def create_application(*, actor: Actor, settings: Settings, beneficiary: Beneficiary, card_kind: CardKind, channel: str, applicant_user_id: int | None = None, proxy_user_id: int | None = None, staff_id: int | None = None) -> CardApplication:
    beneficiary = await Beneficiary.get(id=beneficiary.id)  # the record as it is now, not a stale copy
    check_may_apply(beneficiary=beneficiary, card_kind=card_kind)
    await refuse_reapplication_while_card_held(beneficiary_id=beneficiary.id, card_kind=card_kind)
    today = date.today()
    timeline.require_review_period(today, settings)
    async with in_transaction():
        try:
            application = await CardApplication.create(
                beneficiary=beneficiary,
                station_id=beneficiary.station_id,
                card_kind=card_kind,
                batch=rules.batch_for(beneficiary.category),
                channel=channel,
                applicant_user_id=applicant_user_id,
                proxy_user_id=proxy_user_id,
                created_by_staff_id=staff_id,
                status=ApplicationStatus.STATION_CHECK,
                step_started_on=today,
                due_date=_due(ApplicationStatus.STATION_CHECK, settings, today),
                open_key=f"{beneficiary.id}:{card_kind.value}",
            )
        except IntegrityError as exc:
            raise Conflict("已有正在办理的同类优待证申请", code="application_exists") from exc
        await CardReviewStep.create(application=application, from_status=None, to_status=application.status.value, action="submit", staff_id=staff_id, user_id=applicant_user_id or proxy_user_id)
        await audit.record(actor=actor, action="card_application.submitted", entity_type="card_application", entity_id=application.id, details={"beneficiary_id": beneficiary.id, "kind": card_kind.value, "channel": channel, "batch": application.batch})
    return application


async def get_application(*, scope: Scope, application_id: int) -> CardApplication:
    application = await CardApplication.get_or_none(id=application_id)
    if application is None:
        raise NotFound("申请不存在", code="application_not_found")
    await scope.require_station_visible(application.station_id)
    return application


async def attach_form(*, actor: Actor, application: CardApplication, form: str, data: bytes, media_dir: Path) -> CardApplication:
    if form not in ("application_form", "bank_form"):
        raise ValidationFailed("表单类型不正确", code="bad_form")
    if application.status not in (ApplicationStatus.STATION_CHECK, ApplicationStatus.RETURNED):
        raise Conflict("申请已进入审核，不能更换材料", code="application_locked")
    stored = media.store(media_dir, data, category="card_forms", allowed=media.DOCUMENT_TYPES)
    async with in_transaction():
        await CardApplication.filter(id=application.id).update(**{f"{form}_path" if form == "application_form" else "bank_form_path": stored.path})
        await audit.record(actor=actor, action="card_application.form_uploaded", entity_type="card_application", entity_id=application.id, details={"form": form, "sha256": stored.sha256})
    return await CardApplication.get(id=application.id)


async def require_materials_complete(application: CardApplication) -> None:
    """受理及检查: the materials are complete before the station passes the application on."""
    person = await Beneficiary.get(id=application.beneficiary_id)
    missing = eligibility.missing_station_check_elements(
        has_photo=await ReferencePhoto.filter(beneficiary_id=person.id, is_active=True).exists(),
        application_form=bool(application.application_form_path),
        bank_form=bool(application.bank_form_path),
        bank_account=bool(application.bank_account_encrypted),
    )
    if missing:
        labels = "、".join(eligibility.STATION_CHECK_ELEMENTS[m] for m in missing)
        raise ValidationFailed(f"申请材料不完整：缺少{labels}", code="materials_incomplete", missing=missing)


async def transition(*, scope: Scope, actor: Actor, settings: Settings, application_id: int, action: str, reason: str, expected_version: int | None = None) -> CardApplication:
    """Pass the application up a level or return it one level down, with a written reason."""
    application = await get_application(scope=scope, application_id=application_id)
    await scope.require_station_writable(application.station_id)
    step = rules.CHAIN.get(application.status)
    if step is None:
        raise Conflict("该申请当前不在审核环节", code="not_under_review")
    role, passed_to, returned_to = step
    scope.require_role(role)
    if action == "return" and len(reason.strip()) < 2:
        raise ValidationFailed("退回须写明原因", code="reason_required")
    if action == "pass" and eligibility.is_deceased(await Beneficiary.get(id=application.beneficiary_id)):
        raise ValidationFailed("该优抚对象已登记死亡，不能继续办理，请撤回或退回", code="beneficiary_deceased")
    if action == "pass" and application.status == ApplicationStatus.STATION_CHECK:
        await require_materials_complete(application)
    target = passed_to if action == "pass" else returned_to
    today = date.today()
    version = expected_version if expected_version is not None else application.version
    updates: dict[str, Any] = {"status": target, "step_started_on": today, "due_date": _due(target, settings, today), "version": version + 1}
    if action == "return":
        updates["return_count"] = application.return_count + 1
    if target == ApplicationStatus.APPROVED:
        updates["open_key"] = None
    async with in_transaction():
        changed = await CardApplication.filter(id=application.id, status=application.status, version=version).update(**updates)
        if not changed:
            raise Conflict("该申请已被他人处理，请刷新", code="version_conflict")
        await CardReviewStep.create(application_id=application.id, from_status=application.status.value, to_status=target.value, action=action, reason=reason, staff_id=int(actor.id or 0))
        await audit.record(actor=actor, action=f"card_application.{action}", entity_type="card_application", entity_id=application.id, before={"status": application.status.value}, after={"status": target.value}, details={"reason": reason})
        fresh = await CardApplication.get(id=application.id)
        note = reason if action == "return" else ("审核通过，待制证" if target == ApplicationStatus.APPROVED else "已进入下一审核环节")
        if target == ApplicationStatus.RETURNED:
            note = f"请补正：{reason}"
        await _notify(fresh, note=note)
    return fresh


async def resubmit(*, actor: Actor, settings: Settings, application: CardApplication, note: str) -> CardApplication:
    """After a station return the same record continues, with its history."""
    if application.status != ApplicationStatus.RETURNED:
        raise Conflict("只有被退回的申请可以重新提交", code="not_returned")
    today = date.today()
    async with in_transaction():
        changed = await CardApplication.filter(id=application.id, status=ApplicationStatus.RETURNED, version=application.version).update(
            status=ApplicationStatus.STATION_CHECK, step_started_on=today, due_date=_due(ApplicationStatus.STATION_CHECK, settings, today), version=application.version + 1
        )
        if not changed:
            raise Conflict("该申请已被处理，请刷新", code="version_conflict")
        await CardReviewStep.create(application_id=application.id, from_status=ApplicationStatus.RETURNED.value, to_status=ApplicationStatus.STATION_CHECK.value, action="resubmit", reason=note, staff_id=int(actor.id) if actor.type == "staff" and actor.id else None, user_id=int(actor.id) if actor.type == "user" and actor.id else None)
        await audit.record(actor=actor, action="card_application.resubmitted", entity_type="card_application", entity_id=application.id, details={"note": note})
    return await CardApplication.get(id=application.id)


async def history(*, application_id: int) -> list[dict[str, Any]]:
    steps = await CardReviewStep.filter(application_id=application_id).order_by("id")
    return [{"from": s.from_status, "to": s.to_status, "action": s.action, "reason": s.reason, "staff_id": s.staff_id, "user_id": s.user_id, "at": s.created_at.isoformat()} for s in steps]


async def list_applications(*, scope: Scope, status: ApplicationStatus | None, overdue_only: bool, problems_only: bool, today: date | None = None) -> list[CardApplication]:
    today = today or date.today()
    query = await scope.filter_by_station(CardApplication.all())
    if status is not None:
        query = query.filter(status=status)
    if overdue_only:
        query = query.filter(status__in=list(rules.CHAIN), due_date__lt=today)
    items = await query.order_by("due_date", "id").limit(1000)
    if problems_only:
        # For the November clean-up: stuck (overdue), returned twice or more, or flagged.
        items = [a for a in items if a.status in OPEN_STATUSES and (a.flagged or a.return_count >= 2 or (a.due_date is not None and a.due_date < today and a.status in rules.CHAIN))]
    return items


async def flag_problem(*, scope: Scope, actor: Actor, application_id: int, flagged: bool, note: str, report: str | None) -> CardApplication:
    application = await get_application(scope=scope, application_id=application_id)
    await scope.require_station_writable(application.station_id)
    async with in_transaction():
        updates: dict[str, Any] = {"flagged": flagged, "problem_note": note}
        if report is not None:
            updates["problem_report"] = report
        await CardApplication.filter(id=application.id).update(**updates)
        await audit.record(actor=actor, action="card_application.problem_updated", entity_type="card_application", entity_id=application.id, details={"flagged": flagged, "note": note, "report": bool(report)})
    return await CardApplication.get(id=application.id)


def mask_account(account: str) -> str:
    return f"{'*' * 4}{account[-4:]}"


async def record_bank_account(*, actor: Actor, application: CardApplication, bank_name: str, account: str) -> CardApplication:
    """关联银行借记卡: the account number is kept encrypted; only its last four digits are shown."""
    digits = "".join(account.split())
    if not digits.isdigit() or not 12 <= len(digits) <= 30:
        raise ValidationFailed("借记卡号应为12至30位数字", code="bad_bank_account")
    if not bank_name.strip():
        raise ValidationFailed("请填写开户银行", code="bank_name_required")
    if application.status not in (ApplicationStatus.STATION_CHECK, ApplicationStatus.RETURNED):
        raise Conflict("申请已进入审核，不能更改银行信息", code="application_locked")
    encrypted = cipher().encrypt(digits, associated=f"card_application:{application.id}".encode())
    async with in_transaction():
        await CardApplication.filter(id=application.id).update(bank_name=bank_name.strip(), bank_account_encrypted=encrypted, bank_account_masked=mask_account(digits))
        await audit.record(actor=actor, action="card_application.bank_recorded", entity_type="card_application", entity_id=application.id, details={"bank_name": bank_name.strip(), "account_masked": mask_account(digits)})
    return await CardApplication.get(id=application.id)


def bank_account_of(application: CardApplication) -> str | None:
    if not application.bank_account_encrypted:
        return None
    return cipher().decrypt(application.bank_account_encrypted, associated=f"card_application:{application.id}".encode())


async def withdraw(*, actor: Actor, application: CardApplication, reason: str, by: str) -> CardApplication:
    """Withdrawal by the applicant (or their proxy) or by the station, at any open step, with a reason."""
    if application.status not in OPEN_STATUSES:
        raise Conflict("该申请已审核通过或已撤回，不能撤回", code="not_withdrawable")
    if len(reason.strip()) < 2:
        raise ValidationFailed("撤回须写明原因", code="reason_required")
    async with in_transaction():
        changed = await CardApplication.filter(id=application.id, status=application.status, version=application.version).update(status=ApplicationStatus.WITHDRAWN, open_key=None, due_date=None, version=application.version + 1)
        if not changed:
            raise Conflict("该申请已被他人处理，请刷新", code="version_conflict")
        await CardReviewStep.create(application_id=application.id, from_status=application.status.value, to_status=ApplicationStatus.WITHDRAWN.value, action="withdraw", reason=f"{by}：{reason}", staff_id=int(actor.id) if actor.type == "staff" and actor.id else None, user_id=int(actor.id) if actor.type == "user" and actor.id else None)
        await audit.record(actor=actor, action="card_application.withdrawn", entity_type="card_application", entity_id=application.id, before={"status": application.status.value}, after={"status": "withdrawn"}, details={"by": by, "reason": reason})
        fresh = await CardApplication.get(id=application.id)
        await _notify(fresh, note=f"申请已撤回：{reason}")
    return fresh


async def flag_on_death(*, beneficiary_id: int, death_date: date, source: str = "死亡比对") -> dict[str, int]:
    """A death recorded by an import: open applications and undelivered cards are flagged for the
    station (the application is not withdrawn on the family's behalf), active pickup bookings and
    application appointments are released, and the station is told. Safe to call twice."""
    note = f"{source}：申请人已于{death_date.isoformat()}死亡，请核实并处理"
    return await flag_person(beneficiary_id=beneficiary_id, note=note, kind="death", release_bookings=True)


async def flag_on_cross_check(*, beneficiary_id: int, source: str, finding: str) -> dict[str, int]:
    """A cross-check with another department (婚姻、社保、违法违纪…) found something to verify."""
    return await flag_person(beneficiary_id=beneficiary_id, note=f"{source}比对：{finding}", kind="cross_check", release_bookings=False)


async def flag_person(*, beneficiary_id: int, note: str, kind: str, release_bookings: bool) -> dict[str, int]:
    note = note[:300]
    async with in_transaction():
        open_apps = await CardApplication.filter(beneficiary_id=beneficiary_id, status__in=OPEN_STATUSES)
        await CardApplication.filter(id__in=[a.id for a in open_apps]).update(flagged=True, problem_note=note)
        cards = await Card.filter(beneficiary_id=beneficiary_id, status__in=[CardStatus.AT_CENTRE, CardStatus.AT_STATION])
        await Card.filter(id__in=[c.id for c in cards]).update(flagged=True, flag_note=note)
        released = 0
        if release_bookings:
            for b in await Booking.filter(card_id__in=[c.id for c in cards], status=BookingStatus.ACTIVE):
                if await Booking.filter(id=b.id, status=BookingStatus.ACTIVE).update(status=BookingStatus.CANCELLED, active_card_id=None):
                    await PickupSlot.filter(id=b.slot_id, booked__gt=0).update(booked=F("booked") - 1)
                    released += 1
            for ap in await ApplicationAppointment.filter(beneficiary_id=beneficiary_id, status=BookingStatus.ACTIVE):
                if await ApplicationAppointment.filter(id=ap.id, status=BookingStatus.ACTIVE).update(status=BookingStatus.CANCELLED, active_beneficiary_id=None):
                    await ApplicationSlot.filter(id=ap.slot_id, booked__gt=0).update(booked=F("booked") - 1)
                    released += 1
        stations = {a.station_id for a in open_apps} | {c.station_id for c in cards}
        for station_id in stations:
            await StationNotice.get_or_create(
                dedupe_key=f"flag:{kind}:{beneficiary_id}:{station_id}",
                defaults={"station_id": station_id, "kind": f"flagged_{kind}", "message": note, "data": {"beneficiary_id": beneficiary_id, "applications": [a.id for a in open_apps], "cards": [c.id for c in cards]}},
            )
        if open_apps or cards:
            await audit.record(actor=SYSTEM, action=f"cards.flagged_{kind}", entity_type="beneficiary", entity_id=beneficiary_id, details={"applications": [a.id for a in open_apps], "cards": [c.id for c in cards], "note": note, "bookings_released": released})
    return {"applications": len(open_apps), "cards": len(cards), "bookings_released": released}
