"""The published contract: response models, documented error codes, the bearer scheme, offline /docs.

Routes return pydantic models (``respond``) and declare them with ``contract``: the same model is
validated when the response is built and published in the OpenAPI document under
``components/schemas``, so the mini-program's TypeScript types (``mp_client/``) are the code's types.

The document is OpenAPI 3.0 (what sanic-ext serves), so pydantic's JSON Schema is converted:
``anyOf [X, null]`` becomes ``nullable``, ``const`` an ``enum``, ``$defs`` components.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json
from sanic_ext import openapi
from sanic_ext.extensions.openapi.types import Integer, String

from server.errors import NotFound

log = logging.getLogger("server.http.openapi")

BEARER = "bearer"
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database: larger ones are answered 404, not 500
SWAGGER_HTML = Path(__file__).with_name("swagger.html")

F = TypeVar("F", bound=Callable[..., Any])

_SCHEMAS: dict[str, dict[str, Any]] = {}
ANY_CODE = "*"  # in an error list: the codes named are examples, others (e.g. per image problem) may occur


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable error code (see docs/mp-api.md)")
    message: str = Field(description="Chinese message to show to the user")
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Ok(BaseModel):
    ok: bool = True


# Errors every bearer-protected mini-program route can answer.
AUTH_ERRORS: dict[int, list[str]] = {401: ["mini_login_required", "mini_session_expired"]}
VALIDATION_ERRORS: dict[int, list[str]] = {400: ["empty_body", "invalid_json", "json_too_deep", "input_too_deep"], 422: ["validation_failed"]}
# The input guard (server/http/validation.py) answers these on any route, before the handler runs.
INPUT_GUARD_ERRORS: dict[int, list[str]] = {400: ["control_characters"]}
# Errors every staff route can answer (server/auth/guard.py): no or an ended session, the one-time
# password not yet changed, a console form without its CSRF token.
STAFF_AUTH_ERRORS: dict[int, list[str]] = {401: ["unauthorized", "session_expired", "session_revoked"], 403: ["password_change_required", "csrf_failed"]}
# ... a route limited to some roles (``staff_required(Role.X, ...)``), a route that writes.
ROLE_ERRORS: dict[int, list[str]] = {403: ["role_not_allowed"]}
WRITE_ERRORS: dict[int, list[str]] = {403: ["read_only"]}
QUERY_ERRORS: dict[int, list[str]] = {422: ["validation_failed"]}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def to_openapi30(node: Any) -> Any:
    """pydantic's JSON Schema (2020-12) as OpenAPI 3.0 accepts it."""
    if isinstance(node, list):
        return [to_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    any_of = node.get("anyOf")
    if isinstance(any_of, list) and {"type": "null"} in any_of:
        rest = [item for item in any_of if item != {"type": "null"}]
        node.pop("anyOf")
        if len(rest) == 1:
            inner = to_openapi30(rest[0])
            if "$ref" in inner:
                node["allOf"] = [inner]
            else:
                node = {**inner, **node}
        else:
            node["anyOf"] = to_openapi30(rest)
        node["nullable"] = True
        if node.get("default", ...) is None:
            node.pop("default")
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        value = node.get(flag)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # 2020-12's numeric exclusive bound is 3.0's bound plus a boolean flag.
            node[bound], node[flag] = value, True
    if "examples" in node and isinstance(node["examples"], list):
        examples = node.pop("examples")
        if examples:
            node["example"] = examples[0]
    return {key: to_openapi30(value) if key not in ("example", "default", "enum") else value for key, value in node.items()}


def component(model: type[BaseModel]) -> dict[str, str]:
    """Register ``model`` (and the models it uses) as components; returns the ``$ref`` to it."""
    name = model.__name__
    if name not in _SCHEMAS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        for def_name, definition in schema.pop("$defs", {}).items():
            _SCHEMAS.setdefault(def_name, to_openapi30(definition))
        _SCHEMAS[name] = to_openapi30(schema)
    return {"$ref": f"#/components/schemas/{name}"}


def published_schemas() -> dict[str, dict[str, Any]]:
    return dict(_SCHEMAS)


def error_schema(codes: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": sorted(set(codes))} if ANY_CODE not in codes else {"type": "string", "description": "known: " + ", ".join(sorted(set(codes) - {ANY_CODE}))},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                },
            }
        },
    }


