"""CSRF protection for the console's login form, before any session exists (double-submit token).

The login page sets a random token in an HttpOnly, SameSite=Strict cookie and in a hidden field;
the POST must carry both and they must match. A page on another site can neither read the cookie
nor make the browser send it with a cross-site POST, so it cannot log a clerk into an account of
its choosing. A cross-site Origin header is refused as well.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from sanic import Request
from sanic.response import HTTPResponse

LOGIN_CSRF_COOKIE = "vets_login_csrf"
LOGIN_CSRF_FIELD = "csrf_token"


def login_form_token(request: Request) -> str:
    existing = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    return existing if 20 <= len(existing) <= 64 and existing.isascii() else secrets.token_urlsafe(24)


def set_login_form_cookie(response: HTTPResponse, token: str, *, secure: bool) -> None:
    response.add_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/console/login", max_age=3600)


def login_form_is_genuine(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        return False
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    sent = (request.form.get(LOGIN_CSRF_FIELD) if request.form else None) or ""
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())
