"""A small key-value interface for sessions, rate limits, locks and short-lived nonces.

Two implementations share it: Redis (``redis.asyncio``), used whenever a Redis URL is configured and
required for more than one worker process, and an in-process store for a single process.
Values are strings; callers encode JSON themselves.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol


class LockNotAcquired(RuntimeError):
    """Another holder kept the lock for longer than we were willing to wait."""


class KeyValueStore(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(
        self, key: str, value: str, *, ttl: float | None = None, only_if_absent: bool = False
    ) -> bool:
        """Store ``value``; with ``only_if_absent`` return False and change nothing if the key exists."""

    async def delete(self, key: str) -> None: ...

    async def delete_if_equals(self, key: str, expected: str) -> bool:
        """Atomically delete ``key`` only if it still holds ``expected`` (compare-and-delete)."""

    async def take(self, key: str) -> str | None:
        """Atomically read and delete: a single-use value such as a nonce."""

    async def incr(self, key: str, *, ttl: float) -> int:
        """Increment a counter; the TTL is set when the counter is created (a fixed window)."""

    async def ttl(self, key: str) -> float | None: ...

    async def expire(self, key: str, ttl: float) -> bool: ...

    def lock(
        self, name: str, *, timeout: float = 10.0, wait: float = 10.0
    ) -> "asyncio.AbstractAsyncContextManager[None]": ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class _LockMixin:
    """A lease lock built on set-if-absent and compare-and-delete, identical for both stores.

    The lease (``timeout``) bounds how long a crashed holder can block others.
    """

    async def set(self, key: str, value: str, *, ttl: float | None = None, only_if_absent: bool = False) -> bool:  # pragma: no cover - protocol
        raise NotImplementedError

    async def delete_if_equals(self, key: str, expected: str) -> bool:  # pragma: no cover - protocol
        raise NotImplementedError

    @asynccontextmanager
    async def lock(self, name: str, *, timeout: float = 10.0, wait: float = 10.0) -> AsyncIterator[None]:
        token = secrets.token_hex(16)
        key = f"lock:{name}"
        deadline = time.monotonic() + wait
        delay = 0.005
        while not await self.set(key, token, ttl=timeout, only_if_absent=True):
            if time.monotonic() >= deadline:
                raise LockNotAcquired(name)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            await self.delete_if_equals(key, token)


class MemoryStore(_LockMixin):
    """In-process store: correct for one process only (the server refuses more workers without Redis)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}

    def _live(self, key: str) -> tuple[str, float | None] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item

    async def get(self, key: str) -> str | None:
        item = self._live(key)
        return item[0] if item else None

    async def set(self, key: str, value: str, *, ttl: float | None = None, only_if_absent: bool = False) -> bool:
        if only_if_absent and self._live(key) is not None:
            return False
        self._data[key] = (value, time.monotonic() + ttl if ttl else None)
        return True

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def delete_if_equals(self, key: str, expected: str) -> bool:
        item = self._live(key)
        if item is not None and item[0] == expected:
            del self._data[key]
            return True
        return False

    async def take(self, key: str) -> str | None:
        item = self._live(key)
        if item is None:
            return None
        del self._data[key]
        return item[0]

    async def incr(self, key: str, *, ttl: float) -> int:
        item = self._live(key)
        if item is None:
            self._data[key] = ("1", time.monotonic() + ttl)
            return 1
        value = int(item[0]) + 1
        self._data[key] = (str(value), item[1])
        return value

    async def ttl(self, key: str) -> float | None:
        item = self._live(key)
        if item is None or item[1] is None:
            return None
        return item[1] - time.monotonic()

    async def expire(self, key: str, ttl: float) -> bool:
        item = self._live(key)
        if item is None:
            return False
        self._data[key] = (item[0], time.monotonic() + ttl)
        return True

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()


_COMPARE_AND_DELETE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

_INCR_WITH_TTL = """
local value = redis.call('incr', KEYS[1])
if value == 1 then
  redis.call('pexpire', KEYS[1], ARGV[1])
end
return value
"""


class RedisStore(_LockMixin):
    def __init__(self, url: str, *, prefix: str = "vets:") -> None:
        from redis import asyncio as redis_asyncio

        self._client = redis_asyncio.from_url(url, decode_responses=True)
        self._prefix = prefix

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def get(self, key: str) -> str | None:
        return await self._client.get(self._k(key))

    async def set(self, key: str, value: str, *, ttl: float | None = None, only_if_absent: bool = False) -> bool:
        px = max(1, int(ttl * 1000)) if ttl else None
        result = await self._client.set(self._k(key), value, px=px, nx=only_if_absent)
        return bool(result)

    async def delete(self, key: str) -> None:
        await self._client.delete(self._k(key))

    async def delete_if_equals(self, key: str, expected: str) -> bool:
        return bool(await self._client.eval(_COMPARE_AND_DELETE, 1, self._k(key), expected))

    async def take(self, key: str) -> str | None:
        return await self._client.getdel(self._k(key))

    async def incr(self, key: str, *, ttl: float) -> int:
        return int(await self._client.eval(_INCR_WITH_TTL, 1, self._k(key), max(1, int(ttl * 1000))))

    async def ttl(self, key: str) -> float | None:
        ms = await self._client.pttl(self._k(key))
        return ms / 1000 if ms and ms > 0 else None

    async def expire(self, key: str, ttl: float) -> bool:
        return bool(await self._client.pexpire(self._k(key), max(1, int(ttl * 1000))))

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def close(self) -> None:
        await self._client.aclose()

    async def flush_prefix(self) -> None:
        """Delete this store's keys (tests share one Redis)."""
        async for key in self._client.scan_iter(match=self._prefix + "*", count=500):
            await self._client.delete(key)


def create_store(redis_url: str | None, *, prefix: str = "vets:") -> KeyValueStore:
    if redis_url:
        return RedisStore(redis_url, prefix=prefix)
    return MemoryStore()
