"""Child-process body for the cross-process token test (imported by multiprocessing "spawn")."""

from __future__ import annotations

import asyncio
from typing import Any

from server.config import WeChatSettings
from server.kv import RedisStore
from server.wechat.client import WeChatClient


def fetch_tokens(settings: dict[str, Any], redis_url: str, prefix: str, calls: int, barrier: Any, results: Any) -> None:
    try:
        tokens = asyncio.run(_fetch(settings, redis_url, prefix, calls, barrier))
        results.put(("ok", tokens))
    except BaseException as exc:  # report, never hang the parent
        results.put(("error", repr(exc)))


async def _fetch(settings: dict[str, Any], redis_url: str, prefix: str, calls: int, barrier: Any) -> list[str]:
    store = RedisStore(redis_url, prefix=prefix)
    client = WeChatClient(WeChatSettings(**settings), store)
    try:
        await store.ping()  # connect before the start line so all processes race at once
        await asyncio.to_thread(barrier.wait, 30)
        return list(await asyncio.gather(*(client.access_token() for _ in range(calls))))
    finally:
        await client.aclose()
        await store.close()
