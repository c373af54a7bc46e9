from __future__ import annotations

import httpx
from sanic import Sanic


async def test_openapi_document_covers_every_api_route(client: httpx.AsyncClient, app: Sanic) -> None:
    response = await client.get("/docs/openapi.json")
    assert response.status_code == 200
    document = response.json()
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    missing = []
    for route in app.router.routes:
        path = "/" + route.path.lstrip("/")
        if not (path.startswith("/api") or path in ("/healthz", "/readyz")):
            continue
        oas_path = "/".join("{" + part[1:-1].split(":")[0] + "}" if part.startswith("<") else part for part in path.split("/"))
        for method in route.methods:
            if method in ("HEAD", "OPTIONS"):
                continue
            if (oas_path, method) not in documented and (oas_path.rstrip("/"), method) not in documented:
                missing.append(f"{method} {oas_path}")
    assert not missing, missing
    login = document["paths"]["/api/staff/login"]["post"]
    assert "requestBody" in login
