"""A small key-value interface for sessions, rate limits, locks and short-lived nonces.

Two implementations share it: Redis (``redis.asyncio``), used whenever a Redis URL is configured and
required for more than one worker process, and an in-process store for a single process.
Values are strings; callers encode JSON themselves.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class LockNotAcquired(RuntimeError):
    """Another holder kept the lock for longer than we were willing to wait."""


class StoreUnavailable(RuntimeError):
    """The key-value store cannot be reached (down, restarting, or no pooled connection in time).

    The HTTP layer answers 503 ``store_unavailable``: the client may retry; nothing was half-done
    in the store by the failed call.
    """


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

    async def read_many(self, keys: Sequence[str], *, ttl_of: str | None = None) -> tuple[list[str | None], float | None]:
        """Several values, and the remaining lifetime of ``ttl_of``, in one round trip."""

    def lock(
        self, name: str, *, timeout: float = 10.0, wait: float = 10.0
    ) -> asyncio.AbstractAsyncContextManager[None]: ...

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

    async def read_many(self, keys: Sequence[str], *, ttl_of: str | None = None) -> tuple[list[str | None], float | None]:
        values = [await self.get(key) for key in keys]
        return values, (await self.ttl(ttl_of) if ttl_of is not None else None)

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
    """Redis through one blocking connection pool per process.

    redis-py's default async pool raises ``MaxConnectionsError`` the moment ``max_connections``
    are busy, so a burst of requests turned into 500s; the blocking pool makes a caller wait up
    to ``pool_timeout`` for a free connection instead. Connection and timeout failures surface
    as :class:`StoreUnavailable`.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "vets:",
        max_connections: int = 64,
        pool_timeout: float = 5.0,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
    ) -> None:
        from redis import asyncio as redis_asyncio

        pool = redis_asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            health_check_interval=30,
            decode_responses=True,
        )
        self._client = redis_asyncio.Redis.from_pool(pool)
        self._prefix = prefix

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def _run(self, command: Awaitable[T]) -> T:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        try:
            return await command
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def get(self, key: str) -> str | None:
        return await self._run(self._client.get(self._k(key)))

    async def set(self, key: str, value: str, *, ttl: float | None = None, only_if_absent: bool = False) -> bool:
        px = max(1, int(ttl * 1000)) if ttl else None
        result = await self._run(self._client.set(self._k(key), value, px=px, nx=only_if_absent))
        return bool(result)

    async def delete(self, key: str) -> None:
        await self._run(self._client.delete(self._k(key)))

    async def delete_if_equals(self, key: str, expected: str) -> bool:
        return bool(await self._run(self._client.eval(_COMPARE_AND_DELETE, 1, self._k(key), expected)))

    async def take(self, key: str) -> str | None:
        return await self._run(self._client.getdel(self._k(key)))

    async def incr(self, key: str, *, ttl: float) -> int:
        return int(await self._run(self._client.eval(_INCR_WITH_TTL, 1, self._k(key), max(1, int(ttl * 1000)))))

    async def ttl(self, key: str) -> float | None:
        ms = await self._run(self._client.pttl(self._k(key)))
        return ms / 1000 if ms and ms > 0 else None

    async def expire(self, key: str, ttl: float) -> bool:
        return bool(await self._run(self._client.pexpire(self._k(key), max(1, int(ttl * 1000)))))

    async def read_many(self, keys: Sequence[str], *, ttl_of: str | None = None) -> tuple[list[str | None], float | None]:
        # MGET and PTTL pipelined: one round trip where a GET per key and a TTL would take several.
        if ttl_of is None:
            return list(await self._run(self._client.mget([self._k(key) for key in keys]))), None
        pipe = self._client.pipeline(transaction=False)
        pipe.mget([self._k(key) for key in keys])
        if ttl_of is not None:
            pipe.pttl(self._k(ttl_of))
        results = await self._run(pipe.execute())
        ms = results[1] if ttl_of is not None else None
        return list(results[0]), (ms / 1000 if ms and ms > 0 else None)

    async def ping(self) -> bool:
        return bool(await self._run(self._client.ping()))

    async def close(self) -> None:
        # from_pool hands the pool to the client: closing the client disconnects the pool too.
        await self._client.aclose()

    async def flush_prefix(self) -> None:
        """Delete this store's keys (tests share one Redis)."""
        async for key in self._client.scan_iter(match=self._prefix + "*", count=500):
            await self._client.delete(key)


def create_store(redis_url: str | None, *, prefix: str = "vets:", **pool: Any) -> KeyValueStore:
    """``pool``: RedisStore's pool options (max_connections, pool_timeout, socket_timeout, connect_timeout)."""
    if redis_url:
        return RedisStore(redis_url, prefix=prefix, **pool)
    return MemoryStore()
