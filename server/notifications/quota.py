"""Subscribe-message quota: one accepted popup = one send, counted per user and template.

Both the mini-program (the ``wx.requestSubscribeMessage`` result) and WeChat's push callback report
the same popup; whichever arrives first counts it, the other is matched against it and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.wechat import MiniUser, SubscriptionQuota
from server.kv import KeyValueStore

RESULTS = {"accept", "reject", "ban", "filter"}
_MATCH_WINDOW_SECONDS = 600


def template_keys_by_id(template_ids: Mapping[str, str]) -> dict[str, str]:
    return {template_id: key for key, template_id in template_ids.items()}


async def _row(user_id: int, template_key: str) -> SubscriptionQuota:
    row = await SubscriptionQuota.get_or_none(user_id=user_id, template_key=template_key)
    if row is None:
        await SubscriptionQuota.bulk_create([SubscriptionQuota(user_id=user_id, template_key=template_key)], ignore_conflicts=True)
        row = await SubscriptionQuota.get(user_id=user_id, template_key=template_key)
    return row


async def _counted_elsewhere(kv: KeyValueStore, *, user_id: int, template_key: str, source: str) -> bool:
    """True if the other channel already counted this popup; otherwise leave a mark for it."""
    other = "push" if source == "client" else "client"
    async with kv.lock(f"quota:{user_id}:{template_key}", timeout=5, wait=5):
        theirs = int(await kv.get(f"quota_seen:{other}:{user_id}:{template_key}") or 0)
        if theirs > 0:
            await kv.set(f"quota_seen:{other}:{user_id}:{template_key}", str(theirs - 1), ttl=_MATCH_WINDOW_SECONDS)
            return True
        mine = int(await kv.get(f"quota_seen:{source}:{user_id}:{template_key}") or 0)
        await kv.set(f"quota_seen:{source}:{user_id}:{template_key}", str(mine + 1), ttl=_MATCH_WINDOW_SECONDS)
        return False


async def record_result(*, kv: KeyValueStore, user_id: int, template_key: str, result: str, source: str) -> SubscriptionQuota:
    row = await _row(user_id, template_key)
    if result == "accept":
        if not await _counted_elsewhere(kv, user_id=user_id, template_key=template_key, source=source):
            await SubscriptionQuota.filter(id=row.id).update(remaining=F("remaining") + 1, last_result=result, banned=False)
    elif result == "ban":
        await SubscriptionQuota.filter(id=row.id).update(remaining=0, banned=True, last_result=result)
    else:
        await SubscriptionQuota.filter(id=row.id).update(last_result=result)
    return await SubscriptionQuota.get(id=row.id)


class UnknownTemplateIds(ValueError):
    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown
        super().__init__(f"unknown template ids: {unknown}")


async def record_client_results(*, kv: KeyValueStore, user: MiniUser, results: Mapping[str, str], template_ids: Mapping[str, str]) -> dict[str, int]:
    """``results`` exactly as ``wx.requestSubscribeMessage`` returned them: {WeChat template id:
    accept/reject/ban/filter}. Every id must be one of ours, checked before anything is stored, so a
    bad request changes nothing; each result counts once (one accept = one message)."""
    keys = template_keys_by_id(template_ids)
    unknown = sorted(template for template in results if template not in keys)
    if unknown:
        raise UnknownTemplateIds(unknown)
    remaining: dict[str, int] = {}
    for template, result in results.items():
        key = keys[template]
        row = await record_result(kv=kv, user_id=user.id, template_key=key, result=result, source="client")
        remaining[key] = row.remaining
    return remaining


async def rows_for(*, user_id: int) -> dict[str, SubscriptionQuota]:
    return {r.template_key: r for r in await SubscriptionQuota.filter(user_id=user_id)}


async def consume(*, user_id: int, template_key: str) -> bool:
    """Take one send from the quota; False if there is none. Atomic: two senders cannot share one."""
    async with in_transaction():
        changed = await SubscriptionQuota.filter(user_id=user_id, template_key=template_key, remaining__gt=0, banned=False).update(remaining=F("remaining") - 1)
    return changed == 1


async def refund(*, user_id: int, template_key: str) -> None:
    await SubscriptionQuota.filter(user_id=user_id, template_key=template_key, banned=False).update(remaining=F("remaining") + 1)


async def set_refused(*, user_id: int, template_key: str) -> None:
    """WeChat answered 43101: the user has no permission left for this template."""
    await SubscriptionQuota.filter(user_id=user_id, template_key=template_key).update(remaining=0, last_result="refused")


async def remaining_for(*, user_id: int) -> dict[str, int]:
    rows = await SubscriptionQuota.filter(user_id=user_id)
    return {r.template_key: r.remaining for r in rows}
