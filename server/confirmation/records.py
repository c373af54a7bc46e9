"""Recording confirmations as they happen (确认一对录入一对): station, home visit, self-service, review.

``mark_confirmed`` is the one place a confirmation becomes confirmed; it also opens a resumption
when the person's payments had been suspended for not confirming.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from models.confirmation import (
    CampaignStatus,
    Confirmation,
    ConfirmationMethod,
    ConfirmationRecord,
    ConfirmationStatus,
    Resumption,
    SuspensionProposal,
    SuspensionStatus,
)
from models.registry import Beneficiary, PhotoKind
from server import media
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.confirmation import rules
from server.errors import Conflict, NotFound, ValidationFailed
from server.registry import service as registry


@dataclass
class PersonUpdates:
    """What staff verified in person: corrections to the record and the hardship follow-up."""

    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None
    hardship: bool | None = None
    hardship_note: str | None = None

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class HomeVisit:
    outcome: str  # confirmed / not_found / death_reported / moved_away
    visited_at: datetime
    visitors: str
    notes: str = ""
    location: str = ""
    latitude: float | None = None
    longitude: float | None = None
    death_date: date | None = None
    updates: PersonUpdates = field(default_factory=PersonUpdates)


async def get_confirmation(*, scope: Scope, confirmation_id: int) -> Confirmation:
    confirmation = await Confirmation.get_or_none(id=confirmation_id).select_related("campaign", "beneficiary")
    if confirmation is None:
        raise NotFound("确认记录不存在", code="confirmation_not_found")
    await scope.require_station_visible(confirmation.station_id)
    return confirmation


async def _apply_person_updates(*, actor: Actor, beneficiary: Beneficiary, updates: PersonUpdates) -> Beneficiary:
    changes = updates.changes()
    if not changes:
        return beneficiary
    return await registry.apply_changes(actor=actor, beneficiary=beneficiary, changes=changes, action="beneficiary.updated_on_confirmation")


async def mark_confirmed(*, actor: Actor, confirmation: Confirmation, method: ConfirmationMethod, staff_id: int | None, reviewed: bool = False, home_visit: bool = False) -> Confirmation:
    """Confirm (idempotent for an already confirmed person), and start a resumption if suspended."""
    now = datetime.now(UTC)
    updates: dict[str, Any] = {"status": ConfirmationStatus.CONFIRMED, "method": method, "confirmed_at": now, "confirmed_by_staff_id": staff_id, "version": confirmation.version + 1}
    if reviewed:
        updates["reviewed"] = True
    if home_visit:
        updates["home_visited"] = True
    async with in_transaction():
        changed = await Confirmation.filter(id=confirmation.id, version=confirmation.version).exclude(status=ConfirmationStatus.DECEASED).update(**updates)
        if changed == 0:
            raise Conflict("该确认记录已被他人更新，请刷新后重试", code="version_conflict")
        await audit.record(actor=actor, action="confirmation.confirmed", entity_type="confirmation", entity_id=confirmation.id, details={"method": method.value, "reviewed": reviewed, "beneficiary_id": confirmation.beneficiary_id})
        await _open_resumption_if_suspended(actor=actor, confirmation=confirmation, confirmed_on=now.date())
    return await Confirmation.get(id=confirmation.id)


async def _open_resumption_if_suspended(*, actor: Actor, confirmation: Confirmation, confirmed_on: date) -> None:
    suspension = await SuspensionProposal.filter(beneficiary_id=confirmation.beneficiary_id, status=SuspensionStatus.APPROVED).order_by("-approved_at").first()
    if suspension is None or suspension.effective_from is None:
        return
    if await Resumption.filter(suspension_id=suspension.id).exists():
        return
    resume_from = rules.first_day_of_next_month(confirmed_on)
    back_pay = max(0, rules.months_between(suspension.effective_from, resume_from))
    resumption = await Resumption.create(beneficiary_id=confirmation.beneficiary_id, suspension=suspension, suspended_from=suspension.effective_from, resume_from=resume_from, back_pay_months=back_pay)
    await audit.record(actor=actor, action="resumption.proposed", entity_type="beneficiary", entity_id=confirmation.beneficiary_id, details={"resumption_id": resumption.id, "resume_from": resume_from.isoformat(), "back_pay_months": back_pay})


async def record_station_confirmation(*, scope: Scope, actor: Actor, confirmation_id: int, notes: str, updates: PersonUpdates, photo: bytes | None, media_dir: Path) -> Confirmation:
    """At the station: staff checked the ID card in person; an optional photo becomes a new reference."""
    confirmation = await get_confirmation(scope=scope, confirmation_id=confirmation_id)
    await scope.require_station_writable(confirmation.station_id)
    _require_open(confirmation)
    beneficiary = await _apply_person_updates(actor=actor, beneficiary=confirmation.beneficiary, updates=updates)
    photo_path = None
    if photo:
        stored, _ = await registry.add_photo(actor=actor, beneficiary=beneficiary, data=photo, kind=PhotoKind.STATION_CAPTURE, media_dir=media_dir)
        photo_path = stored.path
    await ConfirmationRecord.create(confirmation=confirmation, kind="station", outcome="confirmed", staff_id=int(actor.id or 0), happened_at=datetime.now(UTC), notes=notes, photo_path=photo_path, changes=_public_changes(updates))
    return await mark_confirmed(actor=actor, confirmation=confirmation, method=ConfirmationMethod.STATION, staff_id=int(actor.id or 0))


def _public_changes(updates: PersonUpdates) -> dict[str, Any]:
    changes = updates.changes()
    if "id_number" in changes:
        changes["id_number"] = "[changed]"
    return changes


def _require_open(confirmation: Confirmation) -> None:
    if confirmation.campaign.status == CampaignStatus.CLOSED:
        raise Conflict("该年度确认已结束", code="campaign_closed")
    if confirmation.status in (ConfirmationStatus.DECEASED,):
        raise Conflict("该对象已登记死亡", code="beneficiary_deceased")


async def record_home_visit(*, scope: Scope, actor: Actor, confirmation_id: int, visit: HomeVisit, photo: bytes | None, media_dir: Path) -> Confirmation:
    confirmation = await get_confirmation(scope=scope, confirmation_id=confirmation_id)
    await scope.require_station_writable(confirmation.station_id)
    _require_open(confirmation)
    if visit.outcome not in ("confirmed", "not_found", "death_reported", "moved_away"):
        raise ValidationFailed("走访结果不正确", code="bad_visit_outcome")
    if visit.outcome == "death_reported" and visit.death_date is None:
        raise ValidationFailed("登记死亡须填写死亡日期", code="death_date_required")
    beneficiary = confirmation.beneficiary
    if visit.outcome == "confirmed":
        beneficiary = await _apply_person_updates(actor=actor, beneficiary=beneficiary, updates=visit.updates)
    photo_path = None
    if photo:
        if visit.outcome == "confirmed":
            stored, _ = await registry.add_photo(actor=actor, beneficiary=beneficiary, data=photo, kind=PhotoKind.STATION_CAPTURE, media_dir=media_dir)
            photo_path = stored.path
        else:
            photo_path = media.store(media_dir, photo, category="visits", allowed=media.IMAGE_TYPES).path
    await ConfirmationRecord.create(
        confirmation=confirmation,
        kind="home_visit",
        outcome=visit.outcome,
        staff_id=int(actor.id or 0),
        happened_at=visit.visited_at,
        location=visit.location,
        latitude=visit.latitude,
        longitude=visit.longitude,
        notes=f"走访人员：{visit.visitors}\n{visit.notes}".strip(),
        photo_path=photo_path,
        changes=_public_changes(visit.updates) if visit.outcome == "confirmed" else {},
    )
    if visit.outcome == "confirmed":
        return await mark_confirmed(actor=actor, confirmation=confirmation, method=ConfirmationMethod.HOME_VISIT, staff_id=int(actor.id or 0), home_visit=True)
    status = {"not_found": ConfirmationStatus.NOT_FOUND, "moved_away": ConfirmationStatus.MOVED, "death_reported": ConfirmationStatus.DECEASED}[visit.outcome]
    async with in_transaction():
        # Not a home-visit confirmation (quotas.py): the attempt stays in the record trail only.
        await Confirmation.filter(id=confirmation.id).update(status=status, version=confirmation.version + 1)
        await audit.record(actor=actor, action=f"confirmation.home_visit_{visit.outcome}", entity_type="confirmation", entity_id=confirmation.id, details={"beneficiary_id": beneficiary.id})
        if visit.outcome == "death_reported" and visit.death_date is not None:
            from server.confirmation.deaths import record_death

            await record_death(actor=actor, beneficiary=beneficiary, death_date=visit.death_date, source="home_visit", import_sha256="home_visit")
    return await Confirmation.get(id=confirmation.id)


async def recheck(*, scope: Scope, actor: Actor, confirmation_id: int, accepted: bool, note: str) -> Confirmation:
    """The bureau's 复核 of a recorded confirmation."""
    confirmation = await get_confirmation(scope=scope, confirmation_id=confirmation_id)
    await scope.require_station_writable(confirmation.station_id)
    if confirmation.status != ConfirmationStatus.CONFIRMED:
        raise Conflict("只能复核已确认的记录", code="not_confirmed")
    async with in_transaction():
        await Confirmation.filter(id=confirmation.id).update(recheck_status="accepted" if accepted else "questioned", recheck_note=note, rechecked_by_staff_id=int(actor.id or 0), rechecked_at=datetime.now(UTC))
        await ConfirmationRecord.create(confirmation=confirmation, kind="recheck", outcome="accepted" if accepted else "questioned", staff_id=int(actor.id or 0), happened_at=datetime.now(UTC), notes=note)
        await audit.record(actor=actor, action="confirmation.rechecked", entity_type="confirmation", entity_id=confirmation.id, details={"accepted": accepted, "note": note})
    return await Confirmation.get(id=confirmation.id)


async def history(*, confirmation_id: int) -> list[ConfirmationRecord]:
    return await ConfirmationRecord.filter(confirmation_id=confirmation_id).order_by("happened_at", "id")


def record_json(r: ConfirmationRecord) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "outcome": r.outcome, "staff_id": r.staff_id, "user_id": r.user_id, "at": r.happened_at.isoformat(), "location": r.location, "notes": r.notes, "changes": r.changes, "has_photo": bool(r.photo_path)}


