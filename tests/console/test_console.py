"""The staff console in a real browser: log in, decide a face check from the keyboard, approve a
suspension batch, check in a pickup by typed code. Every set-up goes through the real services (the
failed face check through the mini-program API, as a phone would send it)."""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import httpx
from sanic import Sanic

from models.audit import AuditEntry
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
from tests.confirmation.helpers import face_kit
from tests.confirmation.test_self_service import _bound_person, _challenge, _submit
from server.labels import china_now
from tests.console.conftest import shot
from tests.factories import PASSWORD, make_beneficiary, make_county, make_staff

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def _login(page, app: Sanic, username: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    await page.goto(app.ctx.test_base_url + "/console/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/console/")


async def _failed_still_check(client: httpx.AsyncClient, app: Sanic, standin: StandinControl):  # type: ignore[no-untyped-def]
    """A bound person sends the same still three times: a replay, which fails into the station's queue."""
    county, person, _, headers = await _bound_person(client, app, standin)
    challenge = await _challenge(client, headers, person.id)
    still = face_kit(app).frames_for(challenge["actions"])[0]
    result = (await _submit(client, headers, challenge["nonce"], [still, still, still])).json()
    assert result["decision"] == "fail" and "replay" in result["reasons"]
    return county, person


async def test_login_home_and_logout(page, app: Sanic) -> None:  # type: ignore[no-untyped-def]
    county = await make_county()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    await page.goto(app.ctx.test_base_url + "/console/login")
    await page.fill("#username", clerk.username)
    await page.fill("#password", "wrong")
    await page.click("button[type=submit]")
    assert "用户名或密码错误" in await page.inner_text(".msg")
    assert await page.input_value("#username") == clerk.username  # the clerk only retypes the password
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/console/")
    assert "今日待办" in await page.inner_text("h1")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "vets_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # The stylesheet is served locally (nothing loads from the internet).
    assert await page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor") == "rgb(179, 38, 30)"
    await page.screenshot(path=shot("home"), full_page=True)
    await page.click("header.top button:has-text('退出')")
    await page.wait_for_url("**/console/login?bye=1")
    assert "已安全退出" in await page.inner_text(".msg")
    await page.goto(app.ctx.test_base_url + "/console/reviews")
    await page.wait_for_url(lambda url: "/console/login?expired=1" in url)
    assert "登录已超时" in await page.inner_text(".msg")


async def test_decide_a_failed_face_check_from_the_keyboard(page, client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:  # type: ignore[no-untyped-def]
    county, person = await _failed_still_check(client, app, wechat_standin)
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    await _login(page, app, clerk.username)
    await page.click("nav >> text=人脸核验")
    assert person.name in await page.inner_text("#queue")
    assert "疑似翻拍或重复画面" in await page.inner_text("#queue")
    await page.keyboard.press("Enter")  # the first row is selected; Enter opens it
    await page.wait_for_url("**/console/reviews/*")
    # The ID photo and the submitted frames are shown side by side, loaded through the scoped API.
    await page.wait_for_selector("img[alt='身份证照片']")
    loaded = await page.evaluate("Array.from(document.querySelectorAll('.photos img')).map(i => i.complete && i.naturalWidth > 0)")
    assert loaded == [True] * 4, loaded  # one ID photo, three frames
    main = await page.inner_text("main")
    assert "疑似翻拍或重复画面" in main and "认证记录" in main
    assert "通过" in await page.inner_text(".shortcuts")  # the keyboard shortcuts are shown on the page
    await page.screenshot(path=shot("review-queue"), full_page=True)
    if os.environ.get("VETS_UPDATE_SCREENSHOTS") == "1":  # refresh the README's picture deliberately
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot("review-queue"), DOCS_SCREENSHOTS / "review-queue.png")
    # R focuses the reason box; Enter with no reason is refused inline, nothing is sent.
    await page.keyboard.press("r")
    assert await page.evaluate("document.activeElement.id") == "reason"
    await page.keyboard.press("Enter")
    assert "必须填写原因" in await page.inner_text("#reason-error")
    assert (await ReviewItem.get(confirmation__beneficiary_id=person.id)).status == ReviewStatus.OPEN
    await page.keyboard.type("画面为翻拍照片，请到站办理")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/reviews?msg=*")
    assert person.name in page.dialogs[-1] and "不通过" in page.dialogs[-1]  # the confirmation named the person
    flash = await page.inner_text(".flash")
    assert "已判定不通过" in flash and "未绑定" not in flash
    item = await ReviewItem.get(confirmation__beneficiary_id=person.id)
    assert item.status == ReviewStatus.REJECTED and item.reason == "画面为翻拍照片，请到站办理"
    assert await AuditEntry.filter(action="review.rejected").count() == 1


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
    await page.click("nav >> text=年度确认")
    await page.click(f"text={campaign.name}")
    assert await page.locator("svg.chart").count() == 2  # bracket quota chart and station × bracket chart
    await page.check("#all")
    assert "已选 3 人" in await page.inner_text("#picked")
    await page.screenshot(path=shot("suspensions"), full_page=True)
    await page.click("#approve")
    await page.wait_for_url("**?msg=*")
    assert "3 人" in page.dialogs[-1]  # the confirmation named the count
    assert "已批准暂停发放 3 人" in await page.inner_text(".flash")
    assert await SuspensionProposal.filter(status=SuspensionStatus.APPROVED).count() == 3
    assert {p.payment_status for p in await Beneficiary.filter(id__in=[p.id for p in people])} == {PaymentStatus.SUSPENDED}
    assert "暂无待批准的提议" in await page.inner_text("#suspensions")


async def test_check_in_a_pickup_by_typed_code(page, app: Sanic) -> None:  # type: ignore[no-untyped-def]
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="李卫国")
    card = await ready_card(app, person, tracking="SF-console")
    user, _ = await mini_headers(app, "o-console-pickup")
    await bind(user, person)
    slot = await PickupSlot.create(station_id=county.station_a.id, day=date.today() + timedelta(days=2), start_time="09:00", end_time="10:00", capacity=5)
    made, _ = await booking.book(settings=app.ctx.settings, user=user, card_id=card.id, slot_id=slot.id, idempotency_key="console")
    await PickupSlot.filter(id=slot.id).update(day=china_now().date())  # the appointment is today (China's date)
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    await _login(page, app, clerk.username)
    await page.click("nav >> text=领证签到")
    table = await page.inner_text("table")
    assert made.short_code in table and "李卫国" in table
    await page.fill("#code", "ZZZZ9999")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**error=*")
    assert "预约不存在" in await page.inner_text("#code-error")
    await page.fill("#code", made.short_code.lower())
    await page.keyboard.press("Enter")  # a scanner ends with Enter: this only looks the booking up
    await page.wait_for_url("**booking=*")
    assert "李卫国" in await page.inner_text("#holder")
    assert (await Booking.get(id=made.id)).status == BookingStatus.ACTIVE  # nothing issued yet
    await page.click("#checkin")
    await page.wait_for_url("**?msg=*")
    assert "李卫国" in page.dialogs[-1]
    assert "签到成功" in await page.inner_text(".flash") and "李卫国" in await page.inner_text(".flash")
    await page.screenshot(path=shot("pickups"), full_page=True)
    assert (await Booking.get(id=made.id)).status == BookingStatus.CHECKED_IN
    assert (await Card.get(id=card.id)).status == CardStatus.DELIVERED
