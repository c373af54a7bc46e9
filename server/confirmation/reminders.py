"""During implementation, a weekly reminder to people on WeChat who have not confirmed yet."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.confirmation import Campaign, CampaignStatus, Confirmation, ConfirmationStatus
from models.wechat import Binding, BindingStatus, ProxyGrant, ProxyStatus
from server.confirmation import rules
from server.notifications.outbox import notify_beneficiary


async def queue_confirmation_reminders(*, now: datetime, interval_days: int) -> int:
    """At most one reminder per person per ``interval_days``; only to people with a bound WeChat or an
    active proxy (the outbox then respects their subscription quota)."""
    today = now.date()
    cutoff = now - timedelta(days=interval_days)
    queued = 0
    for campaign in await Campaign.filter(status=CampaignStatus.OPEN):
        if rules.stage_on(campaign, today) != rules.Stage.IMPLEMENTATION:
            continue
        on_wechat = set(await Binding.filter(status=BindingStatus.ACTIVE).values_list("beneficiary_id", flat=True))
        on_wechat |= set(await ProxyGrant.filter(status=ProxyStatus.ACTIVE).values_list("beneficiary_id", flat=True))
        due = await Confirmation.filter(campaign_id=campaign.id, status__in=[ConfirmationStatus.PENDING], beneficiary_id__in=list(on_wechat)).select_related("beneficiary")
        for confirmation in due:
            if confirmation.last_reminded_at is not None and confirmation.last_reminded_at > cutoff:
                continue
            await notify_beneficiary(
                beneficiary_id=confirmation.beneficiary_id,
                station_id=confirmation.station_id,
                template_key="confirmation_due",
                context={"campaign_id": campaign.id, "campaign_name": campaign.name, "beneficiary_name": confirmation.beneficiary.name, "due_date": campaign.implementation_end},
                dedupe_key=f"reminder:{confirmation.id}:{today.isoformat()}",
            )
            await Confirmation.filter(id=confirmation.id).update(last_reminded_at=now)
            queued += 1
    return queued


