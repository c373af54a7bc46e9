"""The notification outbox: rows written in the same transaction as the event that causes them.

The worker (``server/notifications/worker.py``) sends them later; callers never talk to WeChat.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from models.wechat import Binding, BindingStatus, Notification, NotificationStatus, ProxyGrant, ProxyScope, ProxyStatus
from server.clock import CHINA_TZ
from server.notifications.templates import default_registry

NO_WECHAT = "未绑定微信，请电话联系"


def _stored_value(value: Any) -> Any:
    # Stored as the text the templates accept, in China time: rendering happens later, elsewhere.
    if isinstance(value, datetime):
        return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _jsonable(context: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(context, ensure_ascii=False, default=_stored_value))


async def enqueue(
    *,
    user_id: int | None,
    template_key: str,
    context: dict[str, Any],
    dedupe_key: str,
    beneficiary_id: int | None = None,
    station_id: int | None = None,
) -> None:
    """Queue one message. The same ``dedupe_key`` twice queues it once (an event replayed is not re-sent)."""
    default_registry().get(template_key)  # an unknown template fails here, in the event's transaction
    now = datetime.now(UTC)
    row = Notification(
        user_id=user_id,
        beneficiary_id=beneficiary_id,
        station_id=station_id,
        template_key=template_key,
        context=_jsonable(context),
        dedupe_key=dedupe_key[:160],
        status=NotificationStatus.PENDING if user_id is not None else NotificationStatus.NO_QUOTA,
        last_error="" if user_id is not None else NO_WECHAT,
        next_attempt_at=now,
    )
    # ON CONFLICT DO NOTHING: a duplicate must not abort the caller's transaction on PostgreSQL.
    await Notification.bulk_create([row], ignore_conflicts=True)


async def notify_beneficiary(
    *,
    beneficiary_id: int,
    station_id: int | None,
    template_key: str,
    context: dict[str, Any],
    dedupe_key: str,
    proxy_scope: ProxyScope | None = None,
    include_proxies: bool = True,
    also_user_ids: list[int] | None = None,
) -> int:
    """Queue the message for the person's own WeChat and their active proxies (optionally only those
    holding ``proxy_scope``), plus ``also_user_ids`` (e.g. the proxy who made the booking, whatever
    their scopes). With nobody to send to, one row is queued for staff to phone instead.
    Each row's context says whether its reader is the person or a proxy (``recipient_role``), so a
    template can word it for them. Returns how many rows were queued."""
    recipients: dict[int, str] = {}
    binding = await Binding.get_or_none(beneficiary_id=beneficiary_id, status=BindingStatus.ACTIVE)
    if binding is not None:
        recipients[binding.user_id] = "self"
    grants = await ProxyGrant.filter(beneficiary_id=beneficiary_id, status=ProxyStatus.ACTIVE)
    if include_proxies:
        for grant in grants:
            if proxy_scope is None or proxy_scope.value in grant.scopes:
                recipients.setdefault(grant.proxy_user_id, "proxy")
    proxy_users = {grant.proxy_user_id for grant in grants}
    for user_id in also_user_ids or []:
        recipients.setdefault(user_id, "proxy" if user_id in proxy_users else "self")
    if not recipients:
        await enqueue(user_id=None, template_key=template_key, context={**context, "recipient_role": "self"}, dedupe_key=f"{dedupe_key}:none", beneficiary_id=beneficiary_id, station_id=station_id)
        return 1
    for user_id, role in recipients.items():
        await enqueue(user_id=user_id, template_key=template_key, context={**context, "recipient_role": role}, dedupe_key=f"{dedupe_key}:u{user_id}", beneficiary_id=beneficiary_id, station_id=station_id)
    return len(recipients)
