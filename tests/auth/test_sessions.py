"""Sessions end with the account: deactivation, password change, must-change-password; lockout per address."""

from __future__ import annotations

import httpx
from sanic import Sanic

from models.staff import Role, Staff
from server.auth import service
from server.errors import Unauthorized
from tests.factories import PASSWORD, login, make_county, make_staff


async def test_deactivated_account_token_is_refused_at_once(client: httpx.AsyncClient) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    admin = await make_staff(role=Role.ADMIN, unit=county.city)
    headers = await login(client, clerk)
    admin_headers = await login(client, admin)
    assert (await client.get("/api/beneficiaries/", headers=headers)).status_code == 200
    deactivated = await client.post(f"/api/admin/staff/{clerk.id}/active", headers=admin_headers, json={"active": False})
    assert deactivated.status_code == 200, deactivated.text
    refused = await client.get("/api/beneficiaries/", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "session_revoked"
    # Reactivating does not bring the old session back: it was ended.
    await Staff.filter(id=clerk.id).update(is_active=True)
    assert (await client.get("/api/beneficiaries/", headers=headers)).status_code == 401
    assert (await client.get("/api/staff/me", headers=admin_headers)).status_code == 200


async def test_role_or_unit_change_ends_sessions(client: httpx.AsyncClient) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    headers = await login(client, clerk)
    await Staff.filter(id=clerk.id).update(org_unit_id=county.station_b.id)
    assert (await client.get("/api/staff/me", headers=headers)).status_code == 401


async def test_password_change_ends_every_other_session(client: httpx.AsyncClient) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.BUREAU, unit=county.district)
    first = await login(client, clerk)
    second = await login(client, clerk)
    changed = await client.post("/api/staff/password", headers=first, json={"old_password": PASSWORD, "new_password": "another-long-secret"})
    assert changed.status_code == 200
    fresh = {"Authorization": f"Bearer {changed.json()['token']}"}
    for old in (first, second):
        assert (await client.get("/api/staff/me", headers=old)).status_code == 401
    assert (await client.get("/api/staff/me", headers=fresh)).status_code == 200
    same = await client.post("/api/staff/password", headers=fresh, json={"old_password": "another-long-secret", "new_password": "another-long-secret"})
    assert same.status_code == 422


async def test_must_change_password_allows_nothing_else(client: httpx.AsyncClient) -> None:
    county = await make_county()
    admin = await make_staff(role=Role.ADMIN, unit=county.city)
    await Staff.filter(id=admin.id).update(must_change_password=True)
    headers = await login(client, admin)
    blocked = await client.get("/api/beneficiaries/", headers=headers)
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "password_change_required"
    assert (await client.get("/api/staff/me", headers=headers)).status_code == 200
    changed = await client.post("/api/staff/password", headers=headers, json={"old_password": PASSWORD, "new_password": "admin-chosen-secret"})
    assert changed.status_code == 200
    fresh = {"Authorization": f"Bearer {changed.json()['token']}"}
    assert (await client.get("/api/beneficiaries/", headers=fresh)).status_code == 200


async def _attempt(app: Sanic, username: str, password: str, source: str) -> bool:
    try:
        await service.login(kv=app.ctx.kv, security=app.ctx.settings.security, username=username, password=password, source=source)
    except Unauthorized as exc:
        assert exc.code == "invalid_credentials"
        return False
    return True


async def test_a_stranger_cannot_lock_a_clerk_out_from_another_address(app: Sanic) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    for _ in range(app.ctx.settings.security.max_login_failures):
        assert not await _attempt(app, clerk.username, "guess", "203.0.113.9")
    assert not await _attempt(app, clerk.username, PASSWORD, "203.0.113.9")  # that address is locked out
    assert await _attempt(app, clerk.username, PASSWORD, "10.1.2.3")  # the clerk's own desk is not


async def test_one_address_guessing_many_accounts_is_throttled(app: Sanic) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    for n in range(app.ctx.settings.security.max_login_failures_per_source):
        assert not await _attempt(app, f"someone{n}", "guess", "198.51.100.7")
    assert not await _attempt(app, clerk.username, PASSWORD, "198.51.100.7")
    assert await _attempt(app, clerk.username, PASSWORD, "10.1.2.3")


async def test_console_login_form_needs_its_csrf_token(client: httpx.AsyncClient) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    forged = await client.post("/console/login", data={"username": clerk.username, "password": PASSWORD})
    assert forged.status_code == 403 and "vets_session" not in forged.headers.get("set-cookie", "")
    page = await client.get("/console/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    cross_site = await client.post("/console/login", data={"username": clerk.username, "password": PASSWORD, "csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    genuine = await client.post("/console/login", data={"username": clerk.username, "password": PASSWORD, "csrf_token": token})
    assert genuine.status_code == 302 and "vets_session" in genuine.headers["set-cookie"]
