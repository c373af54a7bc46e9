"""A local stand-in for the WeChat endpoints this service calls, for tests and offline development.

It answers like WeChat documents it (HTTP 200 with ``errcode``/``errmsg``; jscode2session as
``text/plain``), keeps its own clock that tests can move forward, and records every request.
Failures are programmed through control endpoints under ``/_standin/`` (see docs/wechat.md).

It runs on the standard library's threading HTTP server rather than Sanic: it must start and stop
many times inside one pytest process, next to a Sanic app under test, and be reachable from
other processes (multi-process token tests), none of which suits a second Sanic app.

    async with run_standin() as standin:
        settings = standin.settings()            # WeChatSettings pointing at the stand-in
        code = (await standin.control.issue_code(openid="o-test")).code

    python -m server.wechat.standin --port 9100
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from server.config import WeChatSettings
from server.wechat.client import redact_url

log = logging.getLogger("server.wechat.standin")

DEFAULT_APP_ID = "wx-dev-appid"
DEFAULT_APP_SECRET = "dev-app-secret"
LOGIN_CODE_TTL_SECONDS = 300  # WeChat: a login code works once, within five minutes
STABLE_RENEW_SECONDS = 300  # normal mode hands out a new token in the last five minutes
TOKEN_GRACE_SECONDS = 300  # /cgi-bin/token: the previous token keeps working five more minutes
FORCE_REFRESH_PER_DAY = 20
CODE2SESSION_PER_USER_PER_MINUTE = 100
TOKEN_ENDPOINTS = frozenset({"/cgi-bin/message/subscribe/send", "/wxa/business/getuserphonenumber"})

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40226: "high risk level user, login blocked",
    41001: "access_token missing",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
}


def _error(errcode: int, errmsg: str | None = None) -> dict[str, Any]:
    rid = f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
    return {"errcode": errcode, "errmsg": f"{errmsg or ERRMSG.get(errcode, 'error')} rid: {rid}"}


# ------------------------------------------------------------------ subscribe-message field rules
# An independent implementation of WeChat's documented keyword rules, so the renderer in
# server/notifications/templates.py is checked against something it does not share code with.

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_DATE = r"\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?"
_TIME = rf"(?:(?:{_DATE})\s+)?{_CLOCK}|(?:{_DATE})"
_FIELD_RULES: dict[str, Callable[[str], bool]] = {
    "thing": lambda v: 0 < len(v) <= 20,
    "phrase": lambda v: re.fullmatch(rf"[{_CJK}]{{1,5}}", v) is not None,
    "character_string": lambda v: re.fullmatch(r"[\x21-\x7e]{1,32}", v) is not None,
    "name": lambda v: re.fullmatch(rf"[{_CJK}]{{1,10}}", v) is not None
    or re.fullmatch(r"[A-Za-z][A-Za-z ]{0,19}", v) is not None,
    "number": lambda v: re.fullmatch(r"-?\d+(?:\.\d+)?", v) is not None and sum(c.isdigit() for c in v) <= 32,
    "amount": lambda v: re.fullmatch(r"[¥$€£]?\d{1,10}(?:\.\d{1,2})?元?", v) is not None,
    "phone_number": lambda v: re.fullmatch(r"[0-9+\-() ]{1,17}", v) is not None,
    "date": lambda v: re.fullmatch(rf"(?:{_DATE})(?:\s+{_CLOCK})?(?:\s*~\s*(?:{_DATE})(?:\s+{_CLOCK})?)?", v) is not None,
    "time": lambda v: re.fullmatch(rf"(?:{_TIME})(?:\s*~\s*(?:{_TIME}))?", v) is not None,
    "letter": lambda v: re.fullmatch(r"[A-Za-z]{1,32}", v) is not None,
    "symbol": lambda v: re.fullmatch(r"[^\w\s]{1,5}", v) is not None,
    "car_number": lambda v: 0 < len(v) <= 8,
    "const": lambda v: len(v) > 0,
}
_KEYWORD = re.compile(r"([a-z_]+?)(\d+)")


def check_message_data(data: Any) -> str | None:
    """The 47003 errmsg WeChat would give for ``data``, or None when every value is acceptable."""
    if not isinstance(data, dict) or not data:
        return "argument invalid! data is empty"
    for key, item in data.items():
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str) or value == "":
            return f"argument invalid! data.{key}.value is empty"
        match = _KEYWORD.fullmatch(key)
        rule = _FIELD_RULES.get(match.group(1)) if match else None
        if rule is None or not rule(value):
            return f"argument invalid! data.{key}.value invalid"
    return None


# ------------------------------------------------------------------ state


@dataclass
class _LoginCode:
    openid: str
    session_key: str
    unionid: str | None
    expires_at: float
    used: bool = False


@dataclass
class _PhoneCode:
    phone_number: str
    pure_phone_number: str
    country_code: str
    expires_at: float
    used: bool = False


@dataclass
class _Token:
    kind: str  # "stable" or "token"
    expires_at: float
    revoked_at: float | None = None


@dataclass
class StandinConfig:
    app_id: str = DEFAULT_APP_ID
    app_secret: str = DEFAULT_APP_SECRET
    token_expires_in: int = 7200
    code_ttl_seconds: int = LOGIN_CODE_TTL_SECONDS
    rate_limit_per_minute: int = CODE2SESSION_PER_USER_PER_MINUTE
    # Empty: any template id is accepted; otherwise unknown ids answer 40037.
    template_ids: list[str] = field(default_factory=list)
    # Seconds to hold each subscribe-send answer after recording it: lets a test kill a sender mid-send.
    send_delay_seconds: float = 0.0


class StandinState:
    """Everything the stand-in knows; one lock, because handler threads run concurrently."""

    def __init__(self, config: StandinConfig) -> None:
        self.lock = threading.RLock()
        self._initial = config
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.config = StandinConfig(**{**self._initial.__dict__, "template_ids": list(self._initial.template_ids)})
            self.clock_offset = 0.0
            self.login_codes: dict[str, _LoginCode] = {}
            self.phone_codes: dict[str, _PhoneCode] = {}
            self.tokens: dict[str, _Token] = {}
            self.stable_current: str | None = None
            self.token_current: str | None = None
            self.force_refreshes = 0
            self.calls_by_openid: dict[str, deque[float]] = {}
            self.msgid = 1_000_000_000
            self.requests: list[dict[str, Any]] = []
            self.messages: list[dict[str, Any]] = []
            self.counters: dict[str, int] = {"stable_token_fetches": 0, "tokens_issued": 0, "token_fetches": 0}
            self.clear_failures()

    def clear_failures(self) -> None:
        with self.lock:
            self.token_invalid_errcode: int | None = None
            self.busy_remaining = 0
            self.busy_path: str | None = None
            self.risky_openids: set[str] = set()
            self.refused: set[tuple[str, str]] = set()

    def now(self) -> float:
        return time.time() + self.clock_offset

    def stats(self) -> dict[str, Any]:
        with self.lock:
            by_path: dict[str, int] = {}
            for entry in self.requests:
                by_path[entry["path"]] = by_path.get(entry["path"], 0) + 1
            return {
                **self.counters,
                "requests_by_path": by_path,
                "stable_token": self.stable_current,
                "token": self.token_current,
                "messages_sent": len(self.messages),
                "clock_offset": self.clock_offset,
            }

    # --------------------------------------------------------- WeChat endpoints

    def _issue_token(self, *, kind: str) -> str:
        value = f"ACCESS_TOKEN_{kind.upper()}_{secrets.token_urlsafe(24)}"
        self.tokens[value] = _Token(kind=kind, expires_at=self.now() + self.config.token_expires_in)
        self.counters["tokens_issued"] += 1
        return value

    def _check_credentials(self, *, appid: Any, secret: Any) -> dict[str, Any] | None:
        if appid != self.config.app_id:
            return _error(40013)
        if secret != self.config.app_secret:
            return _error(40125)
        return None

    def stable_token(self, body: dict[str, Any]) -> dict[str, Any]:
        self.counters["stable_token_fetches"] += 1
        if body.get("grant_type") != "client_credential":
            return _error(40002)
        if failure := self._check_credentials(appid=body.get("appid"), secret=body.get("secret")):
            return failure
        now = self.now()
        current = self.tokens.get(self.stable_current) if self.stable_current else None
        if body.get("force_refresh") is True:
            if self.force_refreshes >= FORCE_REFRESH_PER_DAY:
                return _error(45009)
            self.force_refreshes += 1
            if self.stable_current:
                # Force refresh invalidates the previous stable token at once.
                self.tokens.pop(self.stable_current, None)
            self.stable_current = self._issue_token(kind="stable")
        elif current is None or current.expires_at - now <= STABLE_RENEW_SECONDS:
            # Normal mode renews in the last five minutes; the old token stays valid until it expires.
            self.stable_current = self._issue_token(kind="stable")
        token = self.tokens[self.stable_current]
        return {"access_token": self.stable_current, "expires_in": int(round(token.expires_at - now))}

    def token(self, query: dict[str, str]) -> dict[str, Any]:
        self.counters["token_fetches"] += 1
        if query.get("grant_type") != "client_credential":
            return _error(40002)
        if failure := self._check_credentials(appid=query.get("appid"), secret=query.get("secret")):
            return failure
        if self.token_current and self.token_current in self.tokens:
            # /cgi-bin/token invalidates the previous token (after a five-minute overlap).
            self.tokens[self.token_current].revoked_at = self.now() + TOKEN_GRACE_SECONDS
        self.token_current = self._issue_token(kind="token")
        return {"access_token": self.token_current, "expires_in": self.config.token_expires_in}

    def code2session(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("grant_type") != "authorization_code":
            return _error(40002)
        if failure := self._check_credentials(appid=query.get("appid"), secret=query.get("secret")):
            return failure
        now = self.now()
        code = self.login_codes.get(query.get("js_code", ""))
        if code is None or code.used or code.expires_at <= now:
            return _error(40029)
        window = self.calls_by_openid.setdefault(code.openid, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self.config.rate_limit_per_minute:
            return _error(45011)
        if code.openid in self.risky_openids:
            return _error(40226)
        code.used = True
        window.append(now)
        answer = {"session_key": code.session_key, "openid": code.openid}
        if code.unionid:
            answer["unionid"] = code.unionid
        return answer

    def check_token(self, query: dict[str, str]) -> dict[str, Any] | None:
        value = query.get("access_token")
        if not value:
            return _error(41001)
        if self.token_invalid_errcode is not None:
            return _error(self.token_invalid_errcode)
        token = self.tokens.get(value)
        now = self.now()
        if token is None or (token.revoked_at is not None and token.revoked_at <= now):
            return _error(40001)
        if token.expires_at <= now:
            return _error(42001)
        return None

    def subscribe_send(self, body: dict[str, Any]) -> dict[str, Any]:
        openid, template_id = body.get("touser"), body.get("template_id")
        if not isinstance(openid, str) or not openid:
            return _error(40003)
        if not isinstance(template_id, str) or not template_id:
            return _error(40037)
        if self.config.template_ids and template_id not in self.config.template_ids:
            return _error(40037)
        if body.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
            return _error(47001, "data format error: miniprogram_state")
        if body.get("lang", "zh_CN") not in ("zh_CN", "en_US", "zh_HK", "zh_TW"):
            return _error(47001, "data format error: lang")
        if (openid, template_id) in self.refused or (openid, "*") in self.refused:
            return _error(43101)
        if problem := check_message_data(body.get("data")):
            return _error(47003, problem)
        self.msgid += 1
        self.messages.append({**body, "msgid": self.msgid, "time": self.now()})
        return {"errcode": 0, "errmsg": "ok", "msgid": self.msgid}

    def get_phone_number(self, body: dict[str, Any]) -> dict[str, Any]:
        code = self.phone_codes.get(str(body.get("code") or ""))
        if code is None or code.used or code.expires_at <= self.now():
            return _error(40029)
        code.used = True
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": code.phone_number,
                "purePhoneNumber": code.pure_phone_number,
                "countryCode": code.country_code,
                "watermark": {"timestamp": int(self.now()), "appid": self.config.app_id},
            },
        }

    # --------------------------------------------------------- control

    def issue_login_code(self, body: dict[str, Any]) -> dict[str, Any]:
        openid = str(body.get("openid") or "o" + secrets.token_urlsafe(20))
        code = secrets.token_urlsafe(24)
        ttl = float(body.get("ttl_seconds") or self.config.code_ttl_seconds)
        self.login_codes[code] = _LoginCode(
            openid=openid,
            session_key=str(body.get("session_key") or _b64_key()),
            unionid=body.get("unionid"),
            expires_at=self.now() + ttl,
        )
        entry = self.login_codes[code]
        return {"code": code, "openid": openid, "session_key": entry.session_key, "unionid": entry.unionid}

    def issue_phone_code(self, body: dict[str, Any]) -> dict[str, Any]:
        pure = str(body.get("pure_phone_number") or body.get("phone_number") or "13800138000")
        country = str(body.get("country_code") or "86")
        phone = str(body.get("phone_number") or (pure if country == "86" else f"+{country} {pure}"))
        code = secrets.token_urlsafe(24)
        self.phone_codes[code] = _PhoneCode(phone, pure, country, self.now() + LOGIN_CODE_TTL_SECONDS)
        return {"code": code}

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("token_expires_in", "code_ttl_seconds", "rate_limit_per_minute"):
            if name in body:
                setattr(self.config, name, int(body[name]))
        if "template_ids" in body:
            self.config.template_ids = [str(t) for t in body["template_ids"]]
        if "send_delay_seconds" in body:
            self.config.send_delay_seconds = float(body["send_delay_seconds"])
        return dict(self.config.__dict__, app_secret="***")


def _b64_key() -> str:
    import base64

    return base64.b64encode(secrets.token_bytes(16)).decode()


# ------------------------------------------------------------------ HTTP


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections as they would with WeChat
    # Headers and body go out in separate writes; with Nagle on, each answer waits ~40 ms for an ACK.
    disable_nagle_algorithm = True
    server: _StandinHTTPServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # The request line carries access tokens and login codes (fake here, but keep logs clean).
        log.debug("standin %s", redact_url(format % args))

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._reply(200, _error(47001, "data format error"))
            return
        state = self.server.state
        with state.lock:
            if url.path.startswith("/_standin/"):
                status, answer = _control(state, method=method, path=url.path, query=query, body=body)
                content_type = "application/json"
            else:
                status, answer = 200, _wechat(state, method=method, path=url.path, query=query, body=body)
                state.requests.append(
                    {
                        "seq": len(state.requests) + 1,
                        "time": state.now(),
                        "method": method,
                        "path": url.path,
                        "query": query,
                        "body": body,
                        "errcode": answer.get("errcode", 0) if isinstance(answer, dict) else None,
                    }
                )
                # Real WeChat labels the jscode2session JSON as text/plain.
                content_type = "text/plain" if url.path == "/sns/jscode2session" else "application/json"
            delay = state.config.send_delay_seconds if url.path == "/cgi-bin/message/subscribe/send" else 0.0
        if delay > 0:
            time.sleep(delay)  # outside the lock: the message is already recorded as received
        self._reply(status, answer, content_type=content_type)

    def _reply(self, status: int, answer: Any, *, content_type: str = "application/json") -> None:
        payload = json.dumps(answer, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _wechat(state: StandinState, *, method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
    routes: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
        ("GET", "/sns/jscode2session"): lambda: state.code2session(query),
        ("POST", "/cgi-bin/stable_token"): lambda: state.stable_token(body if isinstance(body, dict) else {}),
        ("GET", "/cgi-bin/token"): lambda: state.token(query),
        ("POST", "/cgi-bin/message/subscribe/send"): lambda: state.subscribe_send(body if isinstance(body, dict) else {}),
        ("POST", "/wxa/business/getuserphonenumber"): lambda: state.get_phone_number(body if isinstance(body, dict) else {}),
    }
    handler = routes.get((method, path))
    if handler is None:
        return _error(40066, "invalid url")
    if state.busy_remaining > 0 and (state.busy_path is None or state.busy_path == path):
        state.busy_remaining -= 1
        return _error(-1)
    if path in TOKEN_ENDPOINTS and (failure := state.check_token(query)):
        return failure
    return handler()


def _control(state: StandinState, *, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
    body = body if isinstance(body, dict) else {}
    name = path.removeprefix("/_standin/").rstrip("/")
    if (method, name) == ("POST", "codes"):
        return 200, state.issue_login_code(body)
    if (method, name) == ("POST", "phone_codes"):
        return 200, state.issue_phone_code(body)
    if (method, name) == ("POST", "config"):
        return 200, state.configure(body)
    if (method, name) == ("POST", "clock"):
        state.clock_offset += float(body.get("advance_seconds") or 0)
        return 200, {"now": state.now(), "offset": state.clock_offset}
    if (method, name) == ("GET", "requests"):
        wanted = query.get("path")
        return 200, {"requests": [r for r in state.requests if wanted is None or r["path"] == wanted]}
    if (method, name) == ("DELETE", "requests"):
        state.requests.clear()
        return 200, {"ok": True}
    if (method, name) == ("GET", "messages"):
        return 200, {"messages": list(state.messages)}
    if (method, name) == ("GET", "stats"):
        return 200, state.stats()
    if (method, name) == ("POST", "reset"):
        state.reset()
        return 200, {"ok": True}
    if (method, name) == ("DELETE", "failures"):
        state.clear_failures()
        return 200, {"ok": True}
    if (method, name) == ("POST", "failures/token_invalid"):
        state.token_invalid_errcode = int(body.get("errcode") or 40001)
        return 200, {"ok": True}
    if (method, name) == ("DELETE", "failures/token_invalid"):
        state.token_invalid_errcode = None
        return 200, {"ok": True}
    if (method, name) == ("POST", "failures/busy"):
        state.busy_remaining = int(body.get("count") or 0)
        state.busy_path = body.get("path") or None
        return 200, {"ok": True}
    if (method, name) == ("POST", "failures/risky"):
        state.risky_openids.add(str(body["openid"]))
        return 200, {"ok": True}
    if (method, name) == ("POST", "failures/refuse"):
        state.refused.add((str(body["openid"]), str(body.get("template_id") or "*")))
        return 200, {"ok": True}
    return 404, {"error": f"unknown control endpoint {method} {path}"}


class _StandinHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # A hundred simultaneous connections (multi-process token tests) overflow the default backlog of 5.
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: StandinState) -> None:
        super().__init__(address, _Handler)
        self.state = state


class StandinServer:
    """The stand-in HTTP server on a background thread."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, config: StandinConfig | None = None) -> None:
        self.state = StandinState(config or StandinConfig())
        self._httpd = _StandinHTTPServer((host, port), self.state)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StandinServer:
        # A short poll interval keeps stop() (and so every test using the stand-in) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="wechat-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()