def contract(
    *,
    response: type[BaseModel] | None,
    status: int = 200,
    html: str | None = None,
    example: Mapping[str, Any] | None = None,
    errors: Mapping[int, Sequence[str]] | None = None,
    auth: bool = True,
    staff: bool = False,
    roles: bool = False,
    write: bool = False,
    query: bool = False,
    file: Mapping[str, str] | None = None,
    body: bool = False,
    idempotency_key: bool = False,
    open_codes: bool = False,
    path_ids: Sequence[str] = (),
    also: Sequence[int] = (),
) -> Callable[[F], F]:
    """Publish what a route answers: ``response`` at ``status`` (and at each status in ``also``, e.g.
    200 for a repeated idempotent request), the error codes per status, the bearer scheme and headers.
    A route that answers a page instead (``response=None``) describes it in ``html``: text/html; one
    that answers a file, in ``file``: ``{media type: description}`` (binary).

    ``staff=True``: a staff route (the staff session's errors instead of the mini-program's);
    ``roles``: limited to some roles (403 role_not_allowed); ``write``: changes data (403 read_only);
    ``query``: validates a query string (422).

    Place it above ``@api(...)``: it documents the route handler sanic-ext already knows.
    """
    all_errors: dict[int, list[str]] = {}
    sources: list[Mapping[int, Sequence[str]]] = [INPUT_GUARD_ERRORS]
    if auth:
        sources.append(STAFF_AUTH_ERRORS if staff else AUTH_ERRORS)
    sources += ([ROLE_ERRORS] if roles else []) + ([WRITE_ERRORS] if write else []) + ([QUERY_ERRORS] if query else [])
    for source in sources + ([VALIDATION_ERRORS] if body else []) + ([{404: ["not_found"]}] if path_ids else []) + [dict(errors or {})]:
        for code_status, codes in source.items():
            all_errors.setdefault(code_status, []).extend(code for code in codes if code not in all_errors.get(code_status, []))
    if open_codes:
        for code_status, codes in all_errors.items():
            if code_status != 401:
                codes.append(ANY_CODE)

    def decorator(handler: F) -> F:
        if path_ids:
            handler = _bounded_ids(handler, path_ids)
        if response is not None:
            handler = _checked(handler, response, {status, *also})
        if response is None:
            if file is not None:
                media = {kind: {"schema": {"type": "string", "description": text} if kind.startswith("text/") else {"type": "string", "format": "binary", "description": text}} for kind, text in file.items()}
            elif html is not None:
                media = {"text/html": {"schema": {"type": "string", "description": html}}}
            else:
                raise TypeError("contract: a route without a response model must describe its HTML page or file")
        else:
            content: dict[str, Any] = {"schema": component(response)}
            if example is not None:
                content["example"] = dict(example)
            media = {"application/json": content}
        decorated: Any = handler
        for answer in (status, *also):
            decorated = openapi.response(answer, media, "OK" if answer < 300 else "")(decorated)
        for code_status, codes in sorted(all_errors.items()):
            decorated = openapi.response(
                code_status,
                {"application/json": {"schema": error_schema(codes), "example": {"error": {"code": codes[0], "message": "…"}}}},
                "错误码: " + ", ".join(sorted(set(codes) - {ANY_CODE})),
            )(decorated)
        if auth:
            decorated = openapi.secured(BEARER)(decorated)
        if idempotency_key:
            decorated = openapi.parameter(
                "Idempotency-Key",
                String(minLength=1, maxLength=80, pattern=r"^[\x21-\x7e]+$"),
                "header",
                required=True,
                description="A client-generated unique key per intended action (e.g. a UUID); a retry with the same key returns the first result (200) instead of acting twice",
            )(decorated)
        for name in path_ids:
            decorated = openapi.parameter(name, Integer(minimum=1, maximum=MAX_ID), "path", required=True)(decorated)
        decorated.__response_model__ = response
        return decorated  # type: ignore[no-any-return]

    return decorator


