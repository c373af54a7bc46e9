"""Request parsing: pydantic models for bodies and queries, documented in the OpenAPI document.

Validation errors become 422 ``validation_failed`` with the failing fields listed, so a client can
point at the exact input to fix.

This is also the one input layer that keeps malformed values away from the database and the
services: every request passes ``install_input_guards`` (route-parameter integer ranges, control
characters in the path, query and form, JSON nesting depth) and every parsed body or query is
checked for control characters and integers the database columns cannot hold.
"""

from __future__ import annotations

import json as jsonlib
import re
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from sanic import HTTPResponse, Request, Sanic
from sanic_ext import openapi

from server.errors import BadRequest, NotFound, ValidationFailed
from server.http.openapi import to_openapi30

M = TypeVar("M", bound=BaseModel)
Handler = Callable[..., Awaitable[Any]]

# The database's INTEGER columns (ids, counts, versions) are signed 32-bit on PostgreSQL.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Deeper JSON is never sent by our clients; json.loads would otherwise recurse until RecursionError.
MAX_JSON_DEPTH = 32
# C0 control characters other than tab, newline and carriage return, and DEL: PostgreSQL refuses NUL
# in text, and none of these belongs in a name, address or code.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# "HH:MM", 00:00–23:59: time-of-day strings that are stored and later parsed (pickup slot windows).
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["09:00"])]


