"""Staff login with argon2 passwords, uniform failures and lockout after repeated failures."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from tortoise.expressions import F

from models.staff import Staff
from server.actors import Actor
from server.audit import service as audit
from server.auth import sessions
from server.config import SecuritySettings
from server.errors import Unauthorized, ValidationFailed
from server.kv import KeyValueStore
from server.security.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password

LOGIN_FAILED = "用户名或密码错误；连续输错多次后账号将临时锁定，请稍后再试"


def _login_failed() -> Unauthorized:
    # One answer for every failure (unknown user, wrong password, locked, throttled): nothing tells
    # a stranger which usernames exist or which accounts are locked.
    return Unauthorized(LOGIN_FAILED, code="invalid_credentials")


def _hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


async def login(*, kv: KeyValueStore, security: SecuritySettings, username: str, password: str, request_id: str | None = None, source: str = "") -> tuple[str, sessions.StaffSession]:
    """Check a password; lockout per (account, address), per address, and per account overall.

    A stranger guessing from one address locks only that address out of that account (and soon
    out of every account); the clerk at her own desk still logs in. Guessing spread over many
    addresses is stopped by the account-wide limit, which is much higher.
    """
    pair_key = f"login_fail:pair:{_hashed(username)}:{source}"
    source_key = f"login_fail:source:{source}"
    staff = await Staff.get_or_none(username=username).select_related("org_unit")
    now = datetime.now(UTC)
    throttled = int(await kv.get(source_key) or 0) >= security.max_login_failures_per_source
    pair_locked = int(await kv.get(pair_key) or 0) >= security.max_login_failures
    account_locked = staff is not None and staff.locked_until is not None and staff.locked_until > now
    if staff is None or not staff.is_active or throttled or pair_locked or account_locked:
        verify_password(DUMMY_HASH, password)  # the same time as a real check
        if not (throttled or pair_locked or account_locked):
            await _count_failure(kv, security=security, pair_key=pair_key, source_key=source_key)
        raise _login_failed()
    if not verify_password(staff.password_hash, password):
        await _count_failure(kv, security=security, pair_key=pair_key, source_key=source_key)
        await _record_failure(staff, security=security, now=now, request_id=request_id, source=source)
        raise _login_failed()
    await kv.delete(pair_key)
    updates: dict[str, object] = {"failed_login_count": 0, "locked_until": None, "last_login_at": now}
    if needs_rehash(staff.password_hash):
        updates["password_hash"] = staff.password_hash = hash_password(password)
    await Staff.filter(id=staff.id).update(**updates)
    return await _new_session(kv, security=security, staff=staff)


async def _new_session(kv: KeyValueStore, *, security: SecuritySettings, staff: Staff) -> tuple[str, sessions.StaffSession]:
    return await sessions.create_session(
        kv,
        staff_id=staff.id,
        username=staff.username,
        role=staff.role.value,
        org_unit_id=staff.org_unit_id,
        org_kind=staff.org_unit.kind.value,
        ttl=security.staff_session_ttl_seconds,
        idle_timeout=security.staff_idle_timeout_seconds,
        stamp=sessions.credential_stamp(password_hash=staff.password_hash, is_active=staff.is_active, role=staff.role.value, org_unit_id=staff.org_unit_id),
    )


async def _count_failure(kv: KeyValueStore, *, security: SecuritySettings, pair_key: str, source_key: str) -> None:
    await kv.incr(pair_key, ttl=security.lockout_seconds)
    await kv.incr(source_key, ttl=security.lockout_seconds)


async def _record_failure(staff: Staff, *, security: SecuritySettings, now: datetime, request_id: str | None, source: str) -> None:
    # Atomic increment: two wrong passwords at once from two workers both count.
    await Staff.filter(id=staff.id).update(failed_login_count=F("failed_login_count") + 1)
    failures = (await Staff.get(id=staff.id)).failed_login_count
    if failures >= security.max_account_failures:
        locked_until = now + timedelta(seconds=security.lockout_seconds)
        await Staff.filter(id=staff.id).update(locked_until=locked_until, failed_login_count=0)
        await audit.record(
            actor=Actor(type="system", id=None, role="system", request_id=request_id),
            action="staff.locked_out",
            entity_type="staff",
            entity_id=staff.id,
            details={"failures": failures, "locked_until": locked_until.isoformat(), "last_source": source},
        )


async def change_password(*, kv: KeyValueStore, security: SecuritySettings, staff_id: int, old_password: str, new_password: str, actor: Actor) -> tuple[str, sessions.StaffSession]:
    """Change one's password; every existing session (this one included) ends, a new one is returned."""
    staff = await Staff.get(id=staff_id).select_related("org_unit")
    if not verify_password(staff.password_hash, old_password):
        raise Unauthorized("原密码错误", code="invalid_credentials")
    if verify_password(staff.password_hash, new_password):
        raise ValidationFailed("新密码不能与原密码相同", code="password_unchanged")
    staff.password_hash = hash_password(new_password)
    staff.must_change_password = False
    await staff.save(update_fields=["password_hash", "must_change_password", "updated_at"])
    await audit.record(actor=actor, action="staff.password_changed", entity_type="staff", entity_id=staff_id)
    return await _new_session(kv, security=security, staff=staff)
