"""SQLite, with a transaction context that releases its lock when BEGIN fails (see the package)."""

from __future__ import annotations

from tortoise.backends.base.client import TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionContext, SqliteTransactionWrapper

from server.db_engines import begin_in_task


class SqliteTransaction(SqliteTransactionContext):
    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = await begin_in_task(self.connection)
        except BaseException:
            self._trxlock.release()
            raise
        return self.connection  # type: ignore[no-any-return]  # tortoise leaves it untyped


class GuardedSqliteClient(SqliteClient):
    def _in_transaction(self) -> TransactionContext:
        return SqliteTransaction(SqliteTransactionWrapper(self), self._lock)


client_class = GuardedSqliteClient
