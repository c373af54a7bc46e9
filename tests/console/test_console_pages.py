"""Every console page, for every role, over plain HTTP: Chinese words only (no code reaches the clerk), China
time only, a Chinese error page for a bad query parameter or an unknown address; and the server side of
the safety rules (one decision per item, no approval without an ID photo, a truthful message)."""

from __future__ import annotations

import html as htmllib
import re
from datetime import UTC, datetime
from io import BytesIO
from urllib.parse import quote, unquote

import httpx
from openpyxl import load_workbook
from sanic import Sanic

from models.audit import AuditEntry
from models.cards import CardStatus
from models.confirmation import (
    AgeBracket,
    Confirmation,
    ConfirmationMethod,
    ConfirmationRecord,
    ConfirmationStatus,
    ReviewItem,
    ReviewStatus,
    SpotCheck,
    SpotCheckItem,
)
from models.registry import PhotoKind
from models.staff import Role
from models.wechat import ProxyGrant, ProxyStatus
from server.actors import SYSTEM
from server.confirmation.self_service import ACTION_TEXT, REASON_TEXT
from server.labels import ALL, CHINA, ENUM_TABLES, china_time
from server.notifications.outbox import enqueue
from server.registry import service as registry
from server.wechat.standin import StandinControl
from tests.cards.helpers import mini_headers, ready_card
from tests.confirmation.helpers import face_kit, running_campaign
from tests.confirmation.test_self_service import _bound_person, _challenge, _submit
from tests.console.test_console_http import _console_login, _csrf
from tests.factories import make_beneficiary, make_county, make_staff

# Every code a service may hand to a page: if one of these shows up as visible text, a label is missing.
CODES = {str(v.value) for enum in ENUM_TABLES for v in enum} | set(REASON_TEXT) | set(ACTION_TEXT) | {k for table in ALL.values() for k in table if not k[:1].isupper()}
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL)
    page = re.sub(r"<[^>]+>", " ", page)
    return htmllib.unescape(page)


def untranslated(page: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_0-9]*[A-Za-z_][A-Za-z_0-9]*", visible_text(page))) & CODES


async def _busy_station(client: httpx.AsyncClient, app: Sanic, standin: StandinControl):  # type: ignore[no-untyped-def]
    """A county with one of everything: a failed face check in the queue, a card application, cards at the
    centre and at the station, a pending proxy, a message nobody could receive, a spot check."""
    county, person, campaign, headers = await _bound_person(client, app, standin)
    challenge = await _challenge(client, headers, person.id)
    still = face_kit(app).frames_for(challenge["actions"])[0]
    assert (await _submit(client, headers, challenge["nonce"], [still, still, still])).json()["decision"] == "fail"
    item = await ReviewItem.get(confirmation__beneficiary_id=person.id)
    other = await make_beneficiary(station=county.station_a, name="钱桂兰", phone="13912345678", village_id=county.village_a.id)
    card = await ready_card(app, other, tracking="SF-walk")
    await card.application
    at_centre = await make_beneficiary(station=county.station_a, name="孙建军")
    centre_card = await ready_card(app, at_centre, tracking="SF-walk2")
    await centre_card.__class__.filter(id=centre_card.id).update(status=CardStatus.AT_CENTRE)
    user, _ = await mini_headers(app, "o-walk-proxy")
    await ProxyGrant.create(proxy_user=user, beneficiary=other, proxy_name="钱小梅", relation="子女", scopes=["collect"], status=ProxyStatus.PENDING)
    await enqueue(user_id=None, template_key="card_ready_for_pickup", context={"application_id": card.application_id, "holder_name": other.name, "pickup_office": "伊山镇退役军人服务站", "pickup_deadline": "2026-12-10"}, dedupe_key="walk", beneficiary_id=other.id, station_id=county.station_a.id)
    confirmation = await Confirmation.create(campaign=campaign, beneficiary=other, station_id=county.station_a.id, age_bracket=AgeBracket.AGE_70_79, status=ConfirmationStatus.CONFIRMED, method=ConfirmationMethod.STATION, confirmed_at=datetime.now(UTC))
    check = await SpotCheck.create(campaign=campaign, seed="walk", sample_size=1, population=1, drawn_by_staff_id=0)
    await SpotCheckItem.create(spot_check=check, confirmation=confirmation, station_id=county.station_a.id)
    return county, person, other, campaign, item, card, check


