"""Staff sessions in the key-value store: opaque tokens, absolute expiry plus an idle timeout."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass

from server.kv import KeyValueStore


@dataclass
class StaffSession:
    staff_id: int
    username: str
    role: str
    org_unit_id: int
    org_kind: str
    csrf_token: str
    created_at: float
    expires_at: float
    # A fingerprint of the account's credentials when the session began: a password change, a
    # deactivation or a new role or unit changes it, and every older session stops at once.
    credential_stamp: str = ""


def credential_stamp(*, password_hash: str, is_active: bool, role: str, org_unit_id: int) -> str:
    material = f"{password_hash}|{int(is_active)}|{role}|{org_unit_id}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _key(token: str) -> str:
    # Only a hash of the token is stored: a dump of the store does not yield usable sessions.
    return "staff_session:" + hashlib.sha256(token.encode()).hexdigest()


async def create_session(kv: KeyValueStore, *, staff_id: int, username: str, role: str, org_unit_id: int, org_kind: str, ttl: int, idle_timeout: int, stamp: str = "") -> tuple[str, StaffSession]:
    token = secrets.token_urlsafe(32)
    now = time.time()
    session = StaffSession(
        staff_id=staff_id,
        username=username,
        role=role,
        org_unit_id=org_unit_id,
        org_kind=org_kind,
        csrf_token=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + ttl,
        credential_stamp=stamp,
    )
    await kv.set(_key(token), json.dumps(asdict(session)), ttl=min(ttl, idle_timeout))
    return token, session


async def load_session(kv: KeyValueStore, token: str, *, idle_timeout: int) -> StaffSession | None:
    raw = await kv.get(_key(token))
    if raw is None:
        return None
    try:
        session = StaffSession(**json.loads(raw))
    except (TypeError, ValueError):
        await kv.delete(_key(token))
        return None
    remaining = session.expires_at - time.time()
    if remaining <= 0:
        await kv.delete(_key(token))
        return None
    await kv.expire(_key(token), min(remaining, idle_timeout))
    return session


async def end_session(kv: KeyValueStore, token: str) -> None:
    await kv.delete(_key(token))
