"""The calendar through HTTP: provisional deadlines shown as such, overrides and year confirmation by an
administrator, a face check going to review across New Year, and the console warning."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
from sanic import Sanic

from models.calendar import CalendarOverride
from models.confirmation import ReviewItem
from models.staff import Role
from server import clock
from server.wechat.standin import StandinControl
from tests.confirmation.helpers import face_kit
from tests.confirmation.test_self_service import _bound_person, _challenge, _submit
from tests.console.test_console_http import _console_login
from tests.factories import make_county, make_staff, staff_headers


def _freeze_china_time(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    # The server's clock is moved, not patched: the conftest resets its offset after each test.
    clock.set_offset(moment - datetime.now(UTC))


async def test_deadline_across_new_year_is_provisional_until_the_year_is_confirmed(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    admin = await staff_headers(client, role=Role.ADMIN, unit=county.district)
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)

    first = (await client.get("/api/calendar/deadline?start=2026-12-25&working_days=7", headers=clerk)).json()
    assert first["due"] == "2027-01-06" and first["provisional"] and first["basis"] == "provisional"

    # The State Council's notice: say 2 January 2027 (a Saturday) is a make-up working day.
    assert (await client.put("/api/calendar/overrides", headers=clerk, json={"day": "2027-01-02", "is_working_day": True})).status_code == 403
    saved = await client.put("/api/calendar/overrides", headers=admin, json={"day": "2027-01-02", "is_working_day": True, "note": "元旦调休上班"})
    assert saved.status_code == 200
    second = (await client.get("/api/calendar/deadline?start=2026-12-25&working_days=7", headers=clerk)).json()
    assert second["due"] == "2027-01-05" and second["provisional"]

    confirmed = await client.put("/api/calendar/years/2027", headers=admin, json={"source": "国办发明电〔2026〕7号"})
    assert confirmed.status_code == 200, confirmed.text
    third = (await client.get("/api/calendar/deadline?start=2026-12-25&working_days=7", headers=clerk)).json()
    assert third["due"] == "2027-01-05" and not third["provisional"] and third["basis"] == "official"
    status = (await client.get("/api/calendar", headers=clerk)).json()
    assert {y["year"]: y["provisional"] for y in status["years"]}[2027] is False
    assert [o["day"] for o in status["overrides"]] == ["2027-01-02"]

    assert (await client.delete("/api/calendar/years/2027", headers=admin)).status_code == 200
    assert (await client.delete("/api/calendar/overrides/2027-01-02", headers=admin)).status_code == 200
    assert not await CalendarOverride.exists()
    assert (await client.get("/api/calendar/deadline?start=2026-12-25&working_days=7", headers=clerk)).json()["due"] == "2027-01-06"
    missing = await client.delete("/api/calendar/overrides/2027-01-09", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "override_not_found"
    bad = await client.delete("/api/calendar/overrides/not-a-date", headers=admin)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_date"


async def test_a_face_check_going_to_review_on_30_december_2026_succeeds(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl, monkeypatch: pytest.MonkeyPatch) -> None:
    county, person, _, headers = await _bound_person(client, app, wechat_standin)
    _freeze_china_time(monkeypatch, datetime.fromisoformat("2026-12-30T10:00:00+08:00"))
    challenge = await _challenge(client, headers, person.id)
    still = face_kit(app).frames_for(challenge["actions"])[0]
    response = await _submit(client, headers, challenge["nonce"], [still, still, still])
    assert response.status_code == 201, response.text
    assert response.json()["decision"] == "fail"
    item = await ReviewItem.get(confirmation__beneficiary_id=person.id)
    assert date(2027, 1, 1) < item.due_date < date(2027, 1, 31)
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    queue = (await client.get("/api/review-items", headers=clerk)).json()["items"]
    assert queue[0]["due_date"] == item.due_date.isoformat() and queue[0]["due_provisional"] is True
    # The console's queue says the due date is provisional.
    console_clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    page = (await client.get("/console/reviews", headers=await _console_login(client, console_clerk.username))).text
    assert item.due_date.isoformat() in page and "暂定" in page


async def test_console_warns_from_1_november_while_next_year_is_provisional(client: httpx.AsyncClient, app: Sanic, monkeypatch: pytest.MonkeyPatch) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    admin = await staff_headers(client, role=Role.ADMIN, unit=county.district)
    cookie = await _console_login(client, clerk.username)

    _freeze_china_time(monkeypatch, datetime.fromisoformat("2026-10-31T09:00:00+08:00"))
    assert "工作日历提示" not in (await client.get("/console/", headers=cookie)).text

    _freeze_china_time(monkeypatch, datetime.fromisoformat("2026-11-01T09:00:00+08:00"))
    page = (await client.get("/console/", headers=cookie)).text
    assert "工作日历提示" in page and "2027年节假日及调休安排尚未确认" in page

    assert (await client.put("/api/calendar/years/2027", headers=admin, json={"source": "国办发明电〔2026〕7号"})).status_code == 200
    assert "工作日历提示" not in (await client.get("/console/", headers=cookie)).text