async def test_every_page_for_every_role_is_chinese_in_china_time_and_refuses_bad_parameters(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county, person, other, campaign, item, card, check = await _busy_station(client, app, wechat_standin)
    pages = [
        "/console/", "/console/reviews", "/console/reviews?status=rejected", f"/console/reviews/{item.id}", "/console/beneficiaries", "/console/beneficiaries?q=5678",
        f"/console/beneficiaries/{person.id}", f"/console/beneficiaries/{other.id}", "/console/campaigns", f"/console/campaigns/{campaign.id}", "/console/cards",
        "/console/cards?status=all", f"/console/cards/{card.application_id}", "/console/issuance", "/console/pickups", "/console/proxies", "/console/unsent",
        f"/console/spot-checks/{check.id}", "/console/reports", "/console/shipments", "/console/rechecks", "/console/resumptions", "/console/overpayments",
    ]
    submitted = item.created_at
    china, utc = china_time(submitted), submitted.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert china != utc
    roles = {Role.STATION: county.station_a, Role.CENTRE: county.district, Role.BUREAU: county.district, Role.CITY: county.city, Role.AUDITOR: county.district}
    for role, unit in roles.items():
        cookie = await _console_login(client, (await make_staff(role=role, unit=unit)).username)
        for path in pages:
            response = await client.get(path, headers=cookie)
            assert response.status_code == 200, (role, path, response.status_code)
            assert not untranslated(response.text), (role, path, untranslated(response.text))
            assert not ISO_TIME.search(visible_text(response.text)), (role, path)
            assert utc not in visible_text(response.text), (role, path)  # a stored UTC time shown as is
        detail = (await client.get(f"/console/reviews/{item.id}", headers=cookie)).text
        assert china in visible_text(detail)
        # Read-only and upper roles are offered no data entry they may not use.
        forms = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', (await client.get(f"/console/beneficiaries/{other.id}", headers=cookie)).text)
        if role in (Role.AUDITOR, Role.CITY, Role.BUREAU):
            assert [f for f in forms if f != "/console/logout"] == [], (role, forms)
    # Bad parameters and unknown addresses: a Chinese page with the right status, never JSON or a trace.
    cookie = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_a)).username)
    for path in pages:
        bare = path.split("?")[0]
        for bad in ("page=abc", "status=bogus", "page=-1"):
            response = await client.get(f"{bare}?{bad}", headers=cookie)
            assert response.status_code == 400, (bare, bad, response.status_code)
            assert response.headers["content-type"].startswith("text/html") and "请求有误" in response.text and "Traceback" not in response.text, (bare, bad)
    # The phoning list as XLSX: Chinese file name, frozen bold header, widths, phone numbers kept as text.
    download = await client.get("/console/unsent.xlsx", headers=cookie)
    assert download.status_code == 200 and "filename*=UTF-8''" + quote("待电话通知名单") in download.headers["content-disposition"]
    sheet = load_workbook(BytesIO(download.content)).active
    assert sheet.title == "待电话通知" and sheet.freeze_panes == "A2" and sheet["A1"].font.bold and sheet.column_dimensions["E"].width >= 40
    assert [c.value for c in sheet[2]][:2] == ["钱桂兰", "13912345678"]
    for path in ("/console/no-such-page", "/console/reviews/999999", "/console/cards/999999", "/console/spot-checks/999999", "/console/documents/photo-999999"):
        response = await client.get(path, headers=cookie)
        assert response.status_code == 404 and response.headers["content-type"].startswith("text/html") and "未找到" in response.text, path


