"""Check HTTP responses against the OpenAPI document the app publishes (not against our own models).

The document is OpenAPI 3.0; ``nullable`` is turned into JSON Schema's ``null`` type before the
schema goes to jsonschema-rs (installed with schemathesis).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs


def _json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: (_json_schema(value) if key not in ("example", "default", "enum") else value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


class Contract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = _json_schema(document.get("components", {}).get("schemas", {}))
        self._paths = [(re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", path) + "$"), path) for path in document["paths"]]

    @classmethod
    async def load(cls, client: httpx.AsyncClient) -> Contract:
        response = await client.get("/docs/openapi.json")
        assert response.status_code == 200
        return cls(response.json())

    def operation(self, method: str, path: str) -> dict[str, Any]:
        matches = [template for pattern, template in self._paths if pattern.match(path)]
        # A literal segment beats a parameter (/cards/mine before /cards/{id}).
        matches.sort(key=lambda template: template.count("{"))
        assert matches, f"{path} is not in the published document"
        operation = self.document["paths"][matches[0]].get(method.lower())
        assert operation is not None, f"{method} {matches[0]} is not in the published document"
        return operation

    def check(self, response: httpx.Response) -> Any:
        """The response's JSON after asserting it matches the schema published for its status."""
        request = response.request
        operation = self.operation(request.method, request.url.path)
        documented = operation.get("responses", {})
        assert str(response.status_code) in documented, f"{request.method} {request.url.path} answered {response.status_code}, documented: {sorted(documented)}; body: {response.text[:300]}"
        schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
        body = response.json()
        validator = jsonschema_rs.validator_for({"allOf": [_json_schema(schema)], "components": {"schemas": self.components}})
        errors = [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(body)]
        assert not errors, f"{request.method} {request.url.path} {response.status_code} breaks its published schema: {errors[:5]}"
        return body
