"""The notification outbox: rows written in the same transaction as the event that causes them.

The worker (``server/notifications/worker.py``) sends them later; callers never talk to WeChat.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from tortoise import connections

from models.wechat import Binding, BindingStatus, Notification, NotificationStatus, ProxyGrant, ProxyScope, ProxyStatus
from server.clock import CHINA_TZ
from server.db import is_postgres
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


def _recipients(binding_user_id: int | None, grants: list[ProxyGrant], *, proxy_scope: ProxyScope | None, include_proxies: bool, also_user_ids: list[int] | None) -> dict[int, str]:
    """Who reads a message about one person, and as whom: their own WeChat, then their active proxies
    (optionally only those holding ``proxy_scope``), then ``also_user_ids``."""
    recipients: dict[int, str] = {}
    if binding_user_id is not None:
        recipients[binding_user_id] = "self"
    if include_proxies:
        for grant in grants:
            if proxy_scope is None or proxy_scope.value in grant.scopes:
                recipients.setdefault(grant.proxy_user_id, "proxy")
    proxy_users = {grant.proxy_user_id for grant in grants}
    for user_id in also_user_ids or []:
        recipients.setdefault(user_id, "proxy" if user_id in proxy_users else "self")
    return recipients


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
    binding = await Binding.get_or_none(beneficiary_id=beneficiary_id, status=BindingStatus.ACTIVE)
    grants = await ProxyGrant.filter(beneficiary_id=beneficiary_id, status=ProxyStatus.ACTIVE).order_by("id")
    recipients = _recipients(binding.user_id if binding else None, list(grants), proxy_scope=proxy_scope, include_proxies=include_proxies, also_user_ids=also_user_ids)
    if not recipients:
        await enqueue(user_id=None, template_key=template_key, context={**context, "recipient_role": "self"}, dedupe_key=f"{dedupe_key}:none", beneficiary_id=beneficiary_id, station_id=station_id)
        return 1
    for user_id, role in recipients.items():
        await enqueue(user_id=user_id, template_key=template_key, context={**context, "recipient_role": role}, dedupe_key=f"{dedupe_key}:u{user_id}", beneficiary_id=beneficiary_id, station_id=station_id)
    return len(recipients)


# _recipients in SQL (no proxy scope, no extra users): the person's own WeChat as "self", each active
# proxy not already that as "proxy", and for nobody one row for staff to phone. The dedupe key makes a
# repeated chunk insert nothing.
_NOTIFY_MANY_SQL_POSTGRES = """
WITH p AS (SELECT * FROM unnest($1::int[], $2::int[]) AS p(bid, sid)),
r AS (
  SELECT p.bid, p.sid, b.user_id, 'self' AS role FROM p JOIN binding b ON b.beneficiary_id = p.bid AND b.status = 'active'
  UNION ALL
  SELECT p.bid, p.sid, g.proxy_user_id, 'proxy' FROM p JOIN proxy_grant g ON g.beneficiary_id = p.bid AND g.status = 'active'
  WHERE NOT EXISTS (SELECT 1 FROM binding b WHERE b.beneficiary_id = p.bid AND b.status = 'active' AND b.user_id = g.proxy_user_id)
)
INSERT INTO notification (user_id, beneficiary_id, station_id, template_key, context, dedupe_key, status, attempts, next_attempt_at, last_error, created_at, updated_at)
SELECT r.user_id, r.bid, r.sid, $3::text, $4::jsonb || jsonb_build_object('recipient_role', r.role), left($5::text || ':' || r.bid || ':u' || r.user_id, 160), 'pending', 0, $6::timestamptz, '', $6::timestamptz, $6::timestamptz FROM r
UNION ALL
SELECT NULL::int, p.bid, p.sid, $3::text, $4::jsonb || '{"recipient_role": "self"}'::jsonb, left($5::text || ':' || p.bid || ':none', 160), 'no_quota', 0, $6::timestamptz, $7::text, $6::timestamptz, $6::timestamptz
FROM p WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.bid = p.bid)
ON CONFLICT (dedupe_key) DO NOTHING
"""


async def notify_beneficiaries(*, people: list[tuple[int, int | None]], template_key: str, context: dict[str, Any], dedupe_prefix: str) -> int:
    """``notify_beneficiary`` for many people at once (``people``: beneficiary and station ids; the
    dedupe key of each is ``{dedupe_prefix}:{beneficiary_id}``), with the same rows, in a handful of
    queries whatever their number: one for the bindings, one for the proxies, one insert.
    Returns how many rows were new."""
    if not people:
        return 0
    default_registry().get(template_key)
    if is_postgres():
        async with connections.get("default").acquire_connection() as raw:
            status = await raw.execute(
                _NOTIFY_MANY_SQL_POSTGRES, [b for b, _ in people], [st for _, st in people], template_key, json.dumps(_jsonable(context), ensure_ascii=False), dedupe_prefix, datetime.now(UTC), NO_WECHAT
            )
        return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 <rows>"
    ids = [beneficiary_id for beneficiary_id, _ in people]
    bound = dict(await Binding.filter(beneficiary_id__in=ids, status=BindingStatus.ACTIVE).values_list("beneficiary_id", "user_id"))
    grants: dict[int, list[ProxyGrant]] = {}
    for grant in await ProxyGrant.filter(beneficiary_id__in=ids, status=ProxyStatus.ACTIVE).order_by("id"):
        grants.setdefault(grant.beneficiary_id, []).append(grant)
    now = datetime.now(UTC)
    rows = []
    for beneficiary_id, station_id in people:
        key = f"{dedupe_prefix}:{beneficiary_id}"
        recipients = _recipients(bound.get(beneficiary_id), grants.get(beneficiary_id, []), proxy_scope=None, include_proxies=True, also_user_ids=None)
        targets: list[tuple[int | None, str, str]] = [(user_id, role, f"{key}:u{user_id}") for user_id, role in recipients.items()] or [(None, "self", f"{key}:none")]
        for user_id, role, dedupe_key in targets:
            rows.append(
                Notification(
                    user_id=user_id, beneficiary_id=beneficiary_id, station_id=station_id, template_key=template_key,
                    context=_jsonable({**context, "recipient_role": role}), dedupe_key=dedupe_key[:160],
                    status=NotificationStatus.PENDING if user_id is not None else NotificationStatus.NO_QUOTA,
                    last_error="" if user_id is not None else NO_WECHAT, next_attempt_at=now,
                )
            )
    before = await Notification.filter(dedupe_key__in=[r.dedupe_key for r in rows]).count()
    await Notification.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows) - before
