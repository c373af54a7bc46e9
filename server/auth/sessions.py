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


def session_key(token: str) -> str:
    # Only a hash of the token is stored: a dump of the store does not yield usable sessions.
    return "staff_session:" + hashlib.sha256(token.encode()).hexdigest()


_key = session_key
# The idle timeout slides on use, but the expiry is rewritten only once this share of the idle window
# has passed since the last rewrite: a session idles out between 90 % and 100 % of the timeout after
# its last request, and a busy clerk costs one EXPIRE every few minutes instead of one per request.
REFRESH_AFTER_SHARE = 0.1


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
    (raw,), idle_left = await kv.read_many([session_key(token)], ttl_of=session_key(token))
    return await session_from(kv, token, raw=raw, idle_left=idle_left, idle_timeout=idle_timeout)


async def session_from(kv: KeyValueStore, token: str, *, raw: str | None, idle_left: float | None, idle_timeout: int) -> StaffSession | None:
    """The session behind a value already read (with its remaining idle time), sliding the idle expiry."""
    if raw is None:
        return None
    try:
        session = StaffSession(**json.loads(raw))
    except (TypeError, ValueError):
        await kv.delete(session_key(token))
        return None
    remaining = session.expires_at - time.time()
    if remaining <= 0:
        await kv.delete(session_key(token))
        return None
    wanted = min(remaining, idle_timeout)
    if idle_left is None or wanted - idle_left > idle_timeout * REFRESH_AFTER_SHARE:
        await kv.expire(session_key(token), wanted)
    return session


async def end_session(kv: KeyValueStore, token: str) -> None:
    await kv.delete(_key(token))
