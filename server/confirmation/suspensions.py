"""Suspension after the notice (公告60日) and resumption once the person is confirmed.

1. ``propose_suspensions``: everyone a published notice listed who, ``notice_to_suspension_days``
   after that publication, is still pending / not found / moved becomes a proposal (idempotent).
   "Today" is the server's date (``server/clock.py``), never the request's: before day 60 of every
   relevant notice it is refused (409 ``notice_period_running``, with the first possible date).
   Each proposal is listed with the contact attempts made (contact_attempts.py).
2. ``approve`` (bureau, one or many): payments suspended from the first day of next month, the
   person (and proxies) told with ``suspension_notice``. A proposal whose person has meanwhile
   confirmed (or died) is withdrawn instead; ``withdraw`` does it by hand.
3. A suspended person who confirms gets a pending ``Resumption`` (``records.mark_confirmed``);
   ``sign_off_resumption`` (bureau) makes payments active from ``resume_from`` and notes back pay.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from models.confirmation import (
    Confirmation,
    ConfirmationStatus,
    PublicNotice,
    Resumption,
    SuspensionProposal,
    SuspensionStatus,
)
from models.registry import Beneficiary, PaymentStatus
from models.staff import Role
from server import clock
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.clock import china_today
from server.confirmation import notice_period, rules
from server.confirmation.campaigns import get_campaign
from server.confirmation.contact_attempts import attempt_json, attempts_for
from server.confirmation.notices import listed_beneficiary_ids
from server.errors import Conflict, NotFound
from server.notifications.outbox import notify_beneficiary
from server.registry import service as registry

# Still unreachable or unconfirmable: these are proposed. A pending face-check review is not (a clerk
# decides it first), and a confirmed or deceased person never is.
SUSPENDABLE = [ConfirmationStatus.PENDING, ConfirmationStatus.NOT_FOUND, ConfirmationStatus.MOVED]
RESOLVED = [ConfirmationStatus.CONFIRMED, ConfirmationStatus.DECEASED]


def notice_period_over(published_on: date, today: date, notice_days: int = rules.NOTICE_TO_SUSPENSION_DAYS) -> bool:
    return notice_period.period_over(published_on, today, notice_days)


async def propose_suspensions(*, scope: Scope, actor: Actor, campaign_id: int, notice_days: int = rules.NOTICE_TO_SUSPENSION_DAYS) -> int:
    """Everyone still unconfirmed ``notice_days`` after the earliest published notice listing them
    becomes a proposal. Running it again creates nothing new; proposals whose person has since
    confirmed or died are withdrawn. Returns how many proposals were created. Refused (409) while
    no notice has run its full period, or when no notice was published."""
    today = china_today()
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    scope.require_role(Role.BUREAU, Role.CENTRE)
    scope.require_write()
    await withdraw_resolved(scope=scope, actor=actor, campaign_id=campaign.id)
    published = await PublicNotice.filter(campaign_id=campaign.id, published_on__isnull=False).order_by("published_on", "id")
    if not published:
        raise Conflict("尚无已发布的公告，不能提出暂停发放", code="no_published_notice")
    notices = [n for n in published if notice_period_over(n.published_on, today, notice_days)]
    if not notices:
        earliest = notice_period.earliest_proposal(published[0].published_on, notice_days)
        raise Conflict(f"公告期未满{notice_days}日，{earliest.isoformat()}起方可提出暂停发放", code="notice_period_running", earliest=earliest.isoformat(), today=today.isoformat())
    first_listed: dict[int, date] = {}
    for notice in notices:
        for beneficiary_id in await listed_beneficiary_ids(notice):
            first_listed.setdefault(beneficiary_id, notice.published_on)
    if not first_listed:
        return 0
    query = await scope.filter_by_station(Confirmation.filter(campaign_id=campaign.id, beneficiary_id__in=list(first_listed), status__in=SUSPENDABLE, exclusion__isnull=True))
    still = await query.values("beneficiary_id", "station_id")
    existing = set(await SuspensionProposal.filter(campaign_id=campaign.id).values_list("beneficiary_id", flat=True))
    fresh = [p for p in still if p["beneficiary_id"] not in existing]
    if not fresh:
        return 0
    async with in_transaction():
        await SuspensionProposal.bulk_create(
            [SuspensionProposal(campaign_id=campaign.id, beneficiary_id=p["beneficiary_id"], station_id=p["station_id"], notice_published_on=first_listed[p["beneficiary_id"]]) for p in fresh],
            batch_size=500,
            ignore_conflicts=True,  # a concurrent run made some of them: (campaign, beneficiary) is unique
        )
        await audit.record(actor=actor, action="suspension.proposed", entity_type="campaign", entity_id=campaign.id, details={"proposals": len(fresh), "beneficiary_ids": sorted(p["beneficiary_id"] for p in fresh), "notice_days": notice_days, "as_of": today.isoformat()})
    return len(fresh)


async def withdraw_resolved(*, scope: Scope, actor: Actor, campaign_id: int) -> int:
    """Withdraw open proposals whose person has confirmed (or died) before approval."""
    query = await scope.filter_by_station(SuspensionProposal.filter(campaign_id=campaign_id, status=SuspensionStatus.PROPOSED))
    open_ids = dict(await query.values_list("beneficiary_id", "id"))
    if not open_ids:
        return 0
    resolved = await Confirmation.filter(campaign_id=campaign_id, beneficiary_id__in=list(open_ids), status__in=RESOLVED).values_list("beneficiary_id", "status")
    withdrawn = 0
    for beneficiary_id, status in resolved:
        withdrawn += await _withdraw(actor=actor, proposal_id=open_ids[beneficiary_id], beneficiary_id=beneficiary_id, reason=f"confirmation_{ConfirmationStatus(status).value}")
    return withdrawn


async def _withdraw(*, actor: Actor, proposal_id: int, beneficiary_id: int, reason: str) -> int:
    async with in_transaction():
        changed = await SuspensionProposal.filter(id=proposal_id, status=SuspensionStatus.PROPOSED).update(status=SuspensionStatus.WITHDRAWN)
        if changed:
            await audit.record(actor=actor, action="suspension.withdrawn", entity_type="beneficiary", entity_id=beneficiary_id, details={"proposal_id": proposal_id, "reason": reason})
    return changed


async def withdraw(*, scope: Scope, actor: Actor, proposal_id: int, reason: str) -> SuspensionProposal:
    """The bureau withdraws a proposal by hand (the person made contact, the record was wrong, ...)."""
    scope.require_role(Role.BUREAU)
    proposal = await _get_proposal(scope=scope, proposal_id=proposal_id)
    await scope.require_station_writable(proposal.station_id)
    if not await _withdraw(actor=actor, proposal_id=proposal.id, beneficiary_id=proposal.beneficiary_id, reason=reason or "manual"):
        raise Conflict("只能撤销待审批的暂停发放提议", code="proposal_not_open")
    return await SuspensionProposal.get(id=proposal.id).select_related("beneficiary")


async def _get_proposal(*, scope: Scope, proposal_id: int) -> SuspensionProposal:
    proposal = await SuspensionProposal.get_or_none(id=proposal_id).select_related("beneficiary")
    if proposal is None:
        raise NotFound("暂停发放提议不存在", code="proposal_not_found")
    await scope.require_station_visible(proposal.station_id)
    return proposal


def proposal_json(p: SuspensionProposal, beneficiary: Beneficiary | None = None, *, confirmation_status: str | None = None) -> dict[str, Any]:
    data = {
        "id": p.id,
        "campaign_id": p.campaign_id,
        "beneficiary_id": p.beneficiary_id,
        "station_id": p.station_id,
        "status": p.status.value,
        "notice_published_on": p.notice_published_on.isoformat(),
        "approved_at": p.approved_at.isoformat() if p.approved_at else None,
        "effective_from": p.effective_from.isoformat() if p.effective_from else None,
    }
    if beneficiary is not None:
        data.update(name=beneficiary.name, id_number=beneficiary.id_number_masked, monthly_amount=str(beneficiary.monthly_amount), payment_status=beneficiary.payment_status.value)
    if confirmation_status is not None:
        data["confirmation_status"] = confirmation_status
    return data


async def list_proposals(*, scope: Scope, campaign_id: int, status: SuspensionStatus | None) -> list[SuspensionProposal]:
    await get_campaign(scope=scope, campaign_id=campaign_id)
    query = await scope.filter_by_station(SuspensionProposal.filter(campaign_id=campaign_id))
    if status is not None:
        query = query.filter(status=status)
    return await query.select_related("beneficiary").order_by("station_id", "id")


async def confirmation_statuses(*, campaign_id: int, beneficiary_ids: list[int]) -> dict[int, str]:
    rows = await Confirmation.filter(campaign_id=campaign_id, beneficiary_id__in=beneficiary_ids).values_list("beneficiary_id", "status")
    return {b: ConfirmationStatus(s).value for b, s in rows}


async def proposals_with_contacts(*, campaign_id: int, items: list[SuspensionProposal]) -> list[dict[str, Any]]:
    """The proposal list as the bureau approves it: each person with their confirmation status, the
    days since the notice, and every contact attempt (who, when, how, outcome, family contact)."""
    rows = await Confirmation.filter(campaign_id=campaign_id, beneficiary_id__in=[p.beneficiary_id for p in items]).values_list("beneficiary_id", "id", "status")
    confirmation_of = {b: (cid, ConfirmationStatus(s).value) for b, cid, s in rows}
    attempts = await attempts_for(confirmation_ids=[cid for cid, _ in confirmation_of.values()])
    today = china_today()
    out = []
    for p in items:
        cid, status = confirmation_of.get(p.beneficiary_id, (None, None))
        logged = attempts.get(cid, []) if cid is not None else []
        out.append({
            **proposal_json(p, p.beneficiary, confirmation_status=status),
            "confirmation_id": cid,
            "days_since_notice": (today - p.notice_published_on).days,
            "contact_attempts": [attempt_json(a) for a in logged],
            "contact_attempt_count": len(logged),
        })
    return out


async def approve(*, scope: Scope, actor: Actor, proposal_ids: list[int], notice_days: int = rules.NOTICE_TO_SUSPENSION_DAYS) -> dict[str, list[int]]:
    """The bureau approves one or many: payments suspended from the first day of next month, each in
    its own transaction with its audit entry and notification. A person who confirmed (or died)
    meanwhile is withdrawn instead; one whose face check awaits a clerk is skipped for now."""
    scope.require_role(Role.BUREAU)
    scope.require_write()
    today = china_today()
    effective = rules.first_day_of_next_month(today)
    result: dict[str, list[int]] = {"approved": [], "withdrawn": [], "skipped": []}
    proposals = await SuspensionProposal.filter(id__in=proposal_ids).select_related("beneficiary").order_by("id")
    found = {p.id for p in proposals}
    result["skipped"].extend(sorted({pid for pid in proposal_ids if pid not in found}))
    for proposal in proposals:
        if not await scope.contains_station(proposal.station_id) or proposal.status != SuspensionStatus.PROPOSED or not notice_period_over(proposal.notice_published_on, today, notice_days):
            result["skipped"].append(proposal.id)
            continue
        confirmation = await Confirmation.get(campaign_id=proposal.campaign_id, beneficiary_id=proposal.beneficiary_id)
        if confirmation.status in RESOLVED:
            if await _withdraw(actor=actor, proposal_id=proposal.id, beneficiary_id=proposal.beneficiary_id, reason=f"confirmation_{confirmation.status.value}"):
                result["withdrawn"].append(proposal.id)
            else:
                result["skipped"].append(proposal.id)
            continue
        if confirmation.status not in SUSPENDABLE:
            result["skipped"].append(proposal.id)
            continue
        async with in_transaction():
            changed = await SuspensionProposal.filter(id=proposal.id, status=SuspensionStatus.PROPOSED).update(status=SuspensionStatus.APPROVED, approved_by_staff_id=int(actor.id or 0), approved_at=clock.now(), effective_from=effective)
            if not changed:
                result["skipped"].append(proposal.id)
                continue
            await registry.change_payment_status(actor=actor, beneficiary=proposal.beneficiary, to_status=PaymentStatus.SUSPENDED, effective_date=effective, reason="年度确认公告期满未确认，经审批暂停发放")
            await audit.record(actor=actor, action="suspension.approved", entity_type="beneficiary", entity_id=proposal.beneficiary_id, details={"proposal_id": proposal.id, "effective_from": effective.isoformat(), "notice_published_on": proposal.notice_published_on.isoformat()})
            await notify_beneficiary(
                beneficiary_id=proposal.beneficiary_id,
                station_id=proposal.station_id,
                template_key="suspension_notice",
                context={"campaign_id": proposal.campaign_id, "beneficiary_name": proposal.beneficiary.name, "reason": "公告期满未完成年度确认", "suspended_on": effective},
                dedupe_key=f"suspension:{proposal.id}",
            )
        result["approved"].append(proposal.id)
    return result


def resumption_json(r: Resumption, beneficiary: Beneficiary | None = None) -> dict[str, Any]:
    data = {
        "id": r.id,
        "beneficiary_id": r.beneficiary_id,
        "suspension_id": r.suspension_id,
        "suspended_from": r.suspended_from.isoformat(),
        "resume_from": r.resume_from.isoformat(),
        "back_pay_months": r.back_pay_months,
        "status": r.status,
        "signed_off_at": r.signed_off_at.isoformat() if r.signed_off_at else None,
    }
    if beneficiary is not None:
        data.update(name=beneficiary.name, id_number=beneficiary.id_number_masked, station_id=beneficiary.station_id, monthly_amount=str(beneficiary.monthly_amount), payment_status=beneficiary.payment_status.value)
    return data


async def list_resumptions(*, scope: Scope, status: str | None) -> list[Resumption]:
    query = await scope.filter_by_station(Resumption.all(), "beneficiary__station_id")
    if status:
        query = query.filter(status=status)
    return await query.select_related("beneficiary").order_by("id")


async def sign_off_resumption(*, scope: Scope, actor: Actor, resumption_id: int) -> Resumption:
    """Bureau sign-off: payments active from ``resume_from``; ``back_pay_months`` are owed for the
    suspended months; the person (and proxies) are told with ``resumption_notice``."""
    scope.require_role(Role.BUREAU)
    resumption = await Resumption.get_or_none(id=resumption_id).select_related("beneficiary")
    if resumption is None:
        raise NotFound("恢复发放记录不存在", code="resumption_not_found")
    await scope.require_station_visible(resumption.beneficiary.station_id)
    await scope.require_station_writable(resumption.beneficiary.station_id)
    if resumption.beneficiary.payment_status == PaymentStatus.DECEASED:
        raise Conflict("该对象已登记死亡，不能恢复发放", code="beneficiary_deceased")
    async with in_transaction():
        changed = await Resumption.filter(id=resumption.id, status="pending").update(status="signed_off", signed_off_by_staff_id=int(actor.id or 0), signed_off_at=clock.now())
        if not changed:
            raise Conflict("该恢复发放已审批", code="resumption_already_signed_off")
        remark = f"补发暂停期间{resumption.back_pay_months}个月待遇" if resumption.back_pay_months else "暂停期间无待补发月份"
        await registry.change_payment_status(actor=actor, beneficiary=resumption.beneficiary, to_status=PaymentStatus.ACTIVE, effective_date=resumption.resume_from, reason=f"完成确认，恢复发放（{remark}）")
        await audit.record(actor=actor, action="resumption.signed_off", entity_type="beneficiary", entity_id=resumption.beneficiary_id, details={"resumption_id": resumption.id, "suspended_from": resumption.suspended_from.isoformat(), "resume_from": resumption.resume_from.isoformat(), "back_pay_months": resumption.back_pay_months})
        await notify_beneficiary(
            beneficiary_id=resumption.beneficiary_id,
            station_id=resumption.beneficiary.station_id,
            template_key="resumption_notice",
            context={"beneficiary_name": resumption.beneficiary.name, "benefit_name": "定期抚恤补助金", "resumed_on": resumption.resume_from, "remark": remark},
            dedupe_key=f"resumption:{resumption.id}",
        )
    return await Resumption.get(id=resumption.id).select_related("beneficiary")
