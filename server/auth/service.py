"""Staff login with argon2 passwords and lockout after repeated failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.expressions import F

from models.staff import Staff
from server.actors import Actor
from server.audit import service as audit
from server.auth import sessions
from server.config import SecuritySettings
from server.errors import ApiError, Unauthorized
from server.kv import KeyValueStore
from server.security.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password


class AccountLocked(ApiError):
    status, code, message = 423, "account_locked", "登录失败次数过多，账号已临时锁定，请稍后再试"


async def login(*, kv: KeyValueStore, security: SecuritySettings, username: str, password: str, request_id: str | None = None) -> tuple[str, sessions.StaffSession]:
    staff = await Staff.get_or_none(username=username).select_related("org_unit")
    if staff is None or not staff.is_active:
        verify_password(DUMMY_HASH, password)
        raise Unauthorized("用户名或密码错误", code="invalid_credentials")
    now = datetime.now(UTC)
    if staff.locked_until and staff.locked_until > now:
        raise AccountLocked(locked_until=staff.locked_until.isoformat())
    if not verify_password(staff.password_hash, password):
        await _record_failure(staff, security=security, now=now, request_id=request_id)
        raise Unauthorized("用户名或密码错误", code="invalid_credentials")
    updates: dict[str, object] = {"failed_login_count": 0, "locked_until": None, "last_login_at": now}
    if needs_rehash(staff.password_hash):
        updates["password_hash"] = hash_password(password)
    await Staff.filter(id=staff.id).update(**updates)
    token, session = await sessions.create_session(
        kv,
        staff_id=staff.id,
        username=staff.username,
        role=staff.role.value,
        org_unit_id=staff.org_unit_id,
        org_kind=staff.org_unit.kind.value,
        ttl=security.staff_session_ttl_seconds,
        idle_timeout=security.staff_idle_timeout_seconds,
    )
    return token, session


async def _record_failure(staff: Staff, *, security: SecuritySettings, now: datetime, request_id: str | None) -> None:
    # Atomic increment: two wrong passwords at once from two workers both count.
    await Staff.filter(id=staff.id).update(failed_login_count=F("failed_login_count") + 1)
    failures = (await Staff.get(id=staff.id)).failed_login_count
    if failures >= security.max_login_failures:
        locked_until = now + timedelta(seconds=security.lockout_seconds)
        await Staff.filter(id=staff.id).update(locked_until=locked_until, failed_login_count=0)
        await audit.record(
            actor=Actor(type="system", id=None, role="system", request_id=request_id),
            action="staff.locked_out",
            entity_type="staff",
            entity_id=staff.id,
            details={"failures": failures, "locked_until": locked_until.isoformat()},
        )


async def change_password(*, staff_id: int, old_password: str, new_password: str, actor: Actor) -> None:
    staff = await Staff.get(id=staff_id)
    if not verify_password(staff.password_hash, old_password):
        raise Unauthorized("原密码错误", code="invalid_credentials")
    staff.password_hash = hash_password(new_password)
    staff.must_change_password = False
    await staff.save(update_fields=["password_hash", "must_change_password", "updated_at"])
    await audit.record(actor=actor, action="staff.password_changed", entity_type="staff", entity_id=staff_id)
