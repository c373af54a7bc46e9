"""Route guard for mini-program routes: resolves the bearer token to the WeChat user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from sanic import Request

from models.wechat import MiniUser
from server.actors import Actor
from server.errors import Unauthorized
from server.miniapp import sessions


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


async def current_mini_user(request: Request) -> MiniUser:
    cached = getattr(request.ctx, "mini_user", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise Unauthorized("请先登录小程序", code="mini_login_required")
    token = header[7:].strip()
    found = getattr(request.ctx, "mini_session_prefetched", None)
    if found is not None and found[0] == token:
        session = sessions.session_from(found[1])  # read with the request's other keys (server.app)
    else:
        session = await sessions.load_session(request.app.ctx.kv, token)
    if session is None:
        raise Unauthorized("登录已过期，请重新进入小程序", code="mini_session_expired")
    user = await MiniUser.get_or_none(id=session.user_id)
    if user is None:
        raise Unauthorized("登录已过期，请重新进入小程序", code="mini_session_expired")
    request.ctx.mini_user = user
    request.ctx.mini_token = token
    request.ctx.actor = Actor(type="user", id=str(user.id), role="mini_user", request_id=getattr(request.ctx, "request_id", None))
    return user


def mini_user_required(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        await current_mini_user(request)
        return await handler(request, *args, **kwargs)

    # Read by server.http.validation.api: authenticate before parsing the body.
    wrapper.__authenticate__ = current_mini_user  # type: ignore[attr-defined]
    return wrapper
