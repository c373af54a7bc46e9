"""Response headers for pages and API answers that carry personal data."""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.response import HTTPResponse

# API answers and console pages name people, addresses and ID numbers: no cache may keep them
# (a shared browser at a township station, a proxy). Static assets and files that choose their own
# caching (reference photos: private, short) are left alone.
_PRIVATE_PREFIXES = ("/api/", "/console/")
_CACHEABLE_PREFIXES = ("/console/static/",)


def install_security_headers(app: Sanic) -> None:
    @app.on_response
    async def security_headers(request: Request, response: HTTPResponse) -> None:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        path = request.path
        if path.startswith(_PRIVATE_PREFIXES) and not path.startswith(_CACHEABLE_PREFIXES) and "cache-control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
