"""Privacy in the card work: confidentiality agreements (签署保密协议) required before staff see
applicants' personal data, viewing stored documents with an audit entry, archive or destruction of
application materials with a record (依规归档或销毁，严禁私自留存或销毁), and the full-ID print audit.

``confidentiality_required`` (a route decorator, under ``staff_required``) and
``require_signed_agreement`` (a function) are meant for any domain's routes that return personal
data; the card routes use them."""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

from sanic import Request
from tortoise.transactions import in_transaction

from models.cards import (
    ApplicationStatus,
    Card,
    CardApplication,
    CardReviewStep,
    CardStatus,
    ConfidentialityAgreement,
    MaterialDisposal,
)
from models.org import OrgUnit
from models.staff import Role, Staff
from server import media
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.clock import CHINA_TZ, china_today
from server.config import Settings
from server.errors import ApiError, Conflict, Forbidden, NotFound, ValidationFailed

FORMS = ("application_form", "bank_form")
REVIEW_ROLES = (Role.STATION, Role.CENTRE, Role.BUREAU, Role.CITY)


class AgreementRequired(ApiError):
    status, code, message = 403, "confidentiality_agreement_required", "查看个人信息前须签署保密协议，请联系事务局办公室登记"


async def has_signed_agreement(staff_id: int) -> bool:
    return await Staff.filter(id=staff_id, confidentiality_signed_at__isnull=False).exists()


async def require_signed_agreement(*, staff_id: int) -> None:
    if not await has_signed_agreement(staff_id):
        raise AgreementRequired()


