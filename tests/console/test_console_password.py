"""A new account's one-time password is changed in the console before any work: the first admin's path."""

from __future__ import annotations

import httpx
from sanic import Sanic

from models.staff import Role, Staff
from tests.console.test_console_http import _console_login, _csrf
from tests.factories import PASSWORD, make_county, make_staff


async def test_a_one_time_password_is_changed_in_the_console_before_anything_else(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    await Staff.filter(id=clerk.id).update(must_change_password=True)
    cookie = await _console_login(client, clerk.username)

    # Any page sends the clerk to the password form first.
    home = await client.get("/console/", headers=cookie)
    assert home.status_code == 302 and home.headers["location"] == "/console/password"
    form = await client.get("/console/password", headers=cookie)
    assert form.status_code == 200 and "请先设置您自己的密码" in form.text
    token = _csrf(form.text)

    mismatch = await client.post("/console/password", headers=cookie, data={"csrf_token": token, "old_password": PASSWORD, "new_password": "Station-New-2026!", "new_password_again": "Station-New-2027!"})
    assert mismatch.status_code == 422 and "两次输入的新密码不一致" in mismatch.text
    wrong = await client.post("/console/password", headers=cookie, data={"csrf_token": token, "old_password": "not-my-password", "new_password": "Station-New-2026!", "new_password_again": "Station-New-2026!"})
    assert wrong.status_code == 401 and "原密码错误" in wrong.text

    changed = await client.post("/console/password", headers=cookie, data={"csrf_token": token, "old_password": PASSWORD, "new_password": "Station-New-2026!", "new_password_again": "Station-New-2026!"})
    assert changed.status_code == 302 and changed.headers["location"].startswith("/console/?msg=")
    fresh = {"Cookie": f"vets_session={changed.cookies['vets_session']}"}
    assert (await client.get("/console/", headers=fresh)).status_code == 200
    # The old session ended with the password change.
    assert (await client.get("/console/", headers=cookie)).headers["location"].startswith("/console/login")
    assert not (await Staff.get(id=clerk.id)).must_change_password
