"""The one error shape of the API: ``{"error": {"code": "...", "message": "...", ...}}``.

Services raise these (or domain errors mapped to them); routes never build error responses by hand.
Messages are Chinese because they are shown to clerks and beneficiaries; codes are for machines.
"""

from __future__ import annotations

import logging
from typing import Any

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse, json
from tortoise.exceptions import ValidationError as TortoiseValidationError

log = logging.getLogger("server.errors")


class ApiError(Exception):
    status: int = 400
    code: str = "bad_request"
    message: str = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None, **details: Any) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details
        super().__init__(f"{self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(ApiError):
    status, code, message = 400, "bad_request", "请求有误"


class ValidationFailed(ApiError):
    status, code, message = 422, "validation_failed", "提交的数据不符合要求"


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "请先登录"


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "无权进行此操作"


class NotFound(ApiError):
    status, code, message = 404, "not_found", "未找到"


class Conflict(ApiError):
    status, code, message = 409, "conflict", "与当前状态冲突"


class TooManyRequests(ApiError):
    status, code, message = 429, "rate_limited", "操作过于频繁，请稍后再试"


class PayloadTooLarge(ApiError):
    status, code, message = 413, "payload_too_large", "上传内容过大"


class ServiceUnavailable(ApiError):
    status, code, message = 503, "unavailable", "服务暂不可用"


_SANIC_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    416: "range_not_satisfiable",
    417: "expectation_failed",
    503: "unavailable",
}


def error_response(status: int, code: str, message: str, request: Request | None = None, **details: Any) -> HTTPResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    headers = {}
    if request is not None and getattr(request.ctx, "request_id", None):
        headers["X-Request-ID"] = request.ctx.request_id
    return json({"error": body}, status=status, headers=headers, ensure_ascii=False)


def register_error_handlers(app: Sanic) -> None:
    @app.exception(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> HTTPResponse:
        return error_response(exc.status, exc.code, exc.message, request, **exc.details)

    @app.exception(SanicException)
    async def _sanic_error(request: Request, exc: SanicException) -> HTTPResponse:
        status = getattr(exc, "status_code", 500) or 500
        if status >= 500:
            log.exception("server error", extra={"request_id": getattr(request.ctx, "request_id", None)})
            return error_response(status, "server_error", "服务器内部错误", request)
        message = str(exc) or "请求有误"
        # sanic-ext validation failures arrive as 400 with the pydantic message.
        code = _SANIC_CODES.get(status, "bad_request")
        if status == 400 and "Invalid request body" in message:
            return error_response(422, "validation_failed", "提交的数据不符合要求", request, reason=_short(message))
        return error_response(status, code, message, request)

    @app.exception(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError) -> HTTPResponse:
        return error_response(400, "input_too_deep", "提交的数据嵌套层数过多", request)

    # The last line of defence: a value the database refuses (a too-long string, an integer out of
    # range, a NUL byte) is bad input, not a server fault. The input layer should have caught it.
    @app.exception(*_database_error_types())
    async def _database_error(request: Request, exc: Exception) -> HTTPResponse:
        outage = _outage_response(request, exc)  # a database that is down is a 503, not a bad value
        if outage is not None:
            return outage
        if is_data_error(exc):
            log.warning("database refused a value", extra={"request_id": getattr(request.ctx, "request_id", None), "error": type(exc).__name__})
            return error_response(422, "validation_failed", "提交的数据不符合要求", request, reason="value_not_storable")
        log.exception("unhandled error", extra={"request_id": getattr(request.ctx, "request_id", None)})
        return error_response(500, "server_error", "服务器内部错误", request)

    @app.exception(TortoiseValidationError)
    async def _unstorable_value(request: Request, exc: Exception) -> HTTPResponse:
        # A value the ORM refuses for its column (too long for a filter, say): bad input that the input layer
        # should have caught, never a server fault.
        log.warning("value refused by the ORM", extra={"request_id": getattr(request.ctx, "request_id", None), "error": str(exc)[:200]})
        return error_response(422, "validation_failed", "提交的数据不符合要求", request, reason="value_not_storable")

    @app.exception(Exception)
    async def _unexpected(request: Request, exc: Exception) -> HTTPResponse:
        outage = _outage_response(request, exc)
        if outage is not None:
            return outage
        log.exception("unhandled error", extra={"request_id": getattr(request.ctx, "request_id", None)})
        return error_response(500, "server_error", "服务器内部错误", request)


def _data_error_types() -> tuple[type[Exception], ...]:
    # asyncpg: server-side data exceptions (22xxx) and client-side argument encoding errors.
    from asyncpg.exceptions import DataError as ServerDataError
    from asyncpg.exceptions._base import DataError as ArgumentDataError

    return (ServerDataError, ArgumentDataError)


def _database_error_types() -> tuple[type[Exception], ...]:
    from tortoise.exceptions import OperationalError

    return (OperationalError, *_data_error_types())


def is_data_error(exc: BaseException) -> bool:
    """True if ``exc`` (or what it wraps: tortoise wraps asyncpg) is the database refusing a value."""
    kinds = _data_error_types()
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# A dependency that is down is not a bug: 503 with a code the client can act on (retry later).
RETRY_AFTER_SECONDS = 5


def _outage_response(request: Request, exc: Exception) -> HTTPResponse | None:
    from server.db import is_database_outage
    from server.kv import StoreUnavailable

    if isinstance(exc, StoreUnavailable):
        code, message = "store_unavailable", "服务繁忙或正在恢复，请稍后再试"
    elif is_database_outage(exc):
        code, message = "database_unavailable", "数据库暂时无法访问，请稍后再试"
    else:
        return None
    error = f"{type(exc).__name__}: {exc}"[:300]
    # The code and the cause in the text itself: a plain log line must say which dependency failed how.
    log.warning("dependency unavailable: %s (%s)", code, error, extra={"request_id": getattr(request.ctx, "request_id", None), "code": code, "error": error})
    response = error_response(503, code, message, request)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