def check_windows(windows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each (start, end) window must end after it starts."""
    for start, end in windows:
        if start >= end:
            raise ValueError(f"window {start}-{end} must end after it starts")
    return windows


def patch_changes(body: BaseModel, *, nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields a PATCH body sets; an explicit null is refused unless the column may be empty."""
    changes = body.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None and name not in nullable]
    if nulls:
        raise ValidationFailed(fields=[{"field": name, "problem": "may not be null; leave the field out to keep it", "type": "null_not_allowed"} for name in nulls])
    return changes


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def json_depth_exceeds(raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if brackets (outside strings) nest deeper than ``limit``; no parsing, no recursion.

    Runs at C speed on the raw body (a Python loop over 25 MB would stall the event loop): strings
    are cut out, every other byte but brackets dropped, then innermost pairs removed up to ``limit``
    times: pairs left after that nest deeper than ``limit``.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        shorter = _strip_pairs(brackets)
        if len(shorter) == len(brackets):
            break
        brackets = shorter
    if not brackets:
        return False
    if len(_strip_pairs(brackets)) < len(brackets):
        return True  # pairs still nested after ``limit`` rounds
    # An unbalanced remnant: json.loads refuses it, unless so many openers would make it recurse.
    return brackets.count(b"[") + brackets.count(b"{") > limit


def _strip_pairs(brackets: bytes) -> bytes:
    return brackets.replace(b"[]", b"").replace(b"{}", b"")


def _bad_values(value: Any, path: str, out: list[dict[str, Any]]) -> None:
    """Collect strings with control characters and integers outside the 32-bit column range."""
    if len(out) >= 20:
        return
    if isinstance(value, str):
        if has_control_characters(value):
            out.append({"field": path or "(body)", "problem": "contains control characters", "type": "control_characters"})
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT32_MIN <= value <= INT32_MAX:
            out.append({"field": path or "(body)", "problem": "integer out of range", "type": "int_out_of_range"})
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _bad_values(getattr(value, name), f"{path}.{name}" if path else name, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _bad_values(key, path, out)
            _bad_values(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            _bad_values(item, f"{path}.{index}" if path else str(index), out)


def check_values(model: BaseModel) -> None:
    """Refuse control characters and out-of-range integers anywhere in a validated model."""
    problems: list[dict[str, Any]] = []
    _bad_values(model, "", problems)
    if problems:
        raise ValidationFailed(fields=problems)


async def authenticate_first(request: Request) -> HTTPResponse | None:
    """Run the route's own authentication (the ``__authenticate__`` its guard decorator declares).

    It raises for an unauthenticated caller (401) or returns the answer to send instead (the console's
    login redirect); None once the caller is known. Routes that declare none are public.
    """
    handler = request.route.handler if request.route is not None else None
    authenticate = getattr(handler, "__authenticate__", None)
    if authenticate is None:
        return None
    answer = await authenticate(request)
    return answer if isinstance(answer, HTTPResponse) else None


def install_input_guards(app: Sanic[Any, Any]) -> None:
    """Checks every request gets before its handler: the inputs no handler should ever see."""

    async def guard_input(request: Request) -> HTTPResponse | None:
        out_of_range = False
        for value in (request.match_info or {}).values():
            if isinstance(value, int) and not isinstance(value, bool) and not INT32_MIN <= value <= INT32_MAX:
                out_of_range = True
            if isinstance(value, str) and has_control_characters(value):
                raise BadRequest("地址中含有非法字符", code="control_characters")
        if out_of_range:
            # An id the columns cannot hold names nothing: the object does not exist. But who is asking
            # comes first, as for an id in range: a stranger gets 401 (or the login page), never a 404
            # that a signed-in caller would get.
            refused = await authenticate_first(request)
            if refused is not None:
                return refused
            raise NotFound()
        if has_control_characters(request.path):
            raise BadRequest("地址中含有非法字符", code="control_characters")
        for key, values in request.args.items():
            if has_control_characters(key) or any(has_control_characters(v) for v in values):
                raise BadRequest("查询参数中含有非法字符", code="control_characters", field=key if key.isprintable() else None)
        content_type = (request.content_type or "").lower()
        if request.body and "json" in content_type and json_depth_exceeds(request.body):
            raise BadRequest("JSON嵌套层数过多", code="json_too_deep", max_depth=MAX_JSON_DEPTH)
        if request.body and "form" in content_type:
            form: Any = request.form or {}
            for key, values in form.items():
                if has_control_characters(key) or any(isinstance(v, str) and has_control_characters(v) for v in values):
                    raise BadRequest("表单中含有非法字符", code="control_characters")
        return None

    # Before every other request middleware (priority 100).
    app.on_request(guard_input, priority=100)


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "problem": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def parse_json(request: Request, model: type[M]) -> M:
    return parse_json_text(request.body, model)


def parse_json_text(raw: bytes | str | None, model: type[M]) -> M:
    if not raw:
        raise BadRequest("请求体为空，需要JSON", code="empty_body")
    if json_depth_exceeds(raw):
        raise BadRequest("JSON嵌套层数过多", code="json_too_deep", max_depth=MAX_JSON_DEPTH)
    try:
        data = jsonlib.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("请求体不是有效的JSON", code="invalid_json") from exc
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(fields=_field_errors(exc)) from exc
    check_values(parsed)
    return parsed


def parse_query(request: Request, model: type[M]) -> M:
    data: dict[str, Any] = {}
    for key, values in request.args.items():
        field = model.model_fields.get(key)
        is_list = field is not None and "list" in str(field.annotation).lower()
        data[key] = values if is_list else values[-1]
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(fields=_field_errors(exc)) from exc
    check_values(parsed)
    return parsed


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    # Inline nested definitions: "#/$defs/..." would not resolve inside the OpenAPI document.
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    # The document is OpenAPI 3.0: request bodies in its dialect, as the response models are.
    inlined: dict[str, Any] = to_openapi30(_inline(schema, defs))
    return inlined


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[-1]
            return _inline(defs.get(name, {}), defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _query_type(annotation: Any) -> type:
    """The documented type of a query parameter (ids are integers, flags booleans)."""
    for candidate in (bool, int):
        if annotation is candidate or annotation == candidate | None:
            return candidate
    return str


def _multipart_field(spec: str | tuple[str, str]) -> dict[str, Any]:
    """A file by default; ``(description, "text")`` is a plain form field, ``(description, "files")`` a repeated file."""
    description, kind = spec if isinstance(spec, tuple) else (spec, "file")
    if kind == "text":
        return {"type": "string", "description": description}
    if kind == "files":
        return {"type": "array", "items": {"type": "string", "format": "binary"}, "description": description}
    return {"type": "string", "format": "binary", "description": description}


def api(
    *,
    summary: str,
    tag: str,
    json: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    multipart: dict[str, str | tuple[str, str]] | None = None,
    description: str | None = None,
    parse_body: bool = True,
) -> Callable[[Handler], Handler]:
    """Validate the body/query into pydantic models (passed as ``body=``/``query=``) and document the route.

    ``parse_body=False`` documents the JSON body but leaves parsing to the handler (routes that also
    accept multipart with the JSON in a field).
    """

    def decorator(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            # Who is asking comes before what they sent: no token is 401, whatever the body.
            authenticate = getattr(handler, "__authenticate__", None)
            if authenticate is not None:
                refused = await authenticate(request)
                if isinstance(refused, HTTPResponse):
                    return refused
            if json is not None and parse_body:
                kwargs["body"] = parse_json(request, json)
            if query is not None:
                kwargs["query"] = parse_query(request, query)
            return await handler(request, *args, **kwargs)

        definition: dict[str, Any] = {"summary": summary, "tag": tag}
        if description:
            definition["description"] = description
        if json is not None:
            definition["body"] = {"application/json": _schema(json)}
        if multipart is not None:
            definition["body"] = {
                "multipart/form-data": {
                    "type": "object",
                    "properties": {name: _multipart_field(text) for name, text in multipart.items()},
                }
            }
        if response is not None:
            definition["response"] = {"application/json": _schema(response)}
        decorated = openapi.definition(**definition)(wrapper)
        if query is not None:
            for name, field in query.model_fields.items():
                decorated = openapi.parameter(name, _query_type(field.annotation), "query", required=field.is_required(), description=field.description or "")(decorated)
        return decorated

    return decorator
