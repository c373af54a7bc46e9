"""The audit log: append-only entries chained by hash (each carries the previous entry's hash)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.audit import AuditEntry, AuditHead
from server.actors import Actor

GENESIS_HASH = "0" * 64
_SENSITIVE_KEYS = {"id_number", "password", "password_hash", "session_key", "token"}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("[redacted]" if k in _SENSITIVE_KEYS else _redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _entry_hash(*, seq: int, created_at: datetime, fields: dict[str, Any], prev_hash: str) -> str:
    material = _canonical(
        {
            "seq": seq,
            "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            **fields,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "actor_type": entry.actor_type,
        "actor_id": entry.actor_id,
        "actor_role": entry.actor_role,
        "on_behalf_of": entry.on_behalf_of,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "summary": entry.summary,
        "request_id": entry.request_id,
    }


async def ensure_audit_head() -> None:
    if await AuditHead.filter(id=1).exists():
        return
    try:
        await AuditHead.create(id=1, last_seq=0, last_hash=GENESIS_HASH)
    except IntegrityError:
        pass  # another worker created it first


async def record(
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. Call it inside the transaction that makes the change it describes.

    Locking the head row serialises appends, so the chain follows commit order on PostgreSQL;
    SQLite serialises writers anyway.
    """
    summary: dict[str, Any] = {}
    if before is not None:
        summary["before"] = before
    if after is not None:
        summary["after"] = after
    if details:
        summary["details"] = details
    summary = json.loads(_canonical(_redact(summary)))
    async with in_transaction():
        head = await AuditHead.select_for_update().get_or_none(id=1)
        if head is None:
            await ensure_audit_head()
            head = await AuditHead.select_for_update().get(id=1)
        entry = AuditEntry(
            seq=head.last_seq + 1,
            created_at=datetime.now(UTC),
            actor_type=actor.type,
            actor_id=actor.id,
            actor_role=actor.role,
            on_behalf_of=actor.on_behalf_of,
            action=action,
            entity_type=entity_type,
            entity_id=None if entity_id is None else str(entity_id),
            summary=summary,
            request_id=actor.request_id,
            prev_hash=head.last_hash,
        )
        entry.hash = _entry_hash(seq=entry.seq, created_at=entry.created_at, fields=_hashed_fields(entry), prev_hash=entry.prev_hash)
        await entry.save()
        head.last_seq = entry.seq
        head.last_hash = entry.hash
        await head.save(update_fields=["last_seq", "last_hash"])
    return entry


@dataclass
class ChainReport:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_broken_seq": self.first_broken_seq, "problem": self.problem}


async def verify_chain(*, batch_size: int = 2000) -> ChainReport:
    """Walk the chain in order; name the first entry whose hash, link or sequence is wrong."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
    while True:
        batch = await AuditEntry.filter(seq__gt=last_seq).order_by("seq").limit(batch_size)
        if not batch:
            break
        for entry in batch:
            if entry.seq != expected_seq:
                return ChainReport(False, checked, expected_seq, f"entry {expected_seq} is missing")
            if entry.prev_hash != expected_prev:
                return ChainReport(False, checked, entry.seq, "prev_hash does not match the previous entry")
            recomputed = _entry_hash(seq=entry.seq, created_at=entry.created_at, fields=_hashed_fields(entry), prev_hash=entry.prev_hash)
            if recomputed != entry.hash:
                return ChainReport(False, checked, entry.seq, "entry content does not match its hash")
            expected_prev = entry.hash
            expected_seq += 1
            checked += 1
            last_seq = entry.seq
    head = await AuditHead.get_or_none(id=1)
    if head is not None and head.last_seq != checked:
        return ChainReport(False, checked, checked + 1, "entries after the last one found are missing")
    return ChainReport(True, checked)


async def list_entries(*, entity_type: str | None = None, entity_id: str | None = None, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
    query = AuditEntry.all()
    if entity_type:
        query = query.filter(entity_type=entity_type)
    if entity_id:
        query = query.filter(entity_id=entity_id)
    return await query.order_by("-seq").offset(offset).limit(limit)
