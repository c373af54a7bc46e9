"""Messages that could not go out, and what staff do about them: the rules behind
``GET /api/staff/notifications/unsent``, ``POST .../{id}/handled`` and the console's 待电话通知 page,
in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from models.wechat import Notification, NotificationStatus
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import Conflict, NotFound
from server.notifications.worker import UNSENT_STATUSES

# What may truthfully be said about a message just queued (read from its outbox rows).
Outcome = Literal["none", "sent", "unsent", "queued"]


async def list_unsent(*, scope: Scope, station_id: int | None = None, include_handled: bool = False, limit: int = 500, before_id: int | None = None) -> list[Notification]:
    """Messages nobody could receive (no permission, refused, failed, uncertain), newest first
    (``before_id``: the next page of a keyset-paginated read)."""
    rows = await scope.filter_by_station(Notification.filter(status__in=UNSENT_STATUSES))
    if station_id is not None:
        rows = rows.filter(station_id=station_id)
    if not include_handled:
        rows = rows.filter(handled_at__isnull=True)
    if before_id is not None:
        rows = rows.filter(id__lt=before_id)
    return await rows.order_by("-id").limit(limit)


async def mark_handled(*, scope: Scope, actor: Actor, staff_id: int, notification_id: int, note: str) -> Notification:
    """Staff reached the person another way (phone, visit). Recorded once: a repeat is a 409."""
    n = await Notification.get_or_none(id=notification_id)
    if n is None or n.station_id is None:
        raise NotFound("通知不存在", code="notification_not_found")
    await scope.require_station_writable(n.station_id)
    changed = await Notification.filter(id=n.id, handled_at__isnull=True).update(handled_at=datetime.now(UTC), handled_by_staff_id=staff_id)
    if not changed:
        raise Conflict("已处理", code="already_handled")
    await audit.record(actor=actor, action="notification.handled_offline", entity_type="notification", entity_id=n.id, details={"note": note})
    return await Notification.get(id=n.id)


async def outcome(*, dedupe_prefix: str) -> Outcome:
    """Sent to anyone; or every row undeliverable (so staff must phone); or still queued; or nothing queued."""
    statuses = await Notification.filter(dedupe_key__startswith=dedupe_prefix).values_list("status", flat=True)
    if not statuses:
        return "none"
    if any(s == NotificationStatus.SENT for s in statuses):
        return "sent"
    if all(s in UNSENT_STATUSES for s in statuses):
        return "unsent"
    return "queued"
