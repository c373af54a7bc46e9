"""The audit log: append-only entries chained by a keyed hash, its head anchored outside the database.

Each entry carries the previous entry's hash, and each hash is an HMAC under a key that lives in
the configuration, not the database: someone who can edit rows cannot re-hash the chain after an
edit. The head (seq, hash) is appended periodically to an anchor file outside the database; deleting
the newest rows and moving the head back, or rewriting the chain with the key, no longer matches
what the anchor file recorded. ``verify_chain`` checks both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.audit import AuditEntry, AuditHead
from server.actors import Actor

if TYPE_CHECKING:
    from server.auth.scope import Scope

GENESIS_HASH = "0" * 64


@dataclass
class _Config:
    key: bytes
    anchor_path: Path | None


# Until configured (create_app does it): the development key, no anchoring.
_config = _Config(key=b"dev-audit-chain-key-do-not-use-in-production", anchor_path=None)


def configure(*, key: str, anchor_path: Path | None) -> None:
    _config.key = key.encode()
    _config.anchor_path = anchor_path
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
    return hmac.new(_config.key, material.encode(), hashlib.sha256).hexdigest()


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
        "district_id": entry.district_id,
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
    district_id: int | None = None,
) -> AuditEntry:
    """Append one entry. Call it inside the transaction that makes the change it describes.

    Locking the head row serialises appends, so the chain follows commit order on PostgreSQL;
    SQLite serialises writers anyway. ``district_id`` (who may read the entry) is derived from the
    entity or the acting staff member when not given.
    """
    if district_id is None:
        district_id = await _district_for(actor=actor, entity_type=entity_type, entity_id=entity_id)
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
            district_id=district_id,
        )
        entry.hash = _entry_hash(seq=entry.seq, created_at=entry.created_at, fields=_hashed_fields(entry), prev_hash=entry.prev_hash)
        await entry.save()
        head.last_seq = entry.seq
        head.last_hash = entry.hash
        await head.save(update_fields=["last_seq", "last_hash"])
    return entry


async def _district_of_unit(unit_id: int | None) -> int | None:
    from models.org import OrgKind, OrgUnit

    seen = 0
    while unit_id is not None and seen < 4:
        unit = await OrgUnit.get_or_none(id=unit_id)
        if unit is None or unit.kind == OrgKind.CITY:
            return None
        if unit.kind == OrgKind.DISTRICT:
            return unit.id
        unit_id = unit.parent_id
        seen += 1
    return None


async def _district_for(*, actor: Actor, entity_type: str, entity_id: Any) -> int | None:
    """The district an entry belongs to: the entity's if we can tell, else the acting staff member's."""
    from models.registry import Beneficiary
    from models.staff import Staff

    try:
        key = int(entity_id) if entity_id is not None else None
    except (TypeError, ValueError):
        key = None
    if key is not None and -(2**31) <= key < 2**31:
        if entity_type == "beneficiary":
            station = await Beneficiary.filter(id=key).values_list("station_id", flat=True)
            if station:
                return await _district_of_unit(station[0])
        elif entity_type == "org_unit":
            return await _district_of_unit(key)
        elif entity_type == "staff":
            unit = await Staff.filter(id=key).values_list("org_unit_id", flat=True)
            if unit:
                return await _district_of_unit(unit[0])
    if actor.on_behalf_of is not None:
        try:
            station = await Beneficiary.filter(id=int(actor.on_behalf_of)).values_list("station_id", flat=True)
        except (TypeError, ValueError):
            station = []
        if station:
            return await _district_of_unit(station[0])
    if actor.type == "staff" and actor.id is not None and actor.id.isdigit():
        unit = await Staff.filter(id=int(actor.id)).values_list("org_unit_id", flat=True)
        if unit:
            return await _district_of_unit(unit[0])
    return None


def _anchor_mac(seq: int, entry_hash: str, at: str) -> str:
    return hmac.new(_config.key, f"anchor|{seq}|{entry_hash}|{at}".encode(), hashlib.sha256).hexdigest()


async def anchor_head(*, anchor_path: Path | None = None) -> dict[str, Any] | None:
    """Append the committed head to the anchor file (only when it moved since the last anchor)."""
    path = anchor_path or _config.anchor_path
    if path is None:
        return None
    head = await AuditHead.get_or_none(id=1)
    if head is None or head.last_seq == 0:
        return None
    anchors = read_anchors(path)
    if anchors and max(anchors) >= head.last_seq:
        return None
    at = datetime.now(UTC).isoformat(timespec="seconds")
    line = {"seq": head.last_seq, "hash": head.last_hash, "at": at, "mac": _anchor_mac(head.last_seq, head.last_hash, at)}
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: never rewrite what is there; the operator makes the file append-only (chattr +a).
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (json.dumps(line, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return line


def read_anchors(path: Path | None = None) -> dict[int, str]:
    """seq -> hash of every well-formed anchor line; a line whose MAC fails raises ``ValueError``."""
    path = path or _config.anchor_path
    anchors: dict[int, str] = {}
    if path is None or not path.exists():
        return anchors
    with path.open("r", encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
                seq, entry_hash, at, mac = int(line["seq"]), str(line["hash"]), str(line["at"]), str(line["mac"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"anchor line {number} is malformed") from exc
            if not hmac.compare_digest(mac, _anchor_mac(seq, entry_hash, at)):
                raise ValueError(f"anchor line {number} does not carry a valid MAC")
            anchors[seq] = entry_hash
    return anchors


@dataclass
class ChainReport:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_broken_seq": self.first_broken_seq, "problem": self.problem}


async def verify_chain(*, batch_size: int = 2000, anchor_path: Path | None = None) -> ChainReport:
    """Walk the chain in order; name the first entry whose hash, link or sequence is wrong.

    Then compare with the anchor file: every anchored (seq, hash) must still be in the chain, so a
    truncated chain or one re-hashed after an edit is reported.
    """
    try:
        anchors = read_anchors(anchor_path)
    except ValueError as exc:
        return ChainReport(False, 0, None, f"anchor file damaged: {exc}")
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
            anchored = anchors.get(entry.seq)
            if anchored is not None and anchored != entry.hash:
                return ChainReport(False, checked, entry.seq, "entry differs from the anchored hash: the chain was rewritten")
            expected_prev = entry.hash
            expected_seq += 1
            checked += 1
            last_seq = entry.seq
    head = await AuditHead.get_or_none(id=1)
    if head is not None and head.last_seq != checked:
        return ChainReport(False, checked, checked + 1, "entries after the last one found are missing")
    if anchors and max(anchors) > checked:
        return ChainReport(False, checked, checked + 1, f"the chain ends at {checked} but entry {max(anchors)} was anchored: entries were removed")
    return ChainReport(True, checked)


async def list_entries(*, scope: Scope, entity_type: str | None = None, entity_id: str | None = None, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
    """Entries in the caller's districts, newest first; county-wide entries (no district) are the admin's."""
    query = AuditEntry.all()
    if not scope.is_global:
        query = query.filter(district_id__in=await _districts_in(scope))
    if entity_type:
        query = query.filter(entity_type=entity_type)
    if entity_id:
        query = query.filter(entity_id=entity_id)
    return await query.order_by("-seq").offset(offset).limit(limit)


async def _districts_in(scope: Scope) -> list[int]:
    from models.org import OrgKind, OrgUnit

    if scope.org_kind == OrgKind.CITY:
        return list(await OrgUnit.filter(parent_id=scope.org_unit_id, kind=OrgKind.DISTRICT).values_list("id", flat=True))
    district = await _district_of_unit(scope.org_unit_id)
    return [district] if district is not None else []
