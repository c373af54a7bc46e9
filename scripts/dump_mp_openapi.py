"""Write the mini-program part of the served OpenAPI document (paths under /api/mp, the components
they use, the security scheme) to a file: the input of mp_client's TypeScript types.

    python scripts/dump_mp_openapi.py mp_client/openapi.json

The app is started against a throw-away SQLite database (nothing else is needed) and the document
is read from /docs/openapi.json, exactly as the front-end team would.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sanic import Sanic  # noqa: E402

from server import db  # noqa: E402
from server.app import create_app  # noqa: E402
from server.config import Settings  # noqa: E402


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values())) if node else found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def mini_program_document(document: dict[str, Any]) -> dict[str, Any]:
    # Sorted throughout: the route table's order varies between runs, the committed file must not.
    paths = {
        path: {method: {**op, "responses": dict(sorted(op["responses"].items()))} for method, op in sorted(ops.items())}
        for path, ops in document["paths"].items()
        if path.startswith("/api/mp/")
    }
    schemas = document.get("components", {}).get("schemas", {})
    wanted, todo = set(), _refs(paths)
    while todo:
        name = todo.pop()
        if name not in wanted and name in schemas:
            wanted.add(name)
            todo |= _refs(schemas[name])
    components = {"schemas": {name: schemas[name] for name in sorted(wanted)}, "securitySchemes": document["components"]["securitySchemes"]}
    return {**{k: v for k, v in document.items() if k not in ("paths", "components", "tags")}, "paths": dict(sorted(paths.items())), "components": components}


def main(out: Path) -> None:
    Sanic.test_mode = True
    url = "sqlite://" + os.path.join(tempfile.mkdtemp(), "openapi.sqlite3")
    asyncio.run(db.apply_migrations(url))
    # Template ids are per environment and not part of the document: the start-up check only warns here.
    app = create_app(Settings(environment="development", log_json=False, face={"enabled": False}, run_background_jobs=False, database={"url": url}))
    _, response = app.test_client.get("/docs/openapi.json")
    document = mini_program_document(response.json)
    out.write_text(json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{out}: {len(document['paths'])} paths, {len(document['components']['schemas'])} schemas")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "mp_client/openapi.json"))
