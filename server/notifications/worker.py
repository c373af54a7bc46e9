"""The outbox sender: claims due notifications, sends them through WeChat, records every attempt.

Delivery is at most once. A notification is claimed with a lease; an attempt row marked
``in_flight`` is committed before the HTTP call. If the sender dies mid-send, the next pass finds
the expired lease: with an in-flight attempt the message may already have reached WeChat, so it
becomes ``uncertain`` (listed for staff, never re-sent); without one it is simply sent again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.wechat import MiniUser, Notification, NotificationAttempt, NotificationStatus
from server.config import OutboxSettings, WeChatSettings
from server.notifications import quota
from server.notifications.templates import MissingTemplateId, RenderError, default_registry
from server.wechat import UserRefused, WeChatClient, WeChatError, is_transient

log = logging.getLogger("server.outbox")


def backoff_seconds(*, attempts: int, settings: OutboxSettings) -> float:
    return min(settings.backoff_cap_seconds, settings.backoff_base_seconds * (2 ** max(0, attempts - 1)))


class OutboxWorker:
    def __init__(self, *, wechat: WeChatClient, wechat_settings: WeChatSettings, settings: OutboxSettings) -> None:
        self._wechat = wechat
        self._wechat_settings = wechat_settings
        self._settings = settings

    async def recover_expired_leases(self, *, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        recovered = 0
        for row in await Notification.filter(status=NotificationStatus.SENDING, lease_until__lt=now):
            in_flight = await NotificationAttempt.filter(notification_id=row.id, outcome="in_flight").exists()
            if in_flight:
                changed = await Notification.filter(id=row.id, status=NotificationStatus.SENDING, lease_until__lt=now).update(
                    status=NotificationStatus.UNCERTAIN, last_error="发送过程中断，无法确认是否送达，请电话联系"
                )
            else:
                changed = await Notification.filter(id=row.id, status=NotificationStatus.SENDING, lease_until__lt=now).update(status=NotificationStatus.PENDING, lease_until=None)
                if changed and row.user_id is not None:
                    await quota.refund(user_id=row.user_id, template_key=row.template_key)
            recovered += changed
        return recovered

    async def _claim(self, *, now: datetime) -> list[Notification]:
        due = await Notification.filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now).order_by("next_attempt_at", "id").limit(self._settings.batch_size)
        claimed = []
        lease = now + timedelta(seconds=self._settings.lease_seconds)
        for row in due:
            # The conditional update is the claim: with several workers only one gets each row.
            if await Notification.filter(id=row.id, status=NotificationStatus.PENDING).update(status=NotificationStatus.SENDING, lease_until=lease):
                claimed.append(row)
        return claimed

    async def run_once(self, *, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        await self.recover_expired_leases(now=now)
        claimed = await self._claim(now=now)
        for row in claimed:
            try:
                await self._deliver(row)
            except Exception:  # one bad row must not stop the others; it stays leased and is recovered
                log.exception("outbox delivery crashed", extra={"notification_id": row.id})
        return len(claimed)

    async def _finish(self, row: Notification, attempt: NotificationAttempt | None, *, status: NotificationStatus, outcome: str, error: str = "", errcode: int | None = None, **extra: Any) -> None:
        now = datetime.now(UTC)
        async with in_transaction():
            if attempt is None:
                await NotificationAttempt.create(notification_id=row.id, outcome=outcome, errcode=errcode, errmsg=error[:300], finished_at=now)
            else:
                await NotificationAttempt.filter(id=attempt.id).update(outcome=outcome, errcode=errcode, errmsg=error[:300], finished_at=now)
            await Notification.filter(id=row.id).update(status=status, last_error=error[:300], lease_until=None, attempts=F("attempts") + (1 if attempt else 0), **extra)

    async def _deliver(self, row: Notification) -> None:
        if row.user_id is None:
            await self._finish(row, None, status=NotificationStatus.NO_QUOTA, outcome="no_quota", error="未绑定微信")
            return
        try:
            rendered = default_registry().render(row.template_key, row.context)
            template_id = default_registry().template_id(row.template_key, self._wechat_settings.template_ids)
        except (RenderError, MissingTemplateId, KeyError) as exc:
            await self._finish(row, None, status=NotificationStatus.FAILED, outcome="permanent", error=f"{type(exc).__name__}: {exc}")
            return
        if not await quota.consume(user_id=row.user_id, template_key=row.template_key):
            await self._finish(row, None, status=NotificationStatus.NO_QUOTA, outcome="no_quota", error="用户未授权订阅消息（次数为0），请电话联系")
            return
        user = await MiniUser.get(id=row.user_id)
        attempt = await NotificationAttempt.create(notification_id=row.id, outcome="in_flight")
        try:
            msgid = await self._wechat.send_subscribe_message(
                openid=user.openid,
                template_id=template_id,
                page=rendered.page,
                data=rendered.data,
                miniprogram_state=self._wechat_settings.miniprogram_state,
                lang=self._wechat_settings.lang,
            )
        except UserRefused as exc:
            await quota.set_refused(user_id=row.user_id, template_key=row.template_key)
            await self._finish(row, attempt, status=NotificationStatus.REFUSED, outcome="refused", error="用户拒收（43101），请电话联系", errcode=exc.errcode)
            return
        except WeChatError as exc:
            await quota.refund(user_id=row.user_id, template_key=row.template_key)
            attempts = row.attempts + 1
            if is_transient(exc) and attempts < self._settings.max_attempts:
                retry_at = datetime.now(UTC) + timedelta(seconds=backoff_seconds(attempts=attempts, settings=self._settings))
                await self._finish(row, attempt, status=NotificationStatus.PENDING, outcome="transient", error=str(exc), errcode=exc.errcode, next_attempt_at=retry_at)
            else:
                await self._finish(row, attempt, status=NotificationStatus.FAILED, outcome="permanent", error=str(exc), errcode=exc.errcode)
            return
        await self._finish(row, attempt, status=NotificationStatus.SENT, outcome="sent", sent_at=datetime.now(UTC), wechat_msgid=str(msgid) if msgid is not None else None)

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("outbox pass failed")
                busy = 0
            if not busy:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self._settings.poll_interval_seconds)
                except TimeoutError:
                    pass


UNSENT_STATUSES = [NotificationStatus.NO_QUOTA, NotificationStatus.REFUSED, NotificationStatus.FAILED, NotificationStatus.UNCERTAIN]
