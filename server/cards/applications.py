"""Card applications and the four-level review chain (受理及检查 → 核实 → 初审 → 审核)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.cards import ApplicationStatus, CardApplication, CardKind, CardReviewStep
from models.registry import Beneficiary
from models.staff import Role
from server import media
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.cards import rules
from server.config import Settings
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.miniapp.acting import ProxyScope
from server.notifications.outbox import notify_beneficiary
from server.workdays import add_working_days

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
        "return_count": a.return_count,
        "flagged": a.flagged,
        "problem_note": a.problem_note,
        "forms": {"application_form": bool(a.application_form_path), "bank_form": bool(a.bank_form_path)},
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


async def refuse_reapplication_while_card_held(*, beneficiary_id: int, card_kind: CardKind) -> None:
    """One card of a kind per person: no new application while one is approved (being made, issued or
    delivered). Applications still in the review chain are refused by the open_key unique index."""
    if await CardApplication.filter(beneficiary_id=beneficiary_id, card_kind=card_kind, status=ApplicationStatus.APPROVED).exists():
        raise Conflict("已有审核通过的同类优待证，不能重复申领", code="card_already_approved")


async def create_application(*, actor: Actor, settings: Settings, beneficiary: Beneficiary, card_kind: CardKind, channel: str, applicant_user_id: int | None = None, proxy_user_id: int | None = None, staff_id: int | None = None) -> CardApplication:
    entitled = rules.card_kind_for(beneficiary.category)
    if entitled is None:
        raise ValidationFailed("该类别人员不在优待证申领范围内", code="not_entitled")
    if entitled != card_kind:
        raise ValidationFailed(f"申请的优待证种类不正确，应申领{rules.KIND_LABELS[entitled]}", code="card_kind_mismatch", expected=entitled.value)
    await refuse_reapplication_while_card_held(beneficiary_id=beneficiary.id, card_kind=card_kind)
    today = date.today()
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
    if action == "pass" and application.status == ApplicationStatus.STATION_CHECK and not (application.application_form_path and application.bank_form_path):
        raise ValidationFailed("申领表和银行借记卡信息确认书须签字后上传", code="forms_missing")
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


def require_staff_may_apply(scope: Scope) -> None:
    if scope.role not in (Role.STATION, Role.ADMIN):
        raise Forbidden("现场申请由服务站受理", code="role_not_allowed")
