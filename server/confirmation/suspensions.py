"""Suspension after the notice (公告60日) and resumption once the person is confirmed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from models.confirmation import Confirmation, PublicNotice, Resumption, SuspensionProposal, SuspensionStatus
from models.registry import Beneficiary, PaymentStatus
from models.staff import Role
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.confirmation import rules
from server.confirmation.campaigns import get_campaign
from server.confirmation.notices import UNCONFIRMED
from server.errors import Conflict, NotFound
from server.notifications.outbox import notify_beneficiary
from server.registry import service as registry


async def propose_suspensions(*, scope: Scope, actor: Actor, campaign_id: int, today: date | None = None, notice_days: int = rules.NOTICE_TO_SUSPENSION_DAYS) -> int:
    """Everyone still unconfirmed 60 days after their notice was published becomes a proposal (idempotent)."""
    today = today or date.today()
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    scope.require_write()
    notices = await PublicNotice.filter(campaign_id=campaign.id, published_on__isnull=False, published_on__lte=today - timedelta(days=notice_days))
    created = 0
    for notice in notices:
        listed = [e["beneficiary_id"] for e in notice.entries]
        still = await (await scope.filter_by_station(Confirmation.filter(campaign_id=campaign.id, beneficiary_id__in=listed, status__in=UNCONFIRMED))).values("beneficiary_id", "station_id")
        if not still:
            continue
        existing = set(await SuspensionProposal.filter(campaign_id=campaign.id, beneficiary_id__in=[p["beneficiary_id"] for p in still]).values_list("beneficiary_id", flat=True))
        fresh = [p for p in still if p["beneficiary_id"] not in existing]
        if fresh:
            await SuspensionProposal.bulk_create(
                [SuspensionProposal(campaign_id=campaign.id, beneficiary_id=p["beneficiary_id"], station_id=p["station_id"], notice_published_on=notice.published_on) for p in fresh],
                ignore_conflicts=True,
            )
            created += len(fresh)
    if created:
        await audit.record(actor=actor, action="suspension.proposed", entity_type="campaign", entity_id=campaign.id, details={"proposals": created})
    return created


def proposal_json(p: SuspensionProposal, beneficiary: Beneficiary | None = None) -> dict[str, Any]:
    data = {"id": p.id, "campaign_id": p.campaign_id, "beneficiary_id": p.beneficiary_id, "station_id": p.station_id, "status": p.status.value, "notice_published_on": p.notice_published_on.isoformat(), "effective_from": p.effective_from.isoformat() if p.effective_from else None}
    if beneficiary is not None:
        data.update(name=beneficiary.name, id_number=beneficiary.id_number_masked, monthly_amount=str(beneficiary.monthly_amount))
    return data


async def list_proposals(*, scope: Scope, campaign_id: int, status: SuspensionStatus | None) -> list[SuspensionProposal]:
    await get_campaign(scope=scope, campaign_id=campaign_id)
    query = await scope.filter_by_station(SuspensionProposal.filter(campaign_id=campaign_id))
    if status is not None:
        query = query.filter(status=status)
    return await query.select_related("beneficiary").order_by("station_id", "id")


async def approve(*, scope: Scope, actor: Actor, proposal_ids: list[int], today: date | None = None) -> dict[str, list[int]]:
    """The bureau approves one or many: suspended from the first day of next month. A person who
    confirmed meanwhile is withdrawn instead."""
    scope.require_role(Role.BUREAU)
    today = today or date.today()
    effective = rules.first_day_of_next_month(today)
    result: dict[str, list[int]] = {"approved": [], "withdrawn": [], "skipped": []}
    proposals = await SuspensionProposal.filter(id__in=proposal_ids).select_related("beneficiary", "campaign").order_by("id")
    found = {p.id for p in proposals}
    result["skipped"].extend(pid for pid in proposal_ids if pid not in found)
    for proposal in proposals:
        if not await scope.contains_station(proposal.station_id) or proposal.status != SuspensionStatus.PROPOSED:
            result["skipped"].append(proposal.id)
            continue
        confirmation = await Confirmation.get(campaign_id=proposal.campaign_id, beneficiary_id=proposal.beneficiary_id)
        async with in_transaction():
            if confirmation.status not in UNCONFIRMED:
                await SuspensionProposal.filter(id=proposal.id, status=SuspensionStatus.PROPOSED).update(status=SuspensionStatus.WITHDRAWN)
                await audit.record(actor=actor, action="suspension.withdrawn", entity_type="beneficiary", entity_id=proposal.beneficiary_id, details={"proposal_id": proposal.id, "confirmation_status": confirmation.status.value})
                result["withdrawn"].append(proposal.id)
                continue
            changed = await SuspensionProposal.filter(id=proposal.id, status=SuspensionStatus.PROPOSED).update(status=SuspensionStatus.APPROVED, approved_by_staff_id=int(actor.id or 0), approved_at=datetime.now(UTC), effective_from=effective)
            if not changed:
                result["skipped"].append(proposal.id)
                continue
            await registry.change_payment_status(actor=actor, beneficiary=proposal.beneficiary, to_status=PaymentStatus.SUSPENDED, effective_date=effective, reason="年度确认公告期满未确认，经审批暂停发放")
            await audit.record(actor=actor, action="suspension.approved", entity_type="beneficiary", entity_id=proposal.beneficiary_id, details={"proposal_id": proposal.id, "effective_from": effective.isoformat()})
            await notify_beneficiary(
                beneficiary_id=proposal.beneficiary_id,
                station_id=proposal.station_id,
                template_key="suspension_notice",
                context={"campaign_id": proposal.campaign_id, "beneficiary_name": proposal.beneficiary.name, "reason": "公告期满未完成年度确认", "suspended_on": effective},
                dedupe_key=f"suspension:{proposal.id}",
            )
            result["approved"].append(proposal.id)
    return result


def resumption_json(r: Resumption) -> dict[str, Any]:
    return {"id": r.id, "beneficiary_id": r.beneficiary_id, "suspended_from": r.suspended_from.isoformat(), "resume_from": r.resume_from.isoformat(), "back_pay_months": r.back_pay_months, "status": r.status, "signed_off_at": r.signed_off_at.isoformat() if r.signed_off_at else None}


async def list_resumptions(*, scope: Scope, status: str | None) -> list[Resumption]:
    query = await scope.filter_by_station(Resumption.all(), "beneficiary__station_id")
    if status:
        query = query.filter(status=status)
    return await query.order_by("id")


async def sign_off_resumption(*, scope: Scope, actor: Actor, resumption_id: int) -> Resumption:
    scope.require_role(Role.BUREAU)
    resumption = await Resumption.get_or_none(id=resumption_id).select_related("beneficiary")
    if resumption is None:
        raise NotFound("恢复发放记录不存在", code="resumption_not_found")
    await scope.require_station_writable(resumption.beneficiary.station_id)
    async with in_transaction():
        changed = await Resumption.filter(id=resumption.id, status="pending").update(status="signed_off", signed_off_by_staff_id=int(actor.id or 0), signed_off_at=datetime.now(UTC))
        if not changed:
            raise Conflict("已审批", code="resumption_already_signed_off")
        await registry.change_payment_status(actor=actor, beneficiary=resumption.beneficiary, to_status=PaymentStatus.ACTIVE, effective_date=resumption.resume_from, reason=f"完成确认，恢复发放（补发{resumption.back_pay_months}个月）")
        await audit.record(actor=actor, action="resumption.signed_off", entity_type="beneficiary", entity_id=resumption.beneficiary_id, details={"resumption_id": resumption.id, "resume_from": resumption.resume_from.isoformat(), "back_pay_months": resumption.back_pay_months})
        await notify_beneficiary(
            beneficiary_id=resumption.beneficiary_id,
            station_id=resumption.beneficiary.station_id,
            template_key="resumption_notice",
            context={"beneficiary_name": resumption.beneficiary.name, "benefit_name": "定期抚恤补助金", "resumed_on": resumption.resume_from, "remark": f"补发{resumption.back_pay_months}个月"},
            dedupe_key=f"resumption:{resumption.id}",
        )
    return await Resumption.get(id=resumption.id)


