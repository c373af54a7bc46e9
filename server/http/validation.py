"""Request parsing: pydantic models for bodies and queries, documented in the OpenAPI document.

Validation errors become 422 ``validation_failed`` with the failing fields listed, so a client can
point at the exact input to fix.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sanic import Request
from sanic_ext import openapi

from server.errors import BadRequest, ValidationFailed

M = TypeVar("M", bound=BaseModel)
Handler = Callable[..., Awaitable[Any]]


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
    try:
        data = jsonlib.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("请求体不是有效的JSON", code="invalid_json") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(fields=_field_errors(exc)) from exc


def parse_query(request: Request, model: type[M]) -> M:
    data: dict[str, Any] = {}
    for key, values in request.args.items():
        field = model.model_fields.get(key)
        is_list = field is not None and "list" in str(field.annotation).lower()
        data[key] = values if is_list else values[-1]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(fields=_field_errors(exc)) from exc


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    # Inline nested definitions: "#/$defs/..." would not resolve inside the OpenAPI document.
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return _inline(schema, defs)


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
                await authenticate(request)
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