# ------------------------------------------------------------------ control client


@dataclass(frozen=True)
class IssuedCode:
    code: str
    openid: str
    session_key: str
    unionid: str | None = None


class StandinControl:
    """Drives a stand-in over HTTP, so it works for one started in another process too."""

    def __init__(self, base_url: str, *, http: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.AsyncClient(base_url=self.base_url + "/_standin", timeout=10)

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._http.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    async def _get(self, endpoint: str, params: dict[str, str] | None = None) -> Any:
        response = await self._http.get(endpoint, params=params or {})
        response.raise_for_status()
        return response.json()

    async def _delete(self, path: str) -> None:
        (await self._http.delete(path)).raise_for_status()

    async def issue_code(
        self, *, openid: str | None = None, unionid: str | None = None, ttl_seconds: float | None = None
    ) -> IssuedCode:
        answer = await self._post("/codes", {"openid": openid, "unionid": unionid, "ttl_seconds": ttl_seconds})
        return IssuedCode(**answer)

    async def issue_phone_code(self, *, phone_number: str = "13800138000", country_code: str = "86") -> str:
        answer = await self._post("/phone_codes", {"pure_phone_number": phone_number, "country_code": country_code})
        return answer["code"]

    async def configure(self, **settings: Any) -> dict[str, Any]:
        """token_expires_in, code_ttl_seconds, rate_limit_per_minute, template_ids, send_delay_seconds."""
        return await self._post("/config", settings)

    async def advance_clock(self, seconds: float) -> None:
        await self._post("/clock", {"advance_seconds": seconds})

    async def fail_token(self, *, errcode: int = 40001) -> None:
        """Every token-authenticated call answers ``errcode`` until ``clear_failures``."""
        await self._post("/failures/token_invalid", {"errcode": errcode})

    async def fail_busy(self, *, count: int, path: str | None = None) -> None:
        """The next ``count`` WeChat answers (optionally for one path only) are -1."""
        await self._post("/failures/busy", {"count": count, "path": path})

    async def mark_risky(self, *, openid: str) -> None:
        await self._post("/failures/risky", {"openid": openid})

    async def refuse(self, *, openid: str, template_id: str = "*") -> None:
        await self._post("/failures/refuse", {"openid": openid, "template_id": template_id})

    async def clear_failures(self) -> None:
        await self._delete("/failures")

    async def requests(self, *, path: str | None = None) -> list[dict[str, Any]]:
        answer = await self._get("/requests", {"path": path} if path else None)
        return answer["requests"]

    async def clear_requests(self) -> None:
        await self._delete("/requests")

    async def messages(self) -> list[dict[str, Any]]:
        return (await self._get("/messages"))["messages"]

    async def stats(self) -> dict[str, Any]:
        return await self._get("/stats")

    async def reset(self) -> None:
        await self._post("/reset")

    async def aclose(self) -> None:
        await self._http.aclose()


@dataclass
class Standin:
    base_url: str
    control: StandinControl
    server: StandinServer

    @property
    def state(self) -> StandinState:
        """Direct in-process access (control endpoints are preferred: they also work cross-process)."""
        return self.server.state

    def settings(self, **overrides: Any) -> WeChatSettings:
        """WeChatSettings pointing at this stand-in with its app id and secret."""
        config = self.server.state.config
        values: dict[str, Any] = {
            "app_id": config.app_id,
            "app_secret": config.app_secret,
            "api_base_url": self.base_url,
            "request_timeout_seconds": 5.0,
        }
        values.update(overrides)
        return WeChatSettings(**values)


@asynccontextmanager
async def run_standin(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    app_id: str = DEFAULT_APP_ID,
    app_secret: str = DEFAULT_APP_SECRET,
    token_expires_in: int = 7200,
) -> AsyncIterator[Standin]:
    """Start a stand-in on a free port (by default) for the duration of the block."""
    with standin_server(
        host=host, port=port, app_id=app_id, app_secret=app_secret, token_expires_in=token_expires_in
    ) as server:
        control = StandinControl(server.base_url)
        try:
            yield Standin(base_url=server.base_url, control=control, server=server)
        finally:
            await control.aclose()


@contextmanager
def standin_server(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    app_id: str = DEFAULT_APP_ID,
    app_secret: str = DEFAULT_APP_SECRET,
    token_expires_in: int = 7200,
) -> Iterator[StandinServer]:
    """Synchronous variant for scripts and non-async fixtures."""
    config = StandinConfig(app_id=app_id, app_secret=app_secret, token_expires_in=token_expires_in)
    server = StandinServer(host=host, port=port, config=config).start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server.wechat.standin", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--app-id", default=DEFAULT_APP_ID)
    parser.add_argument("--app-secret", default=DEFAULT_APP_SECRET)
    parser.add_argument("--token-expires-in", type=int, default=7200)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = StandinConfig(app_id=args.app_id, app_secret=args.app_secret, token_expires_in=args.token_expires_in)
    server = StandinServer(host=args.host, port=args.port, config=config)
    print(f"WeChat stand-in listening on {server.base_url} (appid {args.app_id}); set VETS_WECHAT__API_BASE_URL to it")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
