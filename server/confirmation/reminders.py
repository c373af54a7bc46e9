"""During implementation, a reminder (confirmation_due) to people on WeChat who have not confirmed yet.

At most once per person per ``settings.confirmation.reminder_interval_days`` (default a week), tracked
in ``Confirmation.last_reminded_at``. Only people with an active self binding or an active proxy are
reminded; the outbox then sends to each and respects their subscription quota. Runs as a daily job.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from models.confirmation import Campaign, CampaignStatus, Confirmation, ConfirmationStatus
from models.wechat import Binding, BindingStatus, ProxyGrant, ProxyStatus
from server.clock import CHINA_TZ
from server.confirmation import rules
from server.notifications.outbox import notify_beneficiary

# Not yet confirmed: a pending face-check review is excluded (they did try, a clerk decides next).
DUE = [ConfirmationStatus.PENDING, ConfirmationStatus.NOT_FOUND, ConfirmationStatus.MOVED]


async def queue_confirmation_reminders(*, now: datetime, interval_days: int) -> int:
    """Queue reminders for every open campaign in its implementation stage (China date). Returns how
    many people were reminded. Safe to run concurrently: each person is claimed by a conditional
    update of ``last_reminded_at`` in the same transaction as their outbox rows."""
    today = now.astimezone(CHINA_TZ).date()
    cutoff = now - timedelta(days=interval_days)
    queued = 0
    for campaign in await Campaign.filter(status=CampaignStatus.OPEN):
        if rules.stage_on(campaign, today) != rules.Stage.IMPLEMENTATION:
            continue
        not_recently = Q(last_reminded_at__isnull=True) | Q(last_reminded_at__lte=cutoff)
        base = Confirmation.filter(campaign_id=campaign.id, status__in=DUE).filter(not_recently)
        bound = base.filter(beneficiary_id__in=Subquery(Binding.filter(status=BindingStatus.ACTIVE).values("beneficiary_id")))
        proxied = base.filter(beneficiary_id__in=Subquery(ProxyGrant.filter(status=ProxyStatus.ACTIVE).values("beneficiary_id")))
        due: dict[int, dict[str, Any]] = {}
        for query in (bound, proxied):
            for row in await query.order_by("id").values("id", "beneficiary_id", "station_id", "beneficiary__name"):
                due[row["id"]] = row
        for row in sorted(due.values(), key=lambda r: r["id"]):
            async with in_transaction():
                if not await Confirmation.filter(not_recently, id=row["id"], status__in=DUE).update(last_reminded_at=now):
                    continue  # someone else reminded or confirmed them meanwhile
                await notify_beneficiary(
                    beneficiary_id=row["beneficiary_id"],
                    station_id=row["station_id"],
                    template_key="confirmation_due",
                    context={"campaign_id": campaign.id, "campaign_name": campaign.name, "beneficiary_name": row["beneficiary__name"], "due_date": campaign.implementation_end},
                    dedupe_key=f"reminder:{row['id']}:{today.isoformat()}",
                )
            queued += 1
    return queued
