"""The console over plain HTTP (no browser): CSRF, scoping, lockout, session expiry, every page renders."""

from __future__ import annotations

import re
from datetime import date

import httpx
from sanic import Sanic

from models.cards import Shipment
from models.confirmation import DeathRecord, PublicNotice, ReviewItem, ReviewStatus
from models.org import OrgKind
from models.staff import Role
from server.actors import SYSTEM
from server.auth.scope import Scope
from server.confirmation import campaigns
from server.wechat.standin import StandinControl
from tests.confirmation.helpers import face_kit
from tests.confirmation.test_self_service import _bound_person, _challenge, _submit
from tests.factories import PASSWORD, make_beneficiary, make_county, make_staff


async def _post_login(client: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    """Submit the login form as a browser does: the page first (its CSRF cookie and hidden token)."""
    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return await client.post("/console/login", data={**data, "csrf_token": token.group(1)})


async def _console_login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await _post_login(client, {"username": username, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["location"] == "/console/"
    set_cookie = response.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    return {"Cookie": f"vets_session={response.cookies['vets_session']}"}


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


async def test_posts_without_the_csrf_token_are_refused_with_a_chinese_page(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    cookie = await _console_login(client, clerk.username)
    for data in ({"code": "ABCDEFGH"}, {"code": "ABCDEFGH", "csrf_token": "forged"}):
        refused = await client.post("/console/pickups/check-in", headers=cookie, data=data)
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
        assert "页面已过期，请刷新后重试" in refused.text and "Traceback" not in refused.text
    # With the token from the page, the same form is accepted (and the unknown code reported inline).
    token = _csrf((await client.get("/console/pickups", headers=cookie)).text)
    accepted = await client.post("/console/pickups/check-in", headers=cookie, data={"code": "ABCDEFGH", "csrf_token": token})
    assert accepted.status_code == 302 and "error=" in accepted.headers["location"]
    # Logging out also needs the token.
    assert (await client.post("/console/logout", headers=cookie)).status_code == 403
    assert (await client.post("/console/logout", headers=cookie, data={"csrf_token": token})).status_code == 302
    assert (await client.get("/console/", headers=cookie)).status_code == 302  # the session is gone


async def test_another_stations_review_item_is_a_404_page(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county, person, _, headers = await _bound_person(client, app, wechat_standin)
    challenge = await _challenge(client, headers, person.id)
    still = face_kit(app).frames_for(challenge["actions"])[0]
    assert (await _submit(client, headers, challenge["nonce"], [still, still, still])).json()["decision"] == "fail"
    item = await ReviewItem.get(confirmation__beneficiary_id=person.id)
    own = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_a)).username)
    other = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_b)).username)
    assert (await client.get(f"/console/reviews/{item.id}", headers=own)).status_code == 200
    assert person.name not in (await client.get("/console/reviews", headers=other)).text
    page = await client.get(f"/console/reviews/{item.id}", headers=other)
    assert page.status_code == 404 and "未找到该页面，或您无权查看" in page.text and person.name not in page.text
    assert (await client.get(f"/console/beneficiaries/{person.id}", headers=other)).status_code == 404
    # A decision posted into another station is refused and changes nothing.
    token = _csrf((await client.get("/console/reviews", headers=other)).text)
    refused = await client.post(f"/console/reviews/{item.id}/decide", headers={**other, "Referer": f"{app.ctx.test_base_url}/console/reviews"}, data={"csrf_token": token, "decision": "accept"})
    assert refused.status_code == 302 and "msg=" in refused.headers["location"]
    assert (await ReviewItem.get(id=item.id)).status == ReviewStatus.OPEN
    # The auditor reads the item but is offered no decision form.
    auditor = await _console_login(client, (await make_staff(role=Role.AUDITOR, unit=county.district)).username)
    read_only = await client.get(f"/console/reviews/{item.id}", headers=auditor)
    assert read_only.status_code == 200 and 'id="decide"' not in read_only.text


