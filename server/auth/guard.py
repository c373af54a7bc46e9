"""Route guard: resolves the staff session from the request and builds its Scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any

from sanic import Request
from tortoise import connections

from models.org import OrgKind
from models.staff import Role, Staff
from server.actors import Actor
from server.auth import sessions
from server.auth.scope import ORG_VERSION_KEY, UNKNOWN, Scope, _Unknown
from server.db import is_postgres
from server.errors import Forbidden, Unauthorized

SESSION_COOKIE = "vets_session"
CSRF_HEADER = "X-CSRF-Token"
# What an account that must change its (one-time) password may still do.
PASSWORD_CHANGE_PATHS = frozenset({"/api/staff/password", "/api/staff/me", "/api/staff/logout", "/console/logout", "/console/password"})


def client_address(request: Request) -> str:
    """The caller's address: the proxy-reported one when Sanic trusts a proxy, else the peer."""
    return (request.remote_addr or request.ip or "")[:64]


_ACCOUNT_FIELDS = ("password_hash", "is_active", "role", "org_unit_id", "must_change_password")
_ACCOUNT_SQL_POSTGRES = f"SELECT {', '.join(_ACCOUNT_FIELDS)} FROM staff WHERE id = $1"


async def _check_account(request: Request, token: str, session: sessions.StaffSession) -> None:
    """The account behind a session, read now: deactivated or changed credentials end the session."""
    if is_postgres():  # every staff request asks: the statement written once instead of built by the ORM each time
        rows = await connections.get("default").execute_query_dict(_ACCOUNT_SQL_POSTGRES, [session.staff_id])
    else:
        rows = await Staff.filter(id=session.staff_id).values(*_ACCOUNT_FIELDS)
    row = rows[0] if rows else None
    if row is not None:
        role = getattr(row["role"], "value", row["role"])
        stamp = sessions.credential_stamp(password_hash=row["password_hash"], is_active=row["is_active"], role=role, org_unit_id=row["org_unit_id"])
    if row is None or not row["is_active"] or stamp != session.credential_stamp:
        await sessions.end_session(request.app.ctx.kv, token)
        raise Unauthorized("账号状态已变更，请重新登录", code="session_revoked")
    if row["must_change_password"] and request.path.rstrip("/") not in PASSWORD_CHANGE_PATHS:
        raise Forbidden("首次登录或密码已重置，请先修改密码", code="password_change_required")


def _token_from(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return cookie, True


@dataclass
class Prefetched:
    """What one pipelined store read at the start of a request found for the staff guard."""

    token: str
    session_raw: str | None
    idle_left: float | None
    org_version: str | None


async def prefetch(request: Request, *, also: Sequence[str] = (), staff: bool = True) -> list[str | None]:
    """One round trip to the store for the request: ``also`` (shared version tokens the caller needs),
    the org tree's version and, when the request carries a token (and ``staff``: a route a staff
    session may call), the staff session and its idle time left. Returns the values of ``also``; the
    guard finds the rest on ``request.ctx``."""
    token, _ = _token_from(request) if staff else (None, False)
    keys = [*also, ORG_VERSION_KEY]
    key = sessions.session_key(token) if token else None
    if key is not None:
        keys.append(key)
    values, idle_left = await request.app.ctx.kv.read_many(keys, ttl_of=key)
    if token:
        request.ctx.prefetched = Prefetched(token=token, session_raw=values[-1], idle_left=idle_left, org_version=values[len(also)])
    return values[: len(also)]


async def _session(request: Request, token: str) -> tuple[sessions.StaffSession | None, str | None | _Unknown]:
    kv = request.app.ctx.kv
    idle_timeout = request.app.ctx.settings.security.staff_idle_timeout_seconds
    found: Prefetched | None = getattr(request.ctx, "prefetched", None)
    if found is not None and found.token == token:
        session = await sessions.session_from(kv, token, raw=found.session_raw, idle_left=found.idle_left, idle_timeout=idle_timeout)
        return session, found.org_version
    return await sessions.load_session(kv, token, idle_timeout=idle_timeout), UNKNOWN


async def current_staff(request: Request) -> sessions.StaffSession:
    cached = getattr(request.ctx, "staff", None)
    if cached is not None:
        return cached
    token, from_cookie = _token_from(request)
    if not token:
        raise Unauthorized()
    session, org_version = await _session(request, token)
    if session is None:
        raise Unauthorized("登录已过期，请重新登录", code="session_expired")
    await _check_account(request, token, session)
    # Cookie sessions (the web console) must echo the CSRF token on anything that changes state.
    if from_cookie and request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER) or (request.form.get("csrf_token") if request.form else None)
        if sent != session.csrf_token:
            raise Forbidden("页面已过期，请刷新后重试", code="csrf_failed")
    request.ctx.staff = session
    request.ctx.session_token = token
    request.ctx.scope = Scope(role=Role(session.role), org_unit_id=session.org_unit_id, org_kind=OrgKind(session.org_kind), tree_version=org_version)
    request.ctx.actor = Actor(type="staff", id=str(session.staff_id), role=session.role, request_id=getattr(request.ctx, "request_id", None))
    return session


def staff_required(*roles: Role, write: bool = False) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Require a logged-in staff member; optionally one of ``roles`` and a role that may write."""

    async def authorise(request: Request) -> None:
        await current_staff(request)
        scope: Scope = request.ctx.scope
        if roles:
            scope.require_role(*roles)
        if write:
            scope.require_write()

    def decorator(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            await authorise(request)
            return await handler(request, *args, **kwargs)

        # Read by server.http (the input guard and ``api``): who is asking is settled before the
        # path ids or the body are judged, so a stranger always gets 401.
        wrapper.__authenticate__ = authorise  # type: ignore[attr-defined]
        return wrapper

    return decorator
