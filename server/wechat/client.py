"""An async WeChat mini-program API client built for several server processes sharing one appid.

Why not wechatpy's client: it is blocking, never uses ``/cgi-bin/stable_token`` and retries
40001/42001 recursively without a limit. Why the care with the token: fetching ``/cgi-bin/token``
invalidates the previous token, so independent processes would keep knocking each other's token out.
This client therefore

* uses ``/cgi-bin/stable_token`` in normal mode (never invalidates a token other holders still use);
  it never force-refreshes on its own, because force refresh is limited to 20 per day and does
  invalidate the previous token;
* caches the token in the shared key-value store (Redis when more than one process runs) under
  ``wechat:access_token:{appid}`` for ``expires_in - 300`` seconds, and lets only one refresher at a
  time fetch it (a KV lock, re-checking the cache once the lock is held);
* on 40001/40014/42001 removes the cached token only if it is still the token that failed
  (compare-and-delete, so a token another process just stored survives), then retries once;
* backs off a bounded number of times on -1 ("system busy");
* turns every other errcode into a typed ``WeChatError`` (see ``server.wechat.errors``).

Secrets, access tokens, login codes and session keys never appear in log records or exception
messages written by this module.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from server.config import WeChatSettings
from server.kv import KeyValueStore, LockNotAcquired
from server.wechat.errors import (
    InvalidCode,
    TokenInvalid,
    WeChatError,
    WeChatUnavailable,
    error_for,
)

log = logging.getLogger("server.wechat.client")

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
BUSY_ERRCODE = -1
# WeChat renews a stable token 5 minutes before it expires; stop using ours at that point too.
RENEW_MARGIN_SECONDS = 300
# Shorter than this is pointless caching; happens only for test tokens or a token near its end.
_MIN_USEFUL_TTL_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Session:
    openid: str
    # repr=False: a session key in a log line would let anyone decrypt the user's data.
    session_key: str = field(repr=False)
    unionid: str | None = None


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    phone_number: str  # with country code for non-mainland numbers, e.g. "+1 202..." or "13800138000"
    pure_phone_number: str  # without country code
    country_code: str


def token_cache_ttl(*, expires_in: float) -> float:
    """Seconds to keep a token WeChat said is valid for ``expires_in`` seconds.

    Normally ``expires_in - 300``. A token with less than 360 s left (only seen with test stand-ins
    or a token another system fetched long ago) is kept for half its remaining life instead, so it
    is never cached past its expiry and never cached for a meaningless instant.
    """
    if expires_in <= 0:
        raise ValueError("expires_in must be positive")
    ttl = expires_in - RENEW_MARGIN_SECONDS
    return ttl if ttl >= _MIN_USEFUL_TTL_SECONDS else expires_in / 2


class WeChatClient:
    def __init__(
        self,
        settings: WeChatSettings,
        kv: KeyValueStore,
        http: httpx.AsyncClient | None = None,
        *,
        busy_backoff_seconds: float = 0.2,
        max_busy_backoff_seconds: float = 2.0,
    ) -> None:
        self._settings = settings
        self._kv = kv
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=settings.request_timeout_seconds)
        self._base_url = settings.api_base_url.rstrip("/")
        self._busy_backoff = busy_backoff_seconds
        self._max_busy_backoff = max_busy_backoff_seconds
        # Single flight inside this process, so 100 waiting coroutines do not all poll the KV lock.
        self._local_refresh = asyncio.Lock()
        install_httpx_log_redaction()

    # ---------------------------------------------------------------- public API

    @property
    def token_cache_key(self) -> str:
        return f"wechat:access_token:{self._settings.app_id}"

    async def code2session(self, code: str) -> Session:
        """Exchange a ``wx.login`` code (single use, five minutes) for openid and session_key."""
        if not code:
            # Do not spend a call (and a slot of the per-user minute quota) on an obviously bad code.
            raise InvalidCode(40029, "empty login code")
        body = await self._call(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self._settings.app_id,
                "secret": self._settings.app_secret.get_secret_value(),
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        openid, session_key = body.get("openid"), body.get("session_key")
        if not isinstance(openid, str) or not openid or not isinstance(session_key, str) or not session_key:
            raise WeChatUnavailable("code2session answered without openid/session_key")
        unionid = body.get("unionid")
        return Session(openid=openid, session_key=session_key, unionid=unionid or None)

    async def access_token(self) -> str:
        """The shared access token, fetched (by exactly one process at a time) only when not cached."""
        cached = await self._kv.get(self.token_cache_key)
        if cached:
            return cached
        async with self._local_refresh:
            cached = await self._kv.get(self.token_cache_key)
            if cached:
                return cached
            return await self._refresh_under_kv_lock()

    async def send_subscribe_message(
        self,
        *,
        openid: str,
        template_id: str,
        page: str | None,
        data: Mapping[str, Any],
        miniprogram_state: str | None = None,
        lang: str | None = None,
    ) -> int | None:
        """Send one subscribe message; returns WeChat's msgid (matches ``MsgID`` in the sent event)."""
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": normalise_message_data(data=data),
            "miniprogram_state": miniprogram_state or self._settings.miniprogram_state,
            "lang": lang or self._settings.lang,
        }
        if page:
            payload["page"] = page
        body = await self._call("POST", "/cgi-bin/message/subscribe/send", json=payload, with_token=True)
        msgid = body.get("msgid")
        return int(msgid) if isinstance(msgid, (int, str)) and str(msgid).isdigit() else None

    async def get_phone_number(self, code: str) -> PhoneInfo:
        """Exchange a ``getPhoneNumber`` button code (single use, five minutes) for the phone number."""
        if not code:
            raise InvalidCode(40029, "empty phone code")
        body = await self._call(
            "POST", "/wxa/business/getuserphonenumber", json={"code": code}, with_token=True
        )
        info = body.get("phone_info")
        if not isinstance(info, dict) or not info.get("phoneNumber"):
            raise WeChatUnavailable("getuserphonenumber answered without phone_info")
        return PhoneInfo(
            phone_number=str(info["phoneNumber"]),
            pure_phone_number=str(info.get("purePhoneNumber") or info["phoneNumber"]),
            country_code=str(info.get("countryCode") or ""),
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> WeChatClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ---------------------------------------------------------------- access token

    def _lock_lease_seconds(self) -> float:
        # Long enough for one fetch including every busy back-off, so the lease never lapses while
        # the holder is still fetching (which would let a second process fetch too).
        attempts = self._settings.busy_retries + 1
        backoff = sum(self._busy_delay(attempt=n) for n in range(self._settings.busy_retries))
        return attempts * self._settings.request_timeout_seconds + backoff + 5.0

    async def _refresh_under_kv_lock(self) -> str:
        lease = self._lock_lease_seconds()
        try:
            async with self._kv.lock(self.token_cache_key, timeout=lease, wait=lease):
                # Another process may have stored a token while we waited for the lock.
                cached = await self._kv.get(self.token_cache_key)
                if cached:
                    return cached
                token, expires_in = await self._fetch_stable_token()
                await self._kv.set(self.token_cache_key, token, ttl=token_cache_ttl(expires_in=expires_in))
                log.info("wechat access token refreshed", extra={"expires_in": expires_in})
                return token
        except LockNotAcquired as exc:
            raise WeChatUnavailable("timed out waiting for another process to refresh the access token") from exc

    async def _fetch_stable_token(self) -> tuple[str, int]:
        body = await self._call(
            "POST",
            "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self._settings.app_id,
                "secret": self._settings.app_secret.get_secret_value(),
                # Normal mode only: force refresh invalidates the token other holders still use.
                "force_refresh": False,
            },
        )
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            raise WeChatUnavailable("stable_token answered without access_token/expires_in")
        return token, expires_in

    # ---------------------------------------------------------------- transport

    def _busy_delay(self, *, attempt: int) -> float:
        return min(self._busy_backoff * (2**attempt), self._max_busy_backoff)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        with_token: bool = False,
    ) -> dict[str, Any]:
        """One logical API call: busy back-off and (for token-authenticated calls) one token retry."""
        busy_attempts = 0
        token_retried = False
        while True:
            token = await self.access_token() if with_token else None
            body = await self._send(method, path, params=params, json=json, token=token)
            errcode, errmsg = _errcode_of(body=body, path=path)
            if errcode == 0:
                return body
            if errcode == BUSY_ERRCODE and busy_attempts < self._settings.busy_retries:
                delay = self._busy_delay(attempt=busy_attempts)
                busy_attempts += 1
                log.warning("wechat busy, backing off", extra={"path": path, "delay": delay, "attempt": busy_attempts})
                await asyncio.sleep(delay)
                continue
            if token is not None and errcode in TOKEN_ERRCODES:
                # Only drop the cache if it still holds the token that failed: another process may
                # already have stored a fresh one, which must not be thrown away.
                await self._kv.delete_if_equals(self.token_cache_key, token)
                if not token_retried:
                    token_retried = True
                    log.warning("wechat refused the access token, retrying once", extra={"path": path, "errcode": errcode})
                    continue
                raise TokenInvalid(errcode, f"{errmsg} (refused again after one token refresh)")
            log.info("wechat api error", extra={"path": path, "errcode": errcode})
            raise error_for(errcode=errcode, errmsg=errmsg)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        json: Any,
        token: str | None,
    ) -> dict[str, Any]:
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        try:
            response = await self._http.request(method, self._base_url + path, params=query, json=json)
        except httpx.TimeoutException as exc:
            # Messages name the path only: the URL carries the secret, token or login code.
            raise WeChatUnavailable(f"{path}: timed out") from exc
        except httpx.HTTPError as exc:
            raise WeChatUnavailable(f"{path}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise WeChatUnavailable(f"{path}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise WeChatError(None, f"{path}: HTTP {response.status_code}")
        try:
            # jscode2session answers with Content-Type text/plain, so never trust the header.
            body = response.json()
        except ValueError as exc:
            raise WeChatUnavailable(f"{path}: answer is not JSON") from exc
        if not isinstance(body, dict):
            raise WeChatUnavailable(f"{path}: answer is not a JSON object")
        return body


def _errcode_of(*, body: Mapping[str, Any], path: str) -> tuple[int, str]:
    raw = body.get("errcode", 0)
    try:
        errcode = int(raw or 0)
    except (TypeError, ValueError):
        raise WeChatUnavailable(f"{path}: errcode is not a number") from None
    return errcode, str(body.get("errmsg") or "")


def normalise_message_data(*, data: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Accept ``{"thing1": "text"}`` or WeChat's ``{"thing1": {"value": "text"}}``; return the latter."""
    result: dict[str, dict[str, str]] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            value = value.get("value")
        result[str(key)] = {"value": "" if value is None else str(value)}
    return result


# ---------------------------------------------------------------- log redaction

_SECRET_QUERY = re.compile(r"((?:secret|access_token|js_code|code)=)[^&\s\"']+", re.IGNORECASE)


def redact_url(text: str) -> str:
    """Mask secret-bearing query parameters (secret, access_token, js_code, code)."""
    return _SECRET_QUERY.sub(r"\1***", text)


class _RedactSecretsFilter(logging.Filter):
    """httpx logs every request URL at INFO; ours carry the app secret, tokens and login codes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(arg)) if isinstance(arg, (str, httpx.URL)) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact_url(record.msg)
        return True


_REDACTION = _RedactSecretsFilter()


def install_httpx_log_redaction() -> None:
    """Attach the redaction filter to httpx's logger (idempotent)."""
    logger = logging.getLogger("httpx")
    if _REDACTION not in logger.filters:
        logger.addFilter(_REDACTION)