def test_every_stored_code_has_a_chinese_label() -> None:
    missing = [f"{enum.__name__}.{v.value}" for enum, table in ENUM_TABLES.items() for v in enum if v.value not in table]
    assert missing == []
    assert china_time(datetime(2026, 11, 28, 16, 30, tzinfo=UTC)) == "2026-11-29 00:30" and CHINA.utcoffset(None).total_seconds() == 8 * 3600


async def test_a_decision_is_taken_once_and_reported_truthfully(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county, person, _, headers = await _bound_person(client, app, wechat_standin)
    challenge = await _challenge(client, headers, person.id)
    still = face_kit(app).frames_for(challenge["actions"])[0]
    await _submit(client, headers, challenge["nonce"], [still, still, still])
    item = await ReviewItem.get(confirmation__beneficiary_id=person.id)
    cookie = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_a)).username)
    token = _csrf((await client.get(f"/console/reviews/{item.id}", headers=cookie)).text)
    first = await client.post(f"/console/reviews/{item.id}/decide", headers=cookie, data={"csrf_token": token, "decision": "accept"})
    second = await client.post(f"/console/reviews/{item.id}/decide", headers=cookie, data={"csrf_token": token, "decision": "accept"})
    assert first.status_code == second.status_code == 302
    first_text = htmllib.unescape(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0), first.headers["location"]))
    assert person.name in unquote(first_text) and "已通知本人" not in unquote(first_text) and "排队" in unquote(first_text)
    assert "已被处理，未重复操作" in unquote(second.headers["location"])
    assert await AuditEntry.filter(action="review.accepted").count() == 1


async def test_an_item_without_an_id_photo_cannot_be_approved(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county, person, _, headers = await _bound_person(client, app, wechat_standin, with_photo=False)
    challenge = await _challenge(client, headers, person.id)
    await _submit(client, headers, challenge["nonce"], face_kit(app).frames_for(challenge["actions"]))
    item = await ReviewItem.get(confirmation__beneficiary_id=person.id)
    cookie = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_a)).username)
    page = (await client.get(f"/console/reviews/{item.id}", headers=cookie)).text
    assert re.search(r'id="accept"[^>]*disabled', page) and "尚无身份证照片" in page
    refused = await client.post(f"/console/reviews/{item.id}/decide", headers=cookie, data={"csrf_token": _csrf(page), "decision": "accept"})
    assert refused.status_code == 302 and "error=" in refused.headers["location"]
    assert (await ReviewItem.get(id=item.id)).status == ReviewStatus.OPEN
    # With the person at the station, a photo taken there becomes the reference the next check compares with.
    await registry.add_photo(actor=SYSTEM, beneficiary=person, data=face_kit(app).id_photo, kind=PhotoKind.ID_CARD, media_dir=app.ctx.settings.media_dir)
    assert 'id="accept" disabled' not in (await client.get(f"/console/reviews/{item.id}", headers=cookie)).text


async def test_a_form_submitted_twice_is_recorded_once(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="张建国")
    await running_campaign(county.district)
    confirmation = await Confirmation.get(beneficiary_id=person.id)
    cookie = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_a)).username)
    page = (await client.get(f"/console/beneficiaries/{person.id}", headers=cookie)).text
    form = {"csrf_token": _csrf(page), "once": "page-1", "notes": "本人持证到站"}
    back = {**cookie, "Referer": f"{app.ctx.test_base_url}/console/beneficiaries/{person.id}"}
    first = await client.post(f"/console/confirmations/{confirmation.id}/station", headers=back, data=form)
    again = await client.post(f"/console/confirmations/{confirmation.id}/station", headers=back, data=form)
    assert "张建国" in unquote(first.headers["location"]) and "已提交过，未重复办理" in unquote(again.headers["location"])
    # A fresh page (new token) still cannot confirm the same person twice.
    later = await client.post(f"/console/confirmations/{confirmation.id}/station", headers=back, data={**form, "once": "page-2"})
    assert "本年度已确认，未重复登记" in unquote(later.headers["location"])
    assert await ConfirmationRecord.filter(confirmation_id=confirmation.id, kind="station").count() == 1
