"""The staff console in a real browser: log in, decide a face check from the keyboard, approve a
suspension batch, check in a pickup by typed code. Every set-up goes through the real services (the
failed face check through the mini-program API, as a phone would send it)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sanic import Sanic

from models.audit import AuditEntry
from models.cards import (
    ApplicationStatus,
    Booking,
    BookingStatus,
    Card,
    CardApplication,
    CardKind,
    CardStatus,
    PickupSlot,
)
from models.confirmation import (
    Confirmation,
    ConfirmationMethod,
    ConfirmationStatus,
    PublicNotice,
    ReviewItem,
    ReviewStatus,
    SpotCheckItem,
)
from models.org import OrgKind
from models.registry import Beneficiary, PaymentStatus, PhotoKind
from models.staff import Role, Staff
from server.actors import SYSTEM
from server.auth.scope import Scope
from server.cards import applications as card_applications
from server.cards import booking
from server.confirmation import campaigns, suspensions
from server.labels import china_now
from server.registry import service as registry
from server.registry.service import decrypt_id_number
from server.wechat.standin import StandinControl
from tests.cards.helpers import bind, mini_headers, ready_card
from tests.confirmation.helpers import face_kit, running_campaign
from tests.confirmation.test_self_service import _challenge, _submit
from tests.console.conftest import shot
from tests.factories import PASSWORD, make_beneficiary, make_county, make_staff
from tests.miniapp.helpers import mini_login

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def _login(page, app: Sanic, username: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    await page.goto(app.ctx.test_base_url + "/console/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/console/")


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


def _keep(name: str) -> None:
    """Screenshots land in test-output/; VETS_UPDATE_SCREENSHOTS=1 also refreshes the README's copies."""
    if os.environ.get("VETS_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot(name), DOCS_SCREENSHOTS / f"{name}.png")


async def _do(page, selector: str) -> None:  # type: ignore[no-untyped-def]
    """Click a button that posts a form and wait for the page it leads to."""
    async with page.expect_navigation():
        await page.click(selector)


async def _flash(page) -> str:  # type: ignore[no-untyped-def]
    return await page.inner_text(".flash")


async def _failed_checks(client: httpx.AsyncClient, app: Sanic, standin: StandinControl, people: list[Beneficiary]) -> None:
    """Each person, bound on their phone, sends one still three times: a replay, into the station's queue."""
    for index, person in enumerate(people):
        headers = await mini_login(client, standin, f"o-day-{index}")
        assert (await client.post("/api/mp/bind", headers=headers, json={"name": person.name, "id_number": decrypt_id_number(person)})).status_code == 201
        challenge = await _challenge(client, headers, person.id)
        still = face_kit(app).frames_for(challenge["actions"])[0]
        assert (await _submit(client, headers, challenge["nonce"], [still, still, still])).json()["decision"] == "fail"


def _upload(name: str, data: bytes, mime: str = "image/jpeg") -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


async def test_a_station_clerks_day(page, client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:  # type: ignore[no-untyped-def]
    county = await make_county()
    photo = face_kit(app).id_photo
    media_dir = app.ctx.settings.media_dir
    reviewed = [await make_beneficiary(station=county.station_a, name=n) for n in ("姚明", "刘洋")]
    for person in reviewed:
        await registry.add_photo(actor=SYSTEM, beneficiary=person, data=photo, kind=PhotoKind.ID_CARD, media_dir=media_dir)
    walk_in = await make_beneficiary(station=county.station_a, name="张建国", phone="13800001234")
    visited = await make_beneficiary(station=county.station_a, name="李秀英", birth=date(1938, 3, 2), male=False, address="伊山东村3组")
    applicant = await make_beneficiary(station=county.station_a, name="王志强", address="伊山镇东街8号", phone="13800001111")
    await running_campaign(county.district)
    await _failed_checks(client, app, wechat_standin, reviewed)
    # Cards: one waiting at the centre for this station (its holder has no WeChat), one booked for pickup today.
    far = await make_beneficiary(station=county.station_a, name="赵六", phone="13900005678")
    at_centre = await ready_card(app, far, tracking="SF-day-1")
    await Card.filter(id=at_centre.id).update(status=CardStatus.AT_CENTRE)
    holder = await make_beneficiary(station=county.station_a, name="李卫国")
    card = await ready_card(app, holder, tracking="SF-day-2")
    user, _ = await mini_headers(app, "o-day-pickup")
    await bind(user, holder)
    slot = await PickupSlot.create(station_id=county.station_a.id, day=date.today() + timedelta(days=2), start_time="09:00", end_time="10:00", capacity=5)
    made, _ = await booking.book(settings=app.ctx.settings, user=user, card_id=card.id, slot_id=slot.id, idempotency_key="day")
    await PickupSlot.filter(id=slot.id).update(day=china_now().date())  # the appointment is today (China's date)

    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    await Staff.filter(id=clerk.id).update(confidentiality_signed_at=datetime.now(UTC))  # 保密协议 on file
    await _login(page, app, clerk.username)
    await page.screenshot(path=shot("home"), full_page=True)
    _keep("home")

    # 1. A walk-in: found by the last 4 digits of the phone, confirmed at the station with a photo.
    await page.click("nav >> text=优抚对象")
    await page.fill("#q", "1234")
    await page.keyboard.press("Enter")
    await page.click("#people >> text=张建国")
    await page.set_input_files("#st-photo", _upload("walkin.jpg", photo))
    await page.screenshot(path=shot("beneficiary"), full_page=True)
    _keep("beneficiary")
    await page.click("#station-confirm")
    await page.wait_for_url("**msg=*")
    assert "张建国" in page.dialogs[-1] and "张建国 在服务站完成年度确认" in await _flash(page)
    assert (await Confirmation.get(beneficiary_id=walk_in.id)).status == ConfirmationStatus.CONFIRMED
    assert "站内采集照片" in await page.inner_text("#documents")

    # 2. A home visit to an 88-year-old, with a photo; the stored photo opens from the person's page.
    await page.goto(app.ctx.test_base_url + f"/console/beneficiaries/{visited.id}")
    await page.fill("#hv-visitors", "王站长、村委李主任")
    await page.set_input_files("#hv-photo", _upload("visit.jpg", photo))
    await page.click("#visit-submit")
    await page.wait_for_url("**msg=*")
    assert "已登记上门走访：李秀英" in await _flash(page)
    confirmation = await Confirmation.get(beneficiary_id=visited.id)
    assert confirmation.status == ConfirmationStatus.CONFIRMED and confirmation.home_visited
    href = await page.get_attribute("#documents a >> nth=0", "href")
    viewed = await page.request.get(app.ctx.test_base_url + href)
    assert viewed.status == 200 and viewed.headers["content-type"].startswith("image/")
    assert await AuditEntry.filter(action="document.viewed").count() == 1

    # 3. Two face reviews from the keyboard. Ctrl+A does nothing; after each decision the next item opens.
    await page.click("nav >> text=人脸核验")
    assert "共 2 件" in await page.inner_text("h1")
    await page.screenshot(path=shot("review-queue"))
    _keep("review-queue")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/reviews/*")
    box = await page.evaluate("(() => { const r = document.getElementById('accept').getBoundingClientRect(); return [r.top, r.bottom, innerHeight]; })()")
    assert 0 <= box[0] and box[1] <= box[2], box  # the decision buttons are on screen at 1366×768
    await page.screenshot(path=shot("review-detail"))
    _keep("review-detail")
    first = await page.inner_text("h1")
    await page.keyboard.press("Control+a")
    await page.keyboard.press("Control+A")
    await page.wait_for_timeout(200)
    assert await ReviewItem.filter(status=ReviewStatus.OPEN).count() == 2 and not page.dialogs[2:]
    await page.keyboard.press("R")  # upper case works too
    await page.keyboard.type("画面为翻拍照片，请到站办理")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**msg=*")
    rejected_name = "姚明" if "姚明" in first else "刘洋"
    accepted_name = "刘洋" if rejected_name == "姚明" else "姚明"
    assert rejected_name in page.dialogs[-1] and "不通过" in page.dialogs[-1]
    assert f"已判定不通过：{rejected_name}" in await _flash(page) and accepted_name in await page.inner_text("h1")  # the next item
    await page.keyboard.press("Shift+A")
    await page.wait_for_url("**/console/reviews?msg=*")
    assert accepted_name in page.dialogs[-1] and f"已通过：{accepted_name}" in await _flash(page) and "已通知本人" not in await _flash(page)
    assert await ReviewItem.filter(status=ReviewStatus.OPEN).count() == 0

    # 4. An on-site card application; the forms are printed, signed and uploaded.
    await page.goto(app.ctx.test_base_url + f"/console/beneficiaries/{applicant.id}")
    await page.click("#apply-on-site")
    await page.wait_for_url("**msg=*")
    assert "已为 王志强 登记现场申请" in await _flash(page)
    await page.click("#card-applications >> text=打印、上传 →")
    printed = await page.request.get(app.ctx.test_base_url + await page.get_attribute("#print-forms", "href"))
    assert printed.status == 200 and "王志强" in await printed.text()
    await page.set_input_files("#application_form", _upload("form.jpg", photo))
    await page.set_input_files("#bank_form", _upload("bank.jpg", photo))
    await page.click("#upload-forms button[type=submit]")
    await page.wait_for_url("**msg=*")
    assert "已上传 王志强 签字的申领表、银行借记卡信息确认书" in await _flash(page)
    await page.screenshot(path=shot("application"), full_page=True)
    _keep("application")

    # 5. The station collects its cards from the centre.
    await page.click("nav >> text=证件发放")
    await page.click("text=领回所选优待证")
    await page.wait_for_url("**msg=*")
    assert "1 张" in page.dialogs[-1] and "已领回 1 张优待证" in await _flash(page)
    assert (await Card.get(id=at_centre.id)).status == CardStatus.AT_STATION
    await page.screenshot(path=shot("issuance"), full_page=True)
    _keep("issuance")

    # 6. Pickup: the scanned code first shows whose card it is; only then is it issued.
    await page.click("nav >> text=领证签到")
    await page.fill("#code", made.short_code.lower())
    await page.keyboard.press("Enter")
    await page.wait_for_url("**booking=*")
    assert "李卫国" in await page.inner_text("#holder")
    assert (await Booking.get(id=made.id)).status == BookingStatus.ACTIVE
    await page.screenshot(path=shot("pickups"), full_page=True)
    _keep("pickups")
    await page.click("#checkin")
    await page.wait_for_url("**?msg=*")
    assert "李卫国" in page.dialogs[-1] and "签到成功" in await _flash(page)
    assert (await Card.get(id=card.id)).status == CardStatus.DELIVERED

    # 7. Whom to phone: 赵六 has no WeChat, so the "card ready" message is on the list with phone and text.
    await page.click("nav >> text=待电话通知")
    table = await page.inner_text("#unsent")
    assert "赵六" in table and "13900005678" in table and "优待证领取通知" in table
    await page.screenshot(path=shot("unsent"), full_page=True)
    _keep("unsent")
    await page.click("#unsent tr:has-text('赵六') >> text=已电话告知")
    await page.wait_for_url("**msg=*")
    assert "已电话告知" in await _flash(page) and "赵六" not in await page.inner_text("#unsent")


async def test_a_bureau_officers_week(page, app: Sanic) -> None:  # type: ignore[no-untyped-def]
    county = await make_county()
    media_dir = app.ctx.settings.media_dir
    silent = [await make_beneficiary(station=county.station_a, name=n) for n in ("赵大", "钱二", "孙三")]
    confirmed = await make_beneficiary(station=county.station_b, name="周五")
    deceased = await make_beneficiary(station=county.station_b, name="郑七")
    applicant = await make_beneficiary(station=county.station_a, name="王志强", address="伊山镇东街8号", phone="13800001111")
    today = china_now().date()
    scope = Scope(role=Role.ADMIN, org_unit_id=county.district.id, org_kind=OrgKind.DISTRICT)
    dates = campaigns.CampaignDates(today - timedelta(days=100), today - timedelta(days=120), today - timedelta(days=111), today - timedelta(days=110), today - timedelta(days=63), today - timedelta(days=62), today + timedelta(days=30), today - timedelta(days=50), today - timedelta(days=45))
    campaign = await campaigns.create_campaign(scope=scope, actor=SYSTEM, year=today.year, name=None, district_id=county.district.id, dates=dates, categories=None)
    await campaigns.open_campaign(scope=scope, actor=SYSTEM, campaign_id=campaign.id)
    await Confirmation.filter(beneficiary_id=confirmed.id).update(status=ConfirmationStatus.CONFIRMED, method=ConfirmationMethod.STATION)
    entries = [{"station": "", "name": p.name, "id_number": p.id_number_masked, "category": "", "beneficiary_id": p.id} for p in silent]
    await PublicNotice.create(campaign=campaign, station_id=county.station_a.id, entries=entries, published_on=today - timedelta(days=61))
    assert await suspensions.propose_suspensions(scope=scope, actor=SYSTEM, campaign_id=campaign.id) == 3
    application = await card_applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=applicant, card_kind=CardKind.VETERAN, channel="on_site")
    for form in ("application_form", "bank_form"):
        application = await card_applications.attach_form(actor=SYSTEM, application=application, form=form, data=face_kit(app).id_photo, media_dir=media_dir)
    await CardApplication.filter(id=application.id).update(status=ApplicationStatus.BUREAU_REVIEW)

    bureau = await make_staff(role=Role.BUREAU, unit=county.district)
    await Staff.filter(id=bureau.id).update(confidentiality_signed_at=datetime.now(UTC))  # 保密协议 on file
    await _login(page, app, bureau.username)
    # Preliminary review: from today's number to the list, to the application, to its signed forms.
    await page.click("#n-cards")
    await page.click("text=王志强")
    await page.wait_for_url(f"**/console/cards/{application.id}")
    for link in ("查看申领表", "查看银行借记卡信息确认书"):
        href = await page.get_attribute(f"#signed-forms >> text={link}", "href")
        opened = await page.request.get(app.ctx.test_base_url + href)
        assert opened.status == 200 and opened.headers["content-type"].startswith("image/")
    assert await AuditEntry.filter(action="document.viewed").count() == 2
    await page.click("#pass")
    await page.wait_for_url("**msg=*")
    assert "王志强" in page.dialogs[-1]
    assert (await CardApplication.get(id=application.id)).status == ApplicationStatus.CITY_REVIEW

    # The county notice of the unconfirmed: generated, printed, published today.
    await page.click("nav >> text=年度确认")
    await page.click(f"text={campaign.name}")
    await page.click("#generate-notice")
    await page.wait_for_url("**msg=*")
    assert "已生成公告（5 人）" in await _flash(page)
    # Publication needs its evidence: the photo of the town's notice board.
    await page.set_input_files("#notices input[name=town_board]", files=[{"name": "board.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff\xe0 notice board photo"}])
    await _do(page, "#notices button:has-text('登记今日发布')")
    assert "已登记公告于" in await _flash(page)
    assert await PublicNotice.filter(campaign_id=campaign.id, station_id=None, published_on=today).exists()

    # A suspension batch, approved after the confirmation names the count.
    await page.check("#all")
    assert "已选 3 人" in await page.inner_text("#picked")
    await page.screenshot(path=shot("campaign"), full_page=True)
    _keep("campaign")
    await _do(page, "#approve")
    assert "3 人" in page.dialogs[-1] and "已批准暂停发放 3 人" in await _flash(page)
    assert {p.payment_status for p in await Beneficiary.filter(id__in=[p.id for p in silent])} == {PaymentStatus.SUSPENDED}

    # A spot check drawn from the confirmed, and its result recorded.
    await page.fill("#spot-size", "1")
    await page.click("#draw")
    await page.wait_for_url("**/console/spot-checks/*")
    assert "已抽取 1 人" in await _flash(page) and "周五" in await page.inner_text("table")
    await _do(page, "table button:has-text('登记')")
    assert "核实无误" in await _flash(page)
    assert await SpotCheckItem.filter(result="verified").count() == 1
    await page.screenshot(path=shot("spot-check"), full_page=True)
    _keep("spot-check")

    # Deaths reported by civil affairs, imported and matched.
    await page.goto(app.ctx.test_base_url + f"/console/campaigns/{campaign.id}")
    csv = f"姓名,身份证号,死亡日期,来源\n郑七,{decrypt_id_number(deceased)},{(today - timedelta(days=40)).isoformat()},民政\n".encode()
    await page.set_input_files("#deaths-file", _upload("deaths.csv", csv, "text/csv"))
    await page.click("#import-deaths")
    await page.wait_for_selector("text=死亡名单导入结果")
    assert "已登记死亡" in await page.inner_text("main")
    assert (await Beneficiary.get(id=deceased.id)).payment_status == PaymentStatus.DECEASED

    # 复核: the person confirmed at the station is re-checked from the list, after the confirmation naming her.
    await page.goto(app.ctx.test_base_url + f"/console/rechecks?campaign={campaign.id}")
    await _do(page, "#rechecks tr:has-text('周五') button:has-text('复核无误')")
    assert "周五" in page.dialogs[-1] and "已登记复核：周五，复核无误" in await _flash(page)
    assert (await Confirmation.get(beneficiary_id=confirmed.id)).recheck_status == "accepted"
    await page.goto(app.ctx.test_base_url + f"/console/rechecks?campaign={campaign.id}&recheck=accepted")
    await page.screenshot(path=shot("rechecks"), full_page=True)
    _keep("rechecks")


async def test_shipment_receipt_delivery_and_proxy_decisions(page, app: Sanic) -> None:  # type: ignore[no-untyped-def]
    """The centre signs for a courier parcel, the station hands a card over and decides a proxy and a change
    of WeChat binding — each after the confirmation naming the person (or the parcel)."""
    from models.cards import Shipment
    from models.wechat import BindingTransfer, ProxyGrant, ProxyStatus, TransferStatus

    county = await make_county()
    made = await make_beneficiary(station=county.station_a, name="周德福")
    application = await card_applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=made, card_kind=CardKind.VETERAN, channel="on_site")
    await CardApplication.filter(id=application.id).update(status=ApplicationStatus.APPROVED, open_key=None)
    waiting = await ready_card(app, await make_beneficiary(station=county.station_a, name="吴国华"), tracking="SF-walk-1")
    person = await make_beneficiary(station=county.station_a, name="陈桂英")
    daughter, _ = await mini_headers(app, "o-walk-daughter")
    grant = await ProxyGrant.create(proxy_user=daughter, beneficiary=person, proxy_name="陈小红", relation="子女", scopes=["collect"], status=ProxyStatus.PENDING)
    old_phone, _ = await mini_headers(app, "o-walk-old")
    new_phone, _ = await mini_headers(app, "o-walk-new")
    await bind(old_phone, person)
    transfer = await BindingTransfer.create(user=new_phone, beneficiary=person, note="换了新手机")

    # The centre receives the parcel: count checked, intact, sorted by station.
    centre = await make_staff(role=Role.CENTRE, unit=county.district)
    await _login(page, app, centre.username)
    await page.click("nav >> text=证件发放")
    await page.fill("#tracking", "SF-walk-9")
    await page.fill("#expected", "1")
    await page.fill("#counted", "1")
    await page.fill("#appids", str(application.id))
    await _do(page, "#receive-submit")
    assert "SF-walk-9" in page.dialogs[-1] and "清点 1 张" in page.dialogs[-1] and "已签收快递 SF-walk-9，共 1 张" in await _flash(page)
    assert (await Card.get(application_id=application.id)).status == CardStatus.AT_CENTRE
    await page.click("#shipments-link")
    assert "SF-walk-9" in await page.inner_text("#shipments") and await Shipment.filter(tracking_number="SF-walk-9").count() == 1
    await page.screenshot(path=shot("shipments"), full_page=True)
    _keep("shipments")

    # The station hands a card over: method, who received it, ID checked.
    await page.context.clear_cookies()
    clerk = await make_staff(role=Role.STATION, unit=county.station_a)
    await _login(page, app, clerk.username)
    await page.click("nav >> text=证件发放")
    row = page.locator("#deliver tr", has_text="吴国华")
    await row.locator("input[name=id_checked]").check()
    async with page.expect_navigation():
        await row.locator("button:has-text('登记发放')").click()
    assert "吴国华" in page.dialogs[-1] and "已登记发放：吴国华 的优待证" in await _flash(page)
    assert (await Card.get(id=waiting.id)).status == CardStatus.DELIVERED

    # A proxy approved with the signed authorisation; a change of WeChat binding approved.
    await page.click("nav >> text=代办审核")
    await page.locator("#grants tr", has_text="陈小红").locator("input[name=document]").set_input_files(_upload("authorisation.jpg", face_kit(app).id_photo))
    await _do(page, "#grants button:has-text('核验材料后同意')")
    assert "陈小红" in page.dialogs[-1] and "陈桂英" in page.dialogs[-1] and "已同意 陈小红 代办" in await _flash(page)
    assert (await ProxyGrant.get(id=grant.id)).status == ProxyStatus.ACTIVE
    await _do(page, "#transfers button:has-text('核实本人后同意')")
    assert "陈桂英" in page.dialogs[-1] and "已同意更换绑定" in await _flash(page)
    assert (await BindingTransfer.get(id=transfer.id)).status == TransferStatus.APPROVED
