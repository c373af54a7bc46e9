"""Mini-program sessions: our own opaque token in the key-value store; revocable; never the session_key."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass

from server.kv import KeyValueStore


@dataclass
class MiniSession:
    user_id: int
    created_at: float
    expires_at: float


def session_key(token: str) -> str:
    return "mini_session:" + hashlib.sha256(token.encode()).hexdigest()


_key = session_key


async def create_session(kv: KeyValueStore, *, user_id: int, ttl: int) -> tuple[str, MiniSession]:
    token = secrets.token_urlsafe(32)
    now = time.time()
    session = MiniSession(user_id=user_id, created_at=now, expires_at=now + ttl)
    await kv.set(_key(token), json.dumps(asdict(session)), ttl=ttl)
    return token, session


async def load_session(kv: KeyValueStore, token: str) -> MiniSession | None:
    return session_from(await kv.get(_key(token)))


def session_from(raw: str | None) -> MiniSession | None:
    """A session as stored (read by ``load_session`` or with the request's other keys)."""
    return MiniSession(**json.loads(raw)) if raw else None


async def revoke_session(kv: KeyValueStore, token: str) -> None:
    await kv.delete(_key(token))