def confidentiality_required(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Place under ``@staff_required(...)``: the logged-in staff member must have a signed agreement."""

    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        await require_signed_agreement(staff_id=request.ctx.staff.staff_id)
        return await handler(request, *args, **kwargs)

    return wrapper


def agreement_json(a: ConfidentialityAgreement) -> dict[str, Any]:
    return {"id": a.id, "staff_id": a.staff_id, "signed_on": a.signed_on.isoformat(), "recorded_by_staff_id": a.recorded_by_staff_id, "has_document": bool(a.document_path), "revoked_at": a.revoked_at.isoformat() if a.revoked_at else None, "recorded_at": a.created_at.isoformat()}


async def _staff_in_scope(scope: Scope, staff_id: int) -> Staff:
    staff = await Staff.get_or_none(id=staff_id)
    if staff is None:
        raise NotFound("工作人员不存在", code="staff_not_found")
    if scope.is_global:
        return staff
    unit = await OrgUnit.get(id=staff.org_unit_id)
    inside = unit.id == scope.org_unit_id or unit.parent_id == scope.org_unit_id or await scope.contains_station(unit.id) or (unit.parent_id is not None and await scope.contains_station(unit.parent_id))
    if not inside:
        raise NotFound("工作人员不存在", code="staff_not_found")
    return staff


async def record_agreement(*, scope: Scope, actor: Actor, staff_id: int, signed_on: date, document: bytes | None, media_dir: Path) -> ConfidentialityAgreement:
    """The bureau (领导小组办公室) records that a staff member signed; the scan is kept if given."""
    scope.require_role(Role.BUREAU)
    scope.require_write()
    if actor.id is not None and str(staff_id) == actor.id:
        raise Forbidden("不能为本人登记保密协议", code="self_recording")
    staff = await _staff_in_scope(scope, staff_id)
    if signed_on > china_today():
        raise ValidationFailed("签署日期不能晚于今天", code="signed_on_in_future")
    stored = media.store(media_dir, document, category="confidentiality", allowed=media.DOCUMENT_TYPES) if document else None
    async with in_transaction():
        agreement = await ConfidentialityAgreement.create(staff_id=staff.id, signed_on=signed_on, recorded_by_staff_id=int(actor.id or 0), document_path=stored.path if stored else None, document_sha256=stored.sha256 if stored else "")
        await Staff.filter(id=staff.id).update(confidentiality_signed_at=datetime.combine(signed_on, time(0), tzinfo=CHINA_TZ))
        await audit.record(actor=actor, action="confidentiality.recorded", entity_type="staff", entity_id=staff.id, details={"signed_on": signed_on.isoformat(), "document_sha256": stored.sha256 if stored else None})
    return agreement


async def revoke_agreement(*, scope: Scope, actor: Actor, staff_id: int, reason: str) -> None:
    """A staff member leaves the card work: their access to personal data ends."""
    scope.require_role(Role.BUREAU)
    scope.require_write()
    staff = await _staff_in_scope(scope, staff_id)
    async with in_transaction():
        await ConfidentialityAgreement.filter(staff_id=staff.id, revoked_at=None).update(revoked_at=datetime.now(UTC))
        await Staff.filter(id=staff.id).update(confidentiality_signed_at=None)
        await audit.record(actor=actor, action="confidentiality.revoked", entity_type="staff", entity_id=staff.id, details={"reason": reason})


async def list_agreements(*, scope: Scope) -> list[ConfidentialityAgreement]:
    scope.require_role(Role.BUREAU, Role.AUDITOR)
    rows = await ConfidentialityAgreement.all().order_by("-id").limit(1000)
    visible = []
    for row in rows:
        try:
            await _staff_in_scope(scope, row.staff_id)
        except NotFound:
            continue
        visible.append(row)
    return visible


# ---- stored documents and the full-ID print


async def open_form(*, scope: Scope, actor: Actor, application: CardApplication, form: str, media_dir: Path) -> tuple[Path, str]:
    """A signed form, for the roles that review it; each viewing is audited."""
    scope.require_role(*REVIEW_ROLES, Role.AUDITOR)
    if form not in FORMS:
        raise ValidationFailed("表单类型不正确", code="bad_form")
    relative = getattr(application, f"{form}_path")
    if not relative:
        raise NotFound("该材料未上传或已销毁", code="form_not_found")
    await audit.record(actor=actor, action="card_application.form_viewed", entity_type="card_application", entity_id=application.id, details={"form": form})
    path = media.resolve(media_dir, relative)
    return path, mimetypes.guess_type(path.name)[0] or "application/octet-stream"


async def audit_full_id_print(*, actor: Actor, application: CardApplication, channel: str) -> None:
    """The printed forms carry the whole ID number: who printed them, and when, is kept."""
    await audit.record(actor=actor, action="card_application.forms_printed", entity_type="card_application", entity_id=application.id, details={"full_id_number": True, "channel": channel, "beneficiary_id": application.beneficiary_id})


# ---- retention: archive or destroy application materials


async def closed_on(application: CardApplication) -> datetime | None:
    """When the application's work ended: the card delivered, or the application withdrawn."""
    if application.status == ApplicationStatus.WITHDRAWN:
        step = await CardReviewStep.filter(application_id=application.id, action="withdraw").order_by("-id").first()
        return step.created_at if step else application.updated_at
    card = await Card.get_or_none(application_id=application.id)
    if card is not None and card.status == CardStatus.DELIVERED:
        return card.delivered_at
    return None


async def dispose_materials(*, scope: Scope, actor: Actor, settings: Settings, application_id: int, action: str, reason: str, now: datetime | None = None) -> MaterialDisposal:
    """Archive (kept, marked archived) or destroy (files removed, bank account erased) — only for a
    closed application, destruction only after the retention period; always with a record."""
    scope.require_role(Role.BUREAU)
    scope.require_write()
    now = now or datetime.now(UTC)
    application = await CardApplication.get_or_none(id=application_id)
    if application is None:
        raise NotFound("申请不存在", code="application_not_found")
    await scope.require_station_writable(application.station_id)
    if action not in ("archived", "destroyed"):
        raise ValidationFailed("处置方式应为归档或销毁", code="bad_disposal_action")
    if len(reason.strip()) < 2:
        raise ValidationFailed("须写明处置依据", code="reason_required")
    if application.materials_status == "destroyed":
        raise Conflict("材料已销毁", code="materials_destroyed")
    ended = await closed_on(application)
    if ended is None:
        raise Conflict("申请尚未办结（优待证未发放或申请未撤回），材料不能处置", code="application_not_closed")
    if action == "destroyed" and ended + timedelta(days=settings.cards.materials_retention_days) > now:
        keep_until = (ended + timedelta(days=settings.cards.materials_retention_days)).date()
        raise Conflict(f"材料保存期未满，{keep_until.isoformat()}后方可销毁", code="retention_not_over", keep_until=keep_until.isoformat())
    files = [{"form": form, "sha256": Path(getattr(application, f"{form}_path")).stem} for form in FORMS if getattr(application, f"{form}_path")]
    async with in_transaction():
        record = await MaterialDisposal.create(application_id=application.id, action=action, files=files, reason=reason, staff_id=int(actor.id or 0))
        updates: dict[str, Any] = {"materials_status": action}
        if action == "destroyed":
            updates.update(application_form_path=None, bank_form_path=None, bank_account_encrypted=None)
        await CardApplication.filter(id=application.id).update(**updates)
        await audit.record(actor=actor, action=f"card_materials.{action}", entity_type="card_application", entity_id=application.id, details={"files": files, "reason": reason})
    if action == "destroyed":
        for form in FORMS:
            relative = getattr(application, f"{form}_path")
            # Stored by content: another application holding the same file keeps it.
            if relative and not await CardApplication.filter(application_form_path=relative).exists() and not await CardApplication.filter(bank_form_path=relative).exists():
                media.resolve(settings.media_dir, relative).unlink(missing_ok=True)
    return record


def disposal_json(d: MaterialDisposal) -> dict[str, Any]:
    return {"id": d.id, "application_id": d.application_id, "action": d.action, "files": d.files, "reason": d.reason, "staff_id": d.staff_id, "at": d.created_at.isoformat()}
