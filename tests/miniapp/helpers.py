from __future__ import annotations

import httpx

from server.wechat.standin import StandinControl


async def mini_login(client: httpx.AsyncClient, standin: StandinControl, openid: str) -> dict[str, str]:
    code = await standin.issue_code(openid=openid)
    response = await client.post("/api/mp/login", json={"code": code.code})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def grant_quota(client: httpx.AsyncClient, headers: dict[str, str], *template_keys: str) -> None:
    results = {f"TPL-{key}": "accept" for key in template_keys}
    response = await client.post("/api/mp/subscriptions", headers=headers, json={"results": results})
    assert response.status_code == 200, response.text
