"""The staff console in a real browser: log in, decide a face check, approve suspensions, check in a pickup."""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import httpx
from sanic import Sanic

from models.cards import Booking, BookingStatus, Card, CardStatus, PickupSlot
from models.confirmation import PublicNotice, ReviewItem, ReviewStatus, SuspensionProposal, SuspensionStatus
from models.org import OrgKind
from models.registry import Beneficiary, PaymentStatus
from models.staff import Role
from server.actors import SYSTEM
from server.auth.scope import Scope
from server.cards import booking
from server.confirmation import campaigns, suspensions
from server.wechat.standin import StandinControl
from tests.cards.helpers import bind, mini_headers, ready_card
from tests.confirmation.test_self_service import _bound_person, _challenge, _submit
from tests.confirmation.helpers import face_kit
from tests.console.conftest import shot
from tests.factories import PASSWORD, make_beneficiary, make_county, make_staff

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def _login(page, app: Sanic, username: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    await page.goto(app.ctx.test_base_url + "/console/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/console/")


async def test_login_and_home(page, app: Sanic) -> None:  # type: ignore[no-untyped-def]
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    await page.goto(app.ctx.test_base_url + "/console/login")
    await page.fill("#username", clerk.username)
    await page.fill("#password", "wrong")
    await page.click("button[type=submit]")
    assert "用户名或密码错误" in await page.inner_text(".msg")
    await _login(page, app, clerk.username)
    assert "今日待办" in await page.inner_text("h1")
    await page.screenshot(path=shot("home"), full_page=True)


async def test_decide_a_failed_face_check_from_the_keyboard(page, client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:  # type: ignore[no-untyped-def]
    county, person, _, headers = await _bound_person(client, app, wechat_standin)
    challenge = await _challenge(client, headers, person.id)
    frames = face_kit(app).frames_for(challenge["actions"], other=True)
    assert (await _submit(client, headers, challenge["nonce"], frames)).json()["decision"] == "fail"
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    await _login(page, app, clerk.username)
    await page.click("text=人脸核验")
    await page.click(f"text={person.name}")
    await page.wait_for_selector("img[alt='身份证照片']")
    assert "与身份证照片不一致" in await page.inner_text("main")
    await page.screenshot(path=shot("review-queue"), full_page=True)
    if os.environ.get("VETS_UPDATE_SCREENSHOTS") == "1":  # refresh the README's picture deliberately
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot("review-queue"), DOCS_SCREENSHOTS / "review-queue.png")
    await page.keyboard.press("r")
    await page.keyboard.type("人脸与身份证不符，请到站办理")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/reviews?msg=*")
    assert "已退回" in await page.inner_text(".flash")
    item = await ReviewItem.get(confirmation__beneficiary_id=person.id)
    assert item.status == ReviewStatus.REJECTED and item.reason == "人脸与身份证不符，请到站办理"


async def test_bureau_approves_a_suspension_batch(page, app: Sanic) -> None:  # type: ignore[no-untyped-def]
    county = await make_county()
    people = [await make_beneficiary(station=county.station_a, name=n) for n in ("赵大", "钱二", "孙三")]
    today = date.today()
    scope = Scope(role=Role.ADMIN, org_unit_id=county.district.id, org_kind=OrgKind.DISTRICT)
    dates = campaigns.CampaignDates(today - timedelta(days=100), today - timedelta(days=120), today - timedelta(days=111), today - timedelta(days=110), today - timedelta(days=63), today - timedelta(days=62), today + timedelta(days=30), today - timedelta(days=50), today - timedelta(days=45))
    campaign = await campaigns.create_campaign(scope=scope, actor=SYSTEM, year=today.year, name=None, district_id=county.district.id, dates=dates, categories=None)
    await campaigns.open_campaign(scope=scope, actor=SYSTEM, campaign_id=campaign.id)
    entries = [{"station": "", "name": p.name, "id_number": p.id_number_masked, "category": "", "beneficiary_id": p.id} for p in people]
    await PublicNotice.create(campaign=campaign, station_id=county.station_a.id, entries=entries, published_on=today - timedelta(days=61))
    assert await suspensions.propose_suspensions(scope=scope, actor=SYSTEM, campaign_id=campaign.id) == 3
    bureau = await make_staff(role=Role.BUREAU, unit=county.district)
    await _login(page, app, bureau.username)
    await page.goto(app.ctx.test_base_url + f"/console/campaigns/{campaign.id}")
    await page.check("#all")
    await page.screenshot(path=shot("suspensions"), full_page=True)
    await page.click("#approve")
    await page.wait_for_url("**?msg=*")
    assert "已批准暂停发放 3 人" in await page.inner_text(".flash")
    assert await SuspensionProposal.filter(status=SuspensionStatus.APPROVED).count() == 3
    assert {p.payment_status for p in await Beneficiary.filter(id__in=[p.id for p in people])} == {PaymentStatus.SUSPENDED}


async def test_check_in_a_pickup_by_typed_code(page, app: Sanic) -> None:  # type: ignore[no-untyped-def]
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    card = await ready_card(app, person, tracking="SF-console")
    user, _ = await mini_headers(app, "o-console-pickup")
    await bind(user, person)
    slot = await PickupSlot.create(station_id=county.station_a.id, day=date.today() + timedelta(days=2), start_time="09:00", end_time="10:00", capacity=5)
    made, _ = await booking.book(settings=app.ctx.settings, user=user, card_id=card.id, slot_id=slot.id, idempotency_key="console")
    await PickupSlot.filter(id=slot.id).update(day=date.today())  # the appointment is today
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    await _login(page, app, clerk.username)
    await page.click("text=领证签到")
    assert made.short_code in await page.inner_text("table")
    await page.fill("#code", made.short_code.lower())
    await page.click("#checkin")
    await page.wait_for_url("**?msg=*")
    assert "签到成功" in await page.inner_text(".flash")
    await page.screenshot(path=shot("pickups"), full_page=True)
    assert (await Booking.get(id=made.id)).status == BookingStatus.CHECKED_IN
    assert (await Card.get(id=card.id)).status == CardStatus.DELIVERED


async def test_console_posts_need_the_csrf_token_and_respect_scoping(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    login = await client.post("/console/login", data={"username": clerk.username, "password": PASSWORD})
    assert login.status_code == 302
    cookie = {"Cookie": f"vets_session={login.cookies['vets_session']}"}
    refused = await client.post("/console/pickups/check-in", headers=cookie, data={"code": "ABCDEFGH"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    expired = await client.get("/console/", headers={"Cookie": "vets_session=stale"})
    assert expired.status_code == 302 and expired.headers["location"].endswith("expired=1")
    other = await make_beneficiary(station=county.station_b)
    page = await client.get(f"/console/beneficiaries/{other.id}", headers=cookie)
    assert page.status_code == 404 and "无权查看" in page.text


async def test_campaign_and_card_pages_render_their_lists(client: httpx.AsyncClient, app: Sanic) -> None:
    from models.cards import Shipment
    from models.confirmation import DeathRecord

    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="周德福")
    today = date.today()
    scope = Scope(role=Role.ADMIN, org_unit_id=county.district.id, org_kind=OrgKind.DISTRICT)
    campaign = await campaigns.create_campaign(scope=scope, actor=SYSTEM, year=today.year, name=None, district_id=county.district.id, dates=None, categories=None)
    await campaigns.open_campaign(scope=scope, actor=SYSTEM, campaign_id=campaign.id)
    await PublicNotice.create(campaign=campaign, station_id=None, entries=[], published_on=today)
    await DeathRecord.create(beneficiary=person, death_date=today, source="funeral", import_sha256="x", overpaid_months=2, overpayment_amount="1600.00", status="outstanding")
    await Shipment.create(district=county.district, tracking_number="SF-page", expected_count=3, counted_count=2, envelope_intact=False, cards_intact=True, status="refused", damage_description="破损", report_to="省退役军人服务中心", received_by_staff_id=0)
    bureau = await make_staff(role=Role.BUREAU, unit=county.district)
    login = await client.post("/console/login", data={"username": bureau.username, "password": PASSWORD})
    cookie = {"Cookie": f"vets_session={login.cookies['vets_session']}"}
    page = await client.get(f"/console/campaigns/{campaign.id}", headers=cookie)
    assert page.status_code == 200
    assert "全县" in page.text and "1600.00" in page.text and "殡葬" in page.text and "本年度尚未抽查" in page.text
    cards_page = await client.get("/console/cards", headers=cookie)
    assert cards_page.status_code == 200 and "SF-page" in cards_page.text and "拒收" in cards_page.text
    for path in ("/console/", "/console/reviews", "/console/beneficiaries?q=周", f"/console/beneficiaries/{person.id}", "/console/campaigns", "/console/pickups", "/console/reports"):
        response = await client.get(path, headers=cookie)
        assert response.status_code == 200, path
