"""PostgreSQL through asyncpg, with a transaction context that always gives back what it took (see the package)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import TransactionalDBClient, TransactionContext, TransactionContextPooled
from tortoise.connection import get_connections
from tortoise.exceptions import TransactionManagementError

from server.db_engines import begin_in_task

log = logging.getLogger(__name__)


class PooledTransaction(TransactionContextPooled):
    async def __aenter__(self) -> TransactionalDBClient:
        await self.ensure_connection()
        pool = self.client._parent._pool
        self.client._connection = await pool.acquire()
        try:
            self.token = await begin_in_task(self.client)
        except BaseException:
            await _release_after_failed_begin(pool, self.client._connection)
            raise
        return self.client

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        try:
            if not self.client._finalized:
                if exc_type is None:
                    await self.client.commit()
                elif exc_type is not TransactionManagementError:  # tortoise's rule: that one cannot be rolled back
                    await self.client.rollback()
        finally:
            try:
                pool = self.client._parent._pool
                if pool:
                    await pool.release(self.client._connection)
            finally:
                get_connections().reset(self.token)


async def _release_after_failed_begin(pool: Any, connection: Any) -> None:
    # The error that brought us here is the one to report; a release that fails has terminated the
    # connection (asyncpg), which frees its pool slot all the same.
    try:
        await pool.release(connection)
    except (Exception, asyncio.CancelledError) as exc:
        log.warning("releasing a connection after a failed BEGIN: %s: %s", type(exc).__name__, exc)


class GuardedAsyncpgClient(AsyncpgDBClient):
    def _in_transaction(self) -> TransactionContext:
        return PooledTransaction(TransactionWrapper(self), self._pool_init_lock)


client_class = GuardedAsyncpgClient
