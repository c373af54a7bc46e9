"""The bureau's pages that were API-only (复核, 追回, 恢复发放), the station's pickup-slot publication, the shared
list helper (totals, paging, search, pinyin sort, filters) and the styled XLSX exports of the API — over
plain HTTP with each page's CSRF token, through the same services as the API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from urllib.parse import quote, unquote

import httpx
from openpyxl import load_workbook
from sanic import Sanic

from models.audit import AuditEntry
from models.cards import PickupSlot
from models.confirmation import (
    Confirmation,
    ConfirmationMethod,
    ConfirmationRecord,
    ConfirmationStatus,
    DeathRecord,
    OverpaymentRecovery,
    PublicNotice,
    Resumption,
    SuspensionProposal,
    SuspensionStatus,
)
from models.registry import Beneficiary, PaymentStatus
from models.staff import Role
from server.confirmation import reports
from server.labels import china_now
from server.notifications.outbox import enqueue
from tests.confirmation.helpers import running_campaign
from tests.console.test_console_http import _console_login, _csrf
from tests.factories import make_beneficiary, make_county, make_staff


async def _form_page(client: httpx.AsyncClient, cookie: dict[str, str], path: str, app: Sanic) -> tuple[str, str, dict[str, str]]:
    page = await client.get(path, headers=cookie)
    assert page.status_code == 200, (path, page.status_code)
    return page.text, _csrf(page.text), {**cookie, "Referer": f"{app.ctx.test_base_url}{path}"}


def _said(response: httpx.Response) -> str:
    assert response.status_code == 302, response.status_code
    return unquote(response.headers["location"])


async def test_the_bureau_rechecks_recovers_and_signs_off_resumptions(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    checked = await make_beneficiary(station=county.station_a, name="周建华")
    campaign = await running_campaign(county.district)
    await Confirmation.filter(beneficiary_id=checked.id).update(status=ConfirmationStatus.CONFIRMED, method=ConfirmationMethod.HOME_VISIT, confirmed_at=datetime.now(UTC))
    confirmation = await Confirmation.get(beneficiary_id=checked.id)
    dead = await make_beneficiary(station=county.station_a, name="吴德海")
    record = await DeathRecord.create(beneficiary=dead, death_date=china_now().date() - timedelta(days=90), source="civil_affairs", import_sha256="0" * 64, overpaid_months=2, overpayment_amount=Decimal("1200.00"), status="outstanding")
    back = await make_beneficiary(station=county.station_b, name="郑秀兰")
    await Beneficiary.filter(id=back.id).update(payment_status=PaymentStatus.SUSPENDED)
    proposal = await SuspensionProposal.create(campaign=campaign, beneficiary=back, station_id=county.station_b.id, status=SuspensionStatus.APPROVED, notice_published_on=china_now().date() - timedelta(days=70))
    today = china_now().date()
    resumption = await Resumption.create(beneficiary=back, suspension=proposal, suspended_from=today.replace(day=1), resume_from=(today.replace(day=1) + timedelta(days=32)).replace(day=1), back_pay_months=1)

    bureau = await _console_login(client, (await make_staff(role=Role.BUREAU, unit=county.district)).username)
    home = (await client.get("/console/", headers=bureau)).text
    assert 'id="n-resumptions"' in home and 'id="n-overpayments"' in home

    # 复核: the not-yet-rechecked list names the person; a questioned record needs its doubt written down.
    page, token, headers = await _form_page(client, bureau, "/console/rechecks", app)
    assert "周建华" in page and "上门确认" in page and f"/console/confirmations/{confirmation.id}/recheck" in page
    assert "请写明疑点" in _said(await client.post(f"/console/confirmations/{confirmation.id}/recheck", headers=headers, data={"csrf_token": token, "decision": "questioned"}))
    assert "已登记复核：周建华，复核无误" in _said(await client.post(f"/console/confirmations/{confirmation.id}/recheck", headers=headers, data={"csrf_token": token, "decision": "accepted", "note": "电话回访属实"}))
    assert "未重复登记" in _said(await client.post(f"/console/confirmations/{confirmation.id}/recheck", headers=headers, data={"csrf_token": token, "decision": "accepted"}))
    assert await ConfirmationRecord.filter(confirmation_id=confirmation.id, kind="recheck").count() == 1
    assert "周建华" not in (await client.get("/console/rechecks", headers=bureau)).text  # the default tab: not yet rechecked
    assert "周建华" in (await client.get("/console/rechecks?recheck=accepted", headers=bureau)).text

    # 追回: two amounts; more than is outstanding is refused; the record is closed when all is back.
    page, token, headers = await _form_page(client, bureau, "/console/overpayments", app)
    assert "吴德海" in page and "1200.00 元" in page and "未追回 1200.00 元" in page  # the confirmation names person and amount
    assert "尚未追回 700.00 元" in _said(await client.post(f"/console/overpayments/{record.id}/recoveries", headers=headers, data={"csrf_token": token, "amount": "500", "recovered_on": today.isoformat(), "note": "家属退回"}))
    assert f"{today.isoformat()} 追回 500.00 元（家属退回）" in (await client.get("/console/overpayments", headers=bureau)).text  # each record lists its recoveries
    assert "不超过未追回金额" in _said(await client.post(f"/console/overpayments/{record.id}/recoveries", headers=headers, data={"csrf_token": token, "amount": "800"}))
    assert "已全部追回" in _said(await client.post(f"/console/overpayments/{record.id}/recoveries", headers=headers, data={"csrf_token": token, "amount": "700.00"}))
    assert (await DeathRecord.get(id=record.id)).status == "recovered" and await OverpaymentRecovery.filter(death_record_id=record.id).count() == 2
    assert "吴德海" not in (await client.get("/console/overpayments", headers=bureau)).text  # default: outstanding only

    # 恢复发放: signed off once; the second click changes nothing.
    page, token, headers = await _form_page(client, bureau, "/console/resumptions", app)
    assert "郑秀兰" in page and "审批 郑秀兰 自" in page
    assert "已审批恢复发放：郑秀兰" in _said(await client.post(f"/console/resumptions/{resumption.id}/sign-off", headers=headers, data={"csrf_token": token}))
    assert "未重复办理" in _said(await client.post(f"/console/resumptions/{resumption.id}/sign-off", headers=headers, data={"csrf_token": token}))
    assert (await Beneficiary.get(id=back.id)).payment_status == PaymentStatus.ACTIVE
    assert await AuditEntry.filter(action="resumption.signed_off").count() == 1

    # A station clerk sees these lists but is offered none of the bureau's actions, and a post is refused.
    clerk = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_a)).username)
    for path in ("/console/rechecks?recheck=accepted", "/console/overpayments?status=recovered", "/console/resumptions?status=signed_off"):
        page = (await client.get(path, headers=clerk)).text
        assert not re.findall(r'<form[^>]*method="post"[^>]*action="/console/(confirmations|overpayments|resumptions)', page), path
    _, token, headers = await _form_page(client, clerk, "/console/rechecks", app)
    assert "无权" in _said(await client.post(f"/console/confirmations/{confirmation.id}/recheck", headers=headers, data={"csrf_token": token, "decision": "questioned", "note": "怀疑"}))


async def test_the_station_publishes_pickup_slots_once(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    clerk = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_a)).username)
    page, token, headers = await _form_page(client, clerk, "/console/pickups", app)
    assert 'id="publish-slots"' in page
    start = (china_now().date() + timedelta(days=1)).isoformat()
    form = {"csrf_token": token, "station_id": str(county.station_a.id), "start": start, "days": "7", "windows": "09:00-10:30，14:30-16:00", "capacity": "8"}
    first = _said(await client.post("/console/slots", headers=headers, data=form))
    made = await PickupSlot.filter(station_id=county.station_a.id).count()
    assert made >= 6 and f"新增 {made} 个时段" in first  # two windows on each working day of the seven
    assert "未重复发布" in _said(await client.post("/console/slots", headers=headers, data=form))
    assert await PickupSlot.filter(station_id=county.station_a.id).count() == made
    assert "请检查" in _said(await client.post("/console/slots", headers=headers, data={**form, "windows": "10:00-09:00"}))
    assert "/console/pickups" in _said(await client.post("/console/slots", headers=headers, data={**form, "station_id": str(county.station_b.id)}))
    assert await PickupSlot.filter(station_id=county.station_b.id).count() == 0  # another station's slots: refused
    listed = (await client.get("/console/pickups", headers=clerk)).text
    assert f"共 {made} 个" in listed
    bureau = await _console_login(client, (await make_staff(role=Role.BUREAU, unit=county.district)).username)
    assert 'id="publish-slots"' not in (await client.get("/console/pickups", headers=bureau)).text


async def test_every_list_has_totals_paging_search_pinyin_sort_and_filters(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    names = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇"]
    people = []
    for i in range(35):
        station = county.station_a if i % 5 else county.station_b
        people.append(await make_beneficiary(station=station, name=f"{names[i % len(names)]}{i}", phone=f"139000{i:05d}"))
    for person in people:
        await enqueue(user_id=None, template_key="card_ready_for_pickup", context={"application_id": person.id, "holder_name": person.name, "pickup_office": "服务站", "pickup_deadline": "2026-12-10"}, dedupe_key=f"list-{person.id}", beneficiary_id=person.id, station_id=person.station_id)
    centre = await _console_login(client, (await make_staff(role=Role.CENTRE, unit=county.district)).username)
    first = (await client.get("/console/unsent", headers=centre)).text
    assert "共 35 条" in first and "第 1 / 2 页" in first and first.count("已电话告知</button>") == 30
    second = (await client.get("/console/unsent?page=2", headers=centre)).text
    assert second.count("已电话告知</button>") == 5
    # Search by the last 4 phone digits; by station; names in pinyin order (陈 before 黄 before 李 ...).
    found = (await client.get("/console/unsent?q=" + people[17].phone[-4:], headers=centre)).text
    assert "共 1 条" in found and people[17].name in found
    by_station = (await client.get(f"/console/unsent?station={county.station_b.id}", headers=centre)).text
    assert "共 7 条" in by_station
    ordered = (await client.get("/console/unsent?sort=name", headers=centre)).text
    shown = re.findall(r"<tr><td>([^<\d]+)\d+</td>", ordered)
    assert shown[0] == "陈静" and shown.index("黄勇") < shown.index("李娜") < shown.index("王芳") < shown.index("张伟"), shown[:12]
    # A page past the end, a bad sort, a station out of scope: a Chinese 400 page.
    for bad in ("page=3", "sort=phone", "station=999999"):
        response = await client.get(f"/console/unsent?{bad}", headers=centre)
        assert response.status_code == 400 and "请求有误" in response.text, bad
    # The same helper on the other lists: totals and the filter and search boxes.
    for path in ("/console/reviews", "/console/cards?status=all", "/console/issuance", "/console/shipments", "/console/pickups", "/console/proxies", "/console/rechecks", "/console/resumptions", "/console/overpayments"):
        page = (await client.get(path, headers=centre)).text
        assert re.search(r"共 \d+ ", page) and 'role="search"' in page and 'class="pager"' in page, path


async def test_api_xlsx_exports_are_styled_with_chinese_file_names(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    campaign = await running_campaign(county.district)
    bureau = await _console_login(client, (await make_staff(role=Role.BUREAU, unit=county.district)).username)
    progress = await client.get(f"/api/campaigns/{campaign.id}/progress.xlsx", headers=bureau)
    assert progress.status_code == 200 and "filename*=UTF-8''" + quote("年度确认进度") in progress.headers["content-disposition"]
    book = load_workbook(BytesIO(progress.content))
    for sheet in book.worksheets:
        header = 2 if sheet.title == "确认进度" else 1
        assert sheet.freeze_panes == f"A{header + 1}" and sheet.cell(header, 1).font.bold, sheet.title
        assert all((sheet.column_dimensions[c].width or 0) >= 8 for c in "AB"), sheet.title
    weekly = await reports.generate_weekly_reports(now=datetime.now(UTC), media_dir=app.ctx.settings.media_dir, force=True)
    kept = await client.get(f"/api/weekly-reports/{weekly[0].id}/xlsx", headers=bureau)
    assert kept.status_code == 200 and "filename*=UTF-8''" + quote("年度确认进度周报") in kept.headers["content-disposition"]
    assert load_workbook(BytesIO(kept.content)).active.freeze_panes == "A3"
    notice = await PublicNotice.create(campaign=campaign, station_id=county.station_a.id, entries=[{"station": "甲站", "name": "=HYPERLINK(\"x\")", "id_number": "320723********1234", "category": "", "beneficiary_id": 1}])
    download = await client.get(f"/api/notices/{notice.id}/xlsx", headers=bureau)
    assert "filename*=UTF-8''" + quote("未确认人员公告") in download.headers["content-disposition"] and 'filename="' in download.headers["content-disposition"]
    sheet = load_workbook(BytesIO(download.content)).active
    assert sheet.freeze_panes == "A3" and sheet["C3"].value.startswith("'=")  # a formula stays text
    stats = await client.get("/api/cards/statistics.xlsx", headers=bureau)
    assert "filename*=UTF-8''" + quote("优待证制发统计") in stats.headers["content-disposition"]
    assert load_workbook(BytesIO(stats.content)).active.freeze_panes == "A3"
