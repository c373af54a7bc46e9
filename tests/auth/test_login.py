from __future__ import annotations

import httpx

from models.staff import Role
from tests.factories import PASSWORD, login, make_county, make_staff


async def test_login_me_logout(client: httpx.AsyncClient) -> None:
    county = await make_county()
    staff = await make_staff(role=Role.STATION, unit=county.station_a)
    headers = await login(client, staff)
    me = await client.get("/api/staff/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["role"] == "station"
    assert me.json()["org_unit_id"] == county.station_a.id
    out = await client.post("/api/staff/logout", headers=headers)
    assert out.status_code == 200
    again = await client.get("/api/staff/me", headers=headers)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "session_expired"


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    county = await make_county()
    staff = await make_staff(role=Role.STATION, unit=county.station_a)
    wrong = await client.post("/api/staff/login", json={"username": staff.username, "password": "nope"})
    unknown = await client.post("/api/staff/login", json={"username": "ghost", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_lockout_after_repeated_failures_looks_like_any_failure(client: httpx.AsyncClient) -> None:
    county = await make_county()
    staff = await make_staff(role=Role.STATION, unit=county.station_a)
    for _ in range(3):  # test settings: max_login_failures=3
        response = await client.post("/api/staff/login", json={"username": staff.username, "password": "bad"})
        assert response.status_code == 401
    locked = await client.post("/api/staff/login", json={"username": staff.username, "password": PASSWORD})
    unknown = await client.post("/api/staff/login", json={"username": "nobody-here", "password": PASSWORD})
    # No 423: a locked account answers exactly like a wrong password or an unknown username.
    assert locked.status_code == unknown.status_code == 401
    assert locked.json() == unknown.json()


async def test_no_token_is_401_and_garbage_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/beneficiaries/")).status_code == 401
    response = await client.get("/api/beneficiaries/", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401


async def test_cookie_session_requires_csrf_token_for_writes(client: httpx.AsyncClient) -> None:
    county = await make_county()
    staff = await make_staff(role=Role.STATION, unit=county.station_a)
    response = await client.post("/api/staff/login", json={"username": staff.username, "password": PASSWORD})
    csrf = response.json()["session"]["csrf_token"]
    cookie = {"Cookie": f"vets_session={response.json()['token']}"}
    assert (await client.get("/api/staff/me", headers=cookie)).status_code == 200
    refused = await client.post("/api/staff/logout", headers=cookie)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    accepted = await client.post("/api/staff/logout", headers={**cookie, "X-CSRF-Token": csrf})
    assert accepted.status_code == 200


async def test_change_password(client: httpx.AsyncClient) -> None:
    county = await make_county()
    staff = await make_staff(role=Role.BUREAU, unit=county.district)
    headers = await login(client, staff)
    short = await client.post("/api/staff/password", headers=headers, json={"old_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422
    ok = await client.post("/api/staff/password", headers=headers, json={"old_password": PASSWORD, "new_password": "a-much-longer-secret"})
    assert ok.status_code == 200
    await login(client, staff, "a-much-longer-secret")
