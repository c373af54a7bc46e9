"""Typed WeChat API errors and the permanent/transient split the notification outbox relies on.

WeChat answers HTTP 200 with ``{"errcode": N, "errmsg": "..."}`` for almost every failure, so the
errcode is the only reliable signal. Each errcode the service reacts to differently gets a class;
anything else is a plain ``WeChatError`` carrying the code.
"""

from __future__ import annotations

import re
from typing import ClassVar

# errmsg looks like "argument invalid! data.thing3.value invalid rid: 5f32..." (or "... is empty").
_FIELD_IN_ERRMSG = re.compile(r"data\.([A-Za-z_]+[0-9]+)\.value")


class WeChatError(Exception):
    """A WeChat API call failed with ``errcode``/``errmsg`` (errcode is None when WeChat was unreachable)."""

    errcodes: ClassVar[tuple[int, ...]] = ()
    # Transient errors may succeed later unchanged; the outbox retries them and drops permanent ones.
    transient: ClassVar[bool] = False

    def __init__(self, errcode: int | None, errmsg: str = "") -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"WeChat error {errcode}: {errmsg}" if errcode is not None else errmsg)

    @property
    def rid(self) -> str | None:
        match = re.search(r"rid:\s*(\S+)", self.errmsg)
        return match.group(1) if match else None


class WeChatUnavailable(WeChatError):
    """Network error, timeout, HTTP 5xx or an unparseable answer: WeChat never gave an errcode."""

    transient = True

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class WeChatBusy(WeChatError):
    """errcode -1 ("system busy") still returned after the bounded back-off."""

    errcodes = (-1,)
    transient = True


class TokenInvalid(WeChatError):
    """The access_token was refused even after refreshing it once (40001/40014/42001)."""

    errcodes = (40001, 40014, 42001)
    # A fresh stable token normally fixes it; repeated failures point at configuration and alert ops.
    transient = True


class InvalidCode(WeChatError):
    """40029: a login/phone code that is unknown, already used or older than five minutes."""

    errcodes = (40029,)


class RateLimited(WeChatError):
    """45011: more than 100 code2Session calls per minute for one user; try again next minute."""

    errcodes = (45011,)
    transient = True


class QuotaExceeded(WeChatError):
    """45009: the daily API quota is used up (e.g. stable_token force_refresh 20/day)."""

    errcodes = (45009,)
    transient = True


class RiskyUser(WeChatError):
    """40226: WeChat's risk control blocked this user's login."""

    errcodes = (40226,)


class UserRefused(WeChatError):
    """43101: the user has no (remaining) subscription for this template."""

    errcodes = (43101,)


class InvalidField(WeChatError):
    """47003: a template data value broke WeChat's rules; ``field`` names the keyword (e.g. thing3)."""

    errcodes = (47003,)

    def __init__(self, errcode: int | None, errmsg: str = "") -> None:
        super().__init__(errcode, errmsg)
        match = _FIELD_IN_ERRMSG.search(errmsg)
        self.field: str | None = match.group(1) if match else None


class InvalidOpenId(WeChatError):
    errcodes = (40003,)


class InvalidTemplate(WeChatError):
    """40037: the template id is wrong or not added to this mini-program (a configuration error)."""

    errcodes = (40037,)


class InvalidPage(WeChatError):
    errcodes = (41030,)


class InvalidCredentials(WeChatError):
    """40013/40125/40164/40243: appid, secret or IP whitelist wrong: configuration, never transient."""

    errcodes = (40013, 40125, 40164, 40243)


_BY_ERRCODE: dict[int, type[WeChatError]] = {
    code: cls
    for cls in (
        WeChatBusy,
        TokenInvalid,
        InvalidCode,
        RateLimited,
        QuotaExceeded,
        RiskyUser,
        UserRefused,
        InvalidField,
        InvalidOpenId,
        InvalidTemplate,
        InvalidPage,
        InvalidCredentials,
    )
    for code in cls.errcodes
}

# Codes without a class of their own that are still worth retrying later.
_TRANSIENT_ERRCODES = frozenset({45047, 43108, 45033, 40038})


def error_for(*, errcode: int, errmsg: str) -> WeChatError:
    """The typed error for a WeChat errcode (``WeChatError`` itself for codes without a class)."""
    return _BY_ERRCODE.get(errcode, WeChatError)(errcode, errmsg)


def is_transient(exc: BaseException) -> bool:
    """True if retrying the same request later may succeed (network, busy, rate and quota limits).

    Anything that is not a WeChatError (or an httpx transport error, in case a caller bypassed the
    client) is treated as permanent so that a programming error never loops in the outbox.
    """
    if isinstance(exc, WeChatError):
        return exc.transient or (exc.errcode in _TRANSIENT_ERRCODES)
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a hard dependency
        return False
    return isinstance(exc, httpx.TransportError)


def is_permanent(exc: BaseException) -> bool:
    return not is_transient(exc)
