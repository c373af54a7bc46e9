"""The station's face-review queue: failed or doubtful self-service checks, decided with the evidence."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tortoise.transactions import in_transaction

from models.confirmation import (
    Confirmation,
    ConfirmationMethod,
    ConfirmationRecord,
    ConfirmationStatus,
    FaceAttempt,
    ReviewItem,
    ReviewStatus,
)
from models.registry import PhotoKind, ReferencePhoto
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.confirmation.records import mark_confirmed
from server.confirmation.self_service import REASON_TEXT
from server.errors import Conflict, NotFound
from server.notifications.outbox import notify_beneficiary
from server.workdays import due_is_provisional


async def list_items(*, scope: Scope, status: ReviewStatus | None, overdue_only: bool, station_id: int | None, today: date | None = None) -> list[ReviewItem]:
    query = await scope.filter_by_station(ReviewItem.all())
    if status is not None:
        query = query.filter(status=status)
    if overdue_only:
        query = query.filter(status=ReviewStatus.OPEN, due_date__lt=today or date.today())
    if station_id is not None:
        query = query.filter(station_id=station_id)
    return await query.select_related("attempt", "confirmation__beneficiary").order_by("due_date", "id").limit(500)


def item_summary(item: ReviewItem, *, today: date | None = None) -> dict[str, Any]:
    beneficiary = item.confirmation.beneficiary
    return {
        "id": item.id,
        "status": item.status.value,
        "station_id": item.station_id,
        "due_date": item.due_date.isoformat(),
        "overdue": item.status == ReviewStatus.OPEN and item.due_date < (today or date.today()),
        "due_provisional": due_is_provisional(item.due_date, start=item.created_at.date()),
        "beneficiary_id": beneficiary.id,
        "name": beneficiary.name,
        "id_number": beneficiary.id_number_masked,
        "decision": item.attempt.decision,
        "reasons": item.attempt.reasons,
        "reason_texts": [REASON_TEXT.get(r, r) for r in item.attempt.reasons],
        "best_similarity": item.attempt.scores.get("best_similarity"),
        "submitted_at": item.attempt.created_at.isoformat(),
    }


async def get_item(*, scope: Scope, item_id: int) -> ReviewItem:
    item = await ReviewItem.get_or_none(id=item_id).select_related("attempt", "confirmation__beneficiary")
    if item is None:
        raise NotFound("待审核事项不存在", code="review_item_not_found")
    await scope.require_station_visible(item.station_id)
    return item


async def evidence(*, scope: Scope, item_id: int) -> dict[str, Any]:
    """Everything the clerk needs side by side: frames, references, scores, reasons, attempt history."""
    item = await get_item(scope=scope, item_id=item_id)
    beneficiary = item.confirmation.beneficiary
    attempt = item.attempt
    references = await ReferencePhoto.filter(beneficiary_id=beneficiary.id, is_active=True).order_by("-created_at")
    history = await FaceAttempt.filter(confirmation_id=item.confirmation_id).order_by("id")
    return {
        **item_summary(item),
        "reason": item.reason,
        "challenge": attempt.challenge,
        "scores": attempt.scores,
        "frames": [{"index": i, "url": f"/api/review-items/{item.id}/frames/{i}"} for i in range(len(attempt.frame_paths))],
        "references": [
            {"photo_id": p.id, "kind": p.kind.value, "label": "身份证照片" if p.kind == PhotoKind.ID_CARD else "历次确认照片", "url": f"/api/beneficiaries/{beneficiary.id}/photos/{p.id}", "added_at": p.created_at.isoformat()}
            for p in references
        ],
        "attempts": [{"id": a.id, "at": a.created_at.isoformat(), "decision": a.decision, "reasons": a.reasons, "best_similarity": a.scores.get("best_similarity")} for a in history],
        "beneficiary": {"id": beneficiary.id, "name": beneficiary.name, "id_number": beneficiary.id_number_masked, "birth_date": beneficiary.birth_date.isoformat(), "phone": beneficiary.phone, "address": beneficiary.address},
    }


async def frame_path(*, scope: Scope, item_id: int, index: int) -> str:
    item = await get_item(scope=scope, item_id=item_id)
    paths = item.attempt.frame_paths
    if not 0 <= index < len(paths):
        raise NotFound("照片不存在（可能已按保存期限清除）", code="frame_not_found")
    return paths[index]


async def decide(*, scope: Scope, actor: Actor, item_id: int, accept: bool, reason: str) -> ReviewItem:
    item = await get_item(scope=scope, item_id=item_id)
    await scope.require_station_writable(item.station_id)
    now = datetime.now(UTC)
    async with in_transaction():
        changed = await ReviewItem.filter(id=item.id, status=ReviewStatus.OPEN).update(
            status=ReviewStatus.ACCEPTED if accept else ReviewStatus.REJECTED, decided_by_staff_id=int(actor.id or 0), decided_at=now, reason=reason
        )
        if changed == 0:
            raise Conflict("该事项已被处理", code="review_already_decided")
        await ConfirmationRecord.create(confirmation_id=item.confirmation_id, kind="review", outcome="accepted" if accept else "rejected", staff_id=int(actor.id or 0), happened_at=now, notes=reason)
        await audit.record(actor=actor, action="review.accepted" if accept else "review.rejected", entity_type="confirmation", entity_id=item.confirmation_id, details={"review_item_id": item.id, "attempt_id": item.attempt_id, "reason": reason})
        beneficiary = item.confirmation.beneficiary
        await notify_beneficiary(
            beneficiary_id=beneficiary.id,
            station_id=item.station_id,
            template_key="review_result",
            context={"application_id": item.id, "item_name": "年度确认人工核对", "result": "已通过" if accept else "未通过", "comment": "年度确认已完成" if accept else f"{reason}。请到服务站办理或等待上门", "reviewed_at": now},
            dedupe_key=f"review:{item.id}",
        )
        if not accept:
            await Confirmation.filter(id=item.confirmation_id, status=ConfirmationStatus.IN_REVIEW).update(status=ConfirmationStatus.PENDING)
    if accept:
        confirmation = await Confirmation.get(id=item.confirmation_id)
        if confirmation.status != ConfirmationStatus.CONFIRMED:
            await mark_confirmed(actor=actor, confirmation=confirmation, method=ConfirmationMethod.SELF_SERVICE, staff_id=int(actor.id or 0), reviewed=True)
    return await ReviewItem.get(id=item.id)


async def needs_contact(*, scope: Scope, campaign_id: int, max_failures_per_day: int) -> list[Confirmation]:
    """People self-service could not confirm: locked, failing, or rejected on review."""
    rejected = await ReviewItem.filter(status=ReviewStatus.REJECTED, confirmation__campaign_id=campaign_id).values_list("confirmation_id", flat=True)
    query = await scope.filter_by_station(Confirmation.filter(campaign_id=campaign_id).exclude(status__in=[ConfirmationStatus.CONFIRMED, ConfirmationStatus.DECEASED]))
    rows = await query.select_related("beneficiary").order_by("station_id", "id")
    rejected_ids = set(rejected)
    return [c for c in rows if c.self_service_locked or c.failed_attempts >= max_failures_per_day or c.id in rejected_ids]
