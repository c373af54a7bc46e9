"""Hostile query strings on console pages: an answer, never a server error."""

from __future__ import annotations

import re

import httpx

from models.staff import Role
from tests.factories import PASSWORD, make_beneficiary, make_county, make_staff


async def test_console_pages_survive_hostile_query_strings(client: httpx.AsyncClient) -> None:
    county = await make_county()
    await make_beneficiary(station=county.station_a)
    clerk = await make_staff(role=Role.BUREAU, unit=county.district)
    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    login = await client.post("/console/login", data={"username": clerk.username, "password": PASSWORD, "csrf_token": token})
    cookie = {"Cookie": f"vets_session={login.cookies['vets_session']}"}
    hostile = ["99999999999999", "²", "-1", "１２", "%00", "\x00", "x" * 5000, "' OR 1=1 --", "[]", "{}", "\u202e"]
    for path in ("/console/beneficiaries", "/console/reviews", "/console/cards", "/console/campaigns", "/console/pickups", "/console/reports", "/console/"):
        for value in hostile:
            params = {"page": value, "q": value, "status": value, "msg": value, "error": value}
            response = await client.get(path, params=params, headers=cookie)
            assert response.status_code < 500, (path, value, response.status_code)
    for path in ("/console/beneficiaries/2147483648", "/console/reviews/99999999999", "/console/campaigns/-5"):
        assert (await client.get(path, headers=cookie)).status_code < 500
