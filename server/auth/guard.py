"""Route guard: resolves the staff session from the request and builds its Scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from sanic import Request

from models.org import OrgKind
from models.staff import Role
from server.actors import Actor
from server.auth import sessions
from server.auth.scope import Scope
from server.errors import Forbidden, Unauthorized

SESSION_COOKIE = "vets_session"
CSRF_HEADER = "X-CSRF-Token"


def _token_from(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return cookie, True


async def current_staff(request: Request) -> sessions.StaffSession:
    cached = getattr(request.ctx, "staff", None)
    if cached is not None:
        return cached
    token, from_cookie = _token_from(request)
    if not token:
        raise Unauthorized()
    settings = request.app.ctx.settings
    session = await sessions.load_session(request.app.ctx.kv, token, idle_timeout=settings.security.staff_idle_timeout_seconds)
    if session is None:
        raise Unauthorized("登录已过期，请重新登录", code="session_expired")
    # Cookie sessions (the web console) must echo the CSRF token on anything that changes state.
    if from_cookie and request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER) or (request.form.get("csrf_token") if request.form else None)
        if sent != session.csrf_token:
            raise Forbidden("页面已过期，请刷新后重试", code="csrf_failed")
    request.ctx.staff = session
    request.ctx.session_token = token
    request.ctx.scope = Scope(role=Role(session.role), org_unit_id=session.org_unit_id, org_kind=OrgKind(session.org_kind))
    request.ctx.actor = Actor(type="staff", id=str(session.staff_id), role=session.role, request_id=getattr(request.ctx, "request_id", None))
    return session


def staff_required(*roles: Role, write: bool = False) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Require a logged-in staff member; optionally one of ``roles`` and a role that may write."""

    def decorator(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            await current_staff(request)
            scope: Scope = request.ctx.scope
            if roles:
                scope.require_role(*roles)
            if write:
                scope.require_write()
            return await handler(request, *args, **kwargs)

        return wrapper

    return decorator