def _bounded_ids(handler: F, names: Sequence[str]) -> F:
    """Ids beyond the database's integer range are unknown ids (404), not a database error (500)."""
    from sanic_ext.extensions.openapi.builders import OperationStore

    @wraps(handler)
    async def bounded(request: Request, *args: Any, **kwargs: Any) -> Any:
        authenticate = getattr(handler, "__authenticate__", None)
        if authenticate is not None:
            await authenticate(request)  # 401 before 404, as for every other input
        for name in names:
            value = kwargs.get(name)
            if isinstance(value, int) and not 1 <= value <= MAX_ID:
                raise NotFound("未找到", code="not_found")
        return await handler(request, *args, **kwargs)

    store = OperationStore()
    if handler in store:
        store[bounded] = store.pop(handler)
    return bounded  # type: ignore[return-value]


class ContractBroken(Exception):
    """A route answered JSON its published model does not describe (a bug: the contract is wrong)."""


def _checked(handler: F, model: type[BaseModel], statuses: set[int]) -> F:
    """Outside production, every success answer is validated against the published model, with
    unknown fields refused: a route and its contract cannot drift apart unnoticed (tests run this)."""
    from sanic_ext.extensions.openapi.builders import OperationStore

    @wraps(handler)
    async def checked(request: Request, *args: Any, **kwargs: Any) -> Any:
        answer = await handler(request, *args, **kwargs)
        settings = getattr(request.app.ctx, "settings", None)
        if (
            settings is not None
            and settings.environment != "production"
            and isinstance(answer, HTTPResponse)
            and answer.status in statuses
            and (answer.content_type or "").startswith("application/json")
            and answer.body is not None
        ):
            try:
                # A report open for further columns (extra="allow") keeps its openness.
                model.model_validate_json(answer.body, extra=None if model.model_config.get("extra") == "allow" else "forbid")
            except ValidationError as exc:
                log.error("response breaks its contract %s %s: %s", request.method, request.path, exc)
                raise ContractBroken(f"{request.method} {request.path}: {model.__name__}: {exc}") from exc
        return answer

    store = OperationStore()
    if handler in store:
        store[checked] = store.pop(handler)
    return checked  # type: ignore[return-value]


def respond(model: BaseModel, *, status: int = 200) -> HTTPResponse:
    """The model as JSON: what the route returns is what the contract publishes."""
    return json(model.model_dump(mode="json"), status=status, ensure_ascii=False)


def install(app: Sanic) -> None:
    """Security scheme and components in the document; /docs from local Swagger UI files."""
    from sanic_ext.extensions.openapi.builders import SpecificationBuilder

    app.ext.openapi.add_security_scheme(
        BEARER, "http", scheme="bearer", bearer_format="opaque", description="The token from POST /api/mp/login (mini-program) or POST /api/staff/login (staff)"
    )
    component(ErrorBody)
    builder = SpecificationBuilder()
    for name, schema in _SCHEMAS.items():
        builder.add_component("schemas", name, schema)


def configure_offline_docs(app: Sanic) -> None:
    """Government intranets have no internet: Swagger UI comes from the swagger-ui-bundle wheel.

    Call before ``app.ext`` is first touched: sanic-ext builds the /docs pages from this config."""
    import swagger_ui_bundle

    app.config.OAS_UI_REDOC = False  # ReDoc exists only on a CDN
    app.config.OAS_PATH_TO_SWAGGER_HTML = str(SWAGGER_HTML)
    app.static("/docs/assets", swagger_ui_bundle.swagger_ui_path, name="swagger_assets")


def staff_contract(**kwargs: Any) -> Callable[[F], F]:
    """``contract`` for a staff route: the staff session's errors and the bearer scheme.

    The error codes named per status are the ones the route's own rules raise; the services it calls
    share rules with other routes, so a status may carry further codes (documented as open lists;
    the mini-program's routes list theirs exactly)."""
    return contract(staff=True, open_codes=True, **kwargs)


def list_of(model: type[BaseModel], *, name: str | None = None, description: str = "") -> type[BaseModel]:
    """``{"items": [model, ...]}``, the shape of every list the API answers, as a named component."""
    from pydantic import create_model

    listed: type[BaseModel] = create_model(name or f"{model.__name__}List", items=(list[model], Field(description=description)))  # type: ignore[valid-type]
    return listed
