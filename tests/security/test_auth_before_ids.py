"""Who is asking comes before which id they asked for: out-of-range ids are 401 to a stranger, 404 to a user.

Walks every route of the app with an integer path parameter, so a new route cannot slip past.
"""

from __future__ import annotations

import re

import httpx
from sanic import Sanic

from models.staff import Role
from tests.factories import make_county, staff_headers

HUGE = 2**31
_PARAM = re.compile(r"<([a-z_]+)(?::([a-z]+))?>")


def _int_routes(app: Sanic) -> list[tuple[str, str, bool]]:
    """(method, path with every int parameter out of range, route declares authentication)."""
    found = []
    for route in app.router.routes:
        path = "/" + route.path.lstrip("/")
        params = _PARAM.findall(path)
        if not any(kind == "int" for _, kind in params):
            continue
        concrete = _PARAM.sub(lambda m: str(HUGE) if m.group(2) == "int" else "x", path)
        declares = getattr(route.handler, "__authenticate__", None) is not None
        for method in sorted(route.methods):
            found.append((method, concrete, declares))
    return found


async def test_every_route_with_an_integer_id_authenticates_before_the_range_check(client: httpx.AsyncClient, app: Sanic) -> None:
    routes = _int_routes(app)
    assert len(routes) > 50
    unguarded = [(m, p) for m, p, declares in routes if not declares]
    # Every id-bearing route belongs to somebody: staff, a mini-program user or a console page.
    assert unguarded == [], unguarded
    for method, path, _ in routes:
        response = await client.request(method, path, follow_redirects=False)
        if path.startswith("/console/"):
            assert response.status_code == 302 and response.headers["location"].startswith("/console/login"), (method, path, response.status_code)
        else:
            assert response.status_code == 401, (method, path, response.status_code, response.text[:200])


async def test_a_signed_in_caller_still_gets_the_uniform_404(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    for path in (f"/api/beneficiaries/{HUGE}", f"/api/beneficiaries/imports/{HUGE}", f"/api/beneficiaries/{2**63}"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", (path, response.text)
    # In range but absent answers the same status as out of range.
    absent = await client.get(f"/api/beneficiaries/{HUGE - 1}", headers=headers)
    assert absent.status_code == 404


async def test_a_role_that_may_not_use_the_route_is_refused_before_the_id_is_judged(client: httpx.AsyncClient) -> None:
    county = await make_county()
    auditor = await staff_headers(client, role=Role.AUDITOR, unit=county.district)
    response = await client.post(f"/api/beneficiaries/{HUGE}/photos", headers=auditor)
    assert response.status_code == 403, response.text