async def test_login_lockout_message(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    for _ in range(app.ctx.settings.security.max_login_failures):
        wrong = await _post_login(client, {"username": clerk.username, "password": "wrong-password"})
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    locked = await _post_login(client, {"username": clerk.username, "password": PASSWORD})
    assert locked.status_code == 401 and "临时锁定" in locked.text and "vets_session" not in locked.headers.get("set-cookie", "")
    empty = await _post_login(client, {"username": "", "password": ""})
    assert empty.status_code == 422 and "请输入用户名和密码" in empty.text


async def test_expired_session_goes_to_the_login_page_and_back(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    expired = await client.get("/console/reviews", headers={"Cookie": "vets_session=stale"})
    assert expired.status_code == 302 and expired.headers["location"] == "/console/login?expired=1&next=/console/reviews"
    login_page = await client.get(expired.headers["location"])
    assert "登录已超时，请重新登录" in login_page.text and 'value="/console/reviews"' in login_page.text
    back = await _post_login(client, {"username": clerk.username, "password": PASSWORD, "next": "/console/reviews"})
    assert back.headers["location"] == "/console/reviews"
    elsewhere = await _post_login(client, {"username": clerk.username, "password": PASSWORD, "next": "https://evil.example/"})
    assert elsewhere.headers["location"] == "/console/"  # never an open redirect


async def test_every_page_renders_in_chinese_and_stays_out_of_the_api_document(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="周德福")
    today = date.today()
    scope = Scope(role=Role.ADMIN, org_unit_id=county.district.id, org_kind=OrgKind.DISTRICT)
    campaign = await campaigns.create_campaign(scope=scope, actor=SYSTEM, year=today.year, name=None, district_id=county.district.id, dates=None, categories=None)
    await campaigns.open_campaign(scope=scope, actor=SYSTEM, campaign_id=campaign.id)
    await PublicNotice.create(campaign=campaign, station_id=None, entries=[], published_on=today)
    await DeathRecord.create(beneficiary=person, death_date=today, source="funeral", import_sha256="x", overpaid_months=2, overpayment_amount="1600.00", status="outstanding")
    await Shipment.create(district=county.district, tracking_number="SF-page", expected_count=3, counted_count=2, envelope_intact=False, cards_intact=True, status="refused", damage_description="破损", report_to="省退役军人服务中心", received_by_staff_id=0)
    bureau = await _console_login(client, (await make_staff(role=Role.BUREAU, unit=county.district)).username)
    page = await client.get(f"/console/campaigns/{campaign.id}", headers=bureau)
    assert page.status_code == 200
    assert "全县" in page.text and "1600.00" in page.text and "殡葬" in page.text and "本年度尚未抽查" in page.text
    assert page.text.count("<svg") == 2 and "<script src" not in page.text and "http://" not in page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    shipments_page = await client.get("/console/shipments", headers=bureau)
    assert shipments_page.status_code == 200 and "SF-page" in shipments_page.text and "拒收" in shipments_page.text
    overpayments_page = (await client.get("/console/overpayments", headers=bureau)).text
    assert "1600.00" in overpayments_page and "殡葬" in overpayments_page
    for path in ("/console/", "/console/reviews", "/console/reviews?status=rejected", "/console/beneficiaries?q=周", f"/console/beneficiaries/{person.id}", "/console/campaigns", "/console/cards?status=all", "/console/pickups", "/console/reports"):
        response = await client.get(path, headers=bureau)
        assert response.status_code == 200, path
        assert "周德福" in response.text or path not in ("/console/beneficiaries?q=周", f"/console/beneficiaries/{person.id}")
        for code in ("pending", "in_review", "draft", "implementation", "funeral"):
            assert f">{code}<" not in response.text, (path, code)  # no raw English codes reach the clerk
    # Another district's centre sees neither the shipment nor the campaign.
    other = await make_county("U")
    centre = await _console_login(client, (await make_staff(role=Role.CENTRE, unit=other.district)).username)
    assert "SF-page" not in (await client.get("/console/shipments", headers=centre)).text
    assert (await client.get(f"/console/campaigns/{campaign.id}", headers=centre)).status_code == 404
    assert (await client.get("/console/reports/monthly/999/xlsx", headers=bureau)).status_code == 404
    css = await client.get("/console/static/console.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    document = (await client.get("/docs/openapi.json")).json()
    assert not [p for p in document["paths"] if p.startswith("/console")]
