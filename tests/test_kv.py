"""The key-value interface behaves the same in memory and on Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from server.kv import KeyValueStore, LockNotAcquired, MemoryStore, RedisStore

REDIS_URL = os.environ.get("VETS_TEST_REDIS_URL")
BACKENDS = ["memory"] + (["redis"] if REDIS_URL else [])


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[KeyValueStore]:
    if request.param == "memory":
        kv: KeyValueStore = MemoryStore()
        yield kv
        return
    redis_store = RedisStore(REDIS_URL or "", prefix=f"kvtest-{uuid.uuid4().hex[:8]}:")
    yield redis_store
    await redis_store.flush_prefix()
    await redis_store.close()


async def test_set_get_ttl_and_expiry(store: KeyValueStore) -> None:
    assert await store.get("a") is None
    await store.set("a", "1", ttl=0.2)
    assert await store.get("a") == "1"
    remaining = await store.ttl("a")
    assert remaining is not None and 0 < remaining <= 0.2
    await asyncio.sleep(0.3)
    assert await store.get("a") is None


async def test_only_if_absent_and_compare_and_delete(store: KeyValueStore) -> None:
    assert await store.set("k", "first", only_if_absent=True)
    assert not await store.set("k", "second", only_if_absent=True)
    assert await store.get("k") == "first"
    assert not await store.delete_if_equals("k", "other")
    assert await store.delete_if_equals("k", "first")
    assert await store.get("k") is None


async def test_take_is_single_use(store: KeyValueStore) -> None:
    await store.set("nonce", "v", ttl=10)
    results = await asyncio.gather(*(store.take("nonce") for _ in range(5)))
    assert results.count("v") == 1


async def test_incr_window(store: KeyValueStore) -> None:
    values = await asyncio.gather(*(store.incr("count", ttl=5) for _ in range(10)))
    assert sorted(values) == list(range(1, 11))
    assert (await store.ttl("count") or 0) > 0


async def test_lock_is_exclusive(store: KeyValueStore) -> None:
    inside = 0
    peak = 0

    async def work() -> None:
        nonlocal inside, peak
        async with store.lock("job", timeout=5, wait=5):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(work() for _ in range(8)))
    assert peak == 1


async def test_lock_wait_gives_up(store: KeyValueStore) -> None:
    async with store.lock("held", timeout=5, wait=1):
        with pytest.raises(LockNotAcquired):
            async with store.lock("held", timeout=5, wait=0.05):
                pass


async def test_ping(store: KeyValueStore) -> None:
    assert await store.ping()
