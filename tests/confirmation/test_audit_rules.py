"""The rules an auditor checks, end to end over HTTP: 100 % reachable when someone died or moved
away, successful visits only, living away, the first-year face-to-face rule, the summary document
recounted from the database, the Friday ranking, closing a campaign, city scope, hardship cases,
village notices and the issuer from settings."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from docx import Document
from openpyxl import load_workbook
from sanic import Sanic

from models.confirmation import (
    AgeBracket,
    Campaign,
    CampaignStatus,
    Confirmation,
    ConfirmationMethod,
    ConfirmationStatus,
    ReportSnapshot,
)
from models.org import OrgKind, OrgUnit
from models.staff import Role, Staff
from server import clock
from server.actors import SYSTEM
from server.auth.scope import Scope
from server.confirmation import campaigns
from server.confirmation.reminders import queue_confirmation_reminders
from server.confirmation.reports import generate_weekly_reports
from server.registry.service import decrypt_id_number
from server.seed import seed_demo_county
from tests.confirmation.helpers_admin import (
    board_photo,
    china_today,
    confirmation_of,
    csv_bytes,
    month_shift,
    months_back,
    office,
    open_campaign,
    pay_months,
    people,
    set_state,
)
from tests.factories import login, make_beneficiary, make_county, staff_headers

VISIT = {"visited_at": "2026-11-20T09:00:00+08:00", "visitors": "站长"}


def _cell(report: dict, station_id: int, bracket: AgeBracket) -> dict:
    return next(r for r in report["rows"] if r["station_id"] == station_id and r["age_bracket"] == bracket.value)


async def test_full_marks_are_reachable_when_someone_died_or_moved_and_only_successful_visits_count(client: httpx.AsyncClient) -> None:
    o = await office(client, "Q")
    today = china_today()
    met, died, moved, missed = await people(o.county.station_a, ["钱见面", "钱已故", "钱迁出", "钱未遇"], bracket=AgeBracket.AGE_80_PLUS)
    (away, near) = await people(o.county.station_a, ["孙在外", "孙在家"], bracket=AgeBracket.UNDER_70)
    await away.filter(id=away.id).update(lives_away=True)
    campaign = await open_campaign(o.county.district, implementation_end=today + timedelta(days=20))
    url = f"/api/campaigns/{campaign.id}/progress"

    def visit(outcome: dict[str, str]) -> dict[str, str]:
        return {**VISIT, **outcome}

    c_met, c_died, c_moved, c_missed = [await confirmation_of(campaign, p) for p in (met, died, moved, missed)]
    assert (await client.post(f"/api/confirmations/{c_missed.id}/home-visit", headers=o.station_a, json=visit({"outcome": "not_found"}))).status_code == 200
    assert (await client.post(f"/api/confirmations/{c_met.id}/home-visit", headers=o.station_a, json=visit({"outcome": "confirmed"}))).status_code == 200
    assert (await client.post(f"/api/confirmations/{c_died.id}/home-visit", headers=o.station_a, json=visit({"outcome": "death_reported", "death_date": month_shift(today, -1).isoformat()}))).status_code == 200
    cell = _cell((await client.get(url, headers=o.bureau)).json(), o.county.station_a.id, AgeBracket.AGE_80_PLUS)
    # Two visits failed or found a death: only the successful one is a home visit; the dead leave the count.
    assert (cell["people"], cell["deceased"], cell["to_confirm"], cell["home_visited"], cell["home_visits_required"]) == (4, 1, 3, 1, 3)
    assert not cell["fully_confirmed"]

    # Moving out needs a reason; then the person leaves the count too.
    assert (await client.post(f"/api/confirmations/{c_moved.id}/moved-out", headers=o.station_a, json={"note": ""})).status_code == 422
    assert (await client.post(f"/api/confirmations/{c_moved.id}/moved-out", headers=o.station_b, json={"note": "迁往连云港市海州区"})).status_code == 404
    moved_json = (await client.post(f"/api/confirmations/{c_moved.id}/moved-out", headers=o.station_a, json={"note": "户籍及档案迁往连云港市海州区"})).json()
    assert moved_json["status"] == "moved"
    assert (await client.post(f"/api/confirmations/{(await confirmation_of(campaign, missed)).id}/station", headers=o.station_a, json={"id_card_checked": True})).status_code == 200
    cell = _cell((await client.get(url, headers=o.bureau)).json(), o.county.station_a.id, AgeBracket.AGE_80_PLUS)
    assert (cell["deceased"], cell["moved_out"], cell["to_confirm"], cell["confirmed"], cell["confirmed_pct"]) == (1, 1, 2, 2, 100.0)
    assert cell["home_visits_required"] == 2 and cell["home_visits_missing"] == 1  # 80+: everyone visited at home
    assert (await client.post(f"/api/confirmations/{(await confirmation_of(campaign, missed)).id}/home-visit", headers=o.station_a, json=visit({"outcome": "confirmed"}))).status_code == 200
    report = (await client.get(url, headers=o.bureau)).json()
    cell = _cell(report, o.county.station_a.id, AgeBracket.AGE_80_PLUS)
    assert cell["home_visit_quota_met"] and cell["fully_confirmed"] and cell["confirmed_pct"] == 100.0
    assert next(b for b in report["by_bracket"] if b["age_bracket"] == "80_plus")["fully_confirmed"]

    # Living away: outside the home-visit base (self-service is theirs), still to confirm.
    young = _cell(report, o.county.station_a.id, AgeBracket.UNDER_70)
    assert (young["to_confirm"], young["lives_away"], young["home_visit_base"], young["home_visits_required"]) == (2, 1, 1, 1)
    needed = (await client.get(f"/api/campaigns/{campaign.id}/visits-needed", headers=o.station_a)).json()["items"]
    assert [n["name"] for n in needed] == [near.name]

    # The moved-out person is not noticed (not this county's any more).
    await Campaign.filter(id=campaign.id).update(implementation_end=today - timedelta(days=1), notice_start=today)
    notice = (await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.station_a, json={})).json()
    assert sorted(e["name"] for e in notice["entries"]) == sorted(["孙*家", "孙*外"])


async def test_first_year_requires_meeting_everyone_in_person(client: httpx.AsyncClient) -> None:
    o = await office(client, "F")
    today = china_today()
    online, away = await people(o.county.station_a, ["周线上", "周在外"])
    await away.filter(id=away.id).update(lives_away=True)
    campaign = await open_campaign(o.county.district, implementation_end=today + timedelta(days=20))
    await set_state(campaign, online, ConfirmationStatus.CONFIRMED, ConfirmationMethod.SELF_SERVICE)
    await set_state(campaign, away, ConfirmationStatus.CONFIRMED, ConfirmationMethod.SELF_SERVICE)
    report = (await client.get(f"/api/campaigns/{campaign.id}/progress", headers=o.bureau)).json()
    assert report["first_year"] and report["totals"]["confirmed_pct"] == 100.0
    assert report["totals"]["face_to_face_missing"] == 1 and not report["totals"]["fully_confirmed"]  # living away is exempt
    needed = (await client.get(f"/api/campaigns/{campaign.id}/visits-needed", headers=o.station_a)).json()
    assert needed["face_to_face_missing"] == 1 and [n["name"] for n in needed["items"]] == [online.name]
    await set_state(campaign, online, ConfirmationStatus.CONFIRMED, ConfirmationMethod.STATION)
    assert (await client.get(f"/api/campaigns/{campaign.id}/progress", headers=o.bureau)).json()["totals"]["fully_confirmed"]

    # The next year is not a first year: self-service alone completes it.
    scope = Scope(role=Role.ADMIN, org_unit_id=o.county.district.id, org_kind=OrgKind.DISTRICT)
    dates = campaigns.default_dates(campaign.year + 1)
    later = await campaigns.create_campaign(scope=scope, actor=SYSTEM, year=campaign.year + 1, name=None, district_id=o.county.district.id, dates=dates, categories=None)
    await campaigns.open_campaign(scope=scope, actor=SYSTEM, campaign_id=later.id)
    await set_state(later, online, ConfirmationStatus.CONFIRMED, ConfirmationMethod.SELF_SERVICE)
    await set_state(later, away, ConfirmationStatus.CONFIRMED, ConfirmationMethod.SELF_SERVICE)
    second = (await client.get(f"/api/campaigns/{later.id}/progress", headers=o.bureau)).json()
    assert not second["first_year"] and second["totals"]["fully_confirmed"] and second["totals"]["face_to_face_missing"] == 0
    assert second["totals"]["home_visit_quota_met"] is False  # the home-visit quota still applies


def _docx_tables(content: bytes) -> tuple[str, list[list[list[str]]]]:
    document = Document(io.BytesIO(content))
    text = "\n".join(p.text for p in document.paragraphs)
    return text, [[[c.text for c in row.cells] for row in table.rows] for table in document.tables]


async def test_summary_document_matches_a_recount_and_city_users_see_their_districts_only(client: httpx.AsyncClient, app: Sanic) -> None:
    seeded = await seed_demo_county(stations=3, beneficiaries=60, seed=5)
    bureau = await login(client, await Staff.get(username="bureau1"), "demo-password-2026")
    station1 = await login(client, await Staff.get(username="station01"), "demo-password-2026")
    city = await login(client, await Staff.get(username="city1"), "demo-password-2026")
    district = await OrgUnit.get(kind=OrgKind.DISTRICT, code=seeded["district_code"]) if "district_code" in seeded else await OrgUnit.filter(kind=OrgKind.DISTRICT).first()
    assert district is not None
    today = china_today()
    campaign = await open_campaign(district, implementation_end=today - timedelta(days=3))
    rows = await Confirmation.filter(campaign_id=campaign.id).select_related("beneficiary").order_by("id")
    for c in rows[:30]:
        await set_state(campaign, c.beneficiary, ConfirmationStatus.CONFIRMED, [ConfirmationMethod.HOME_VISIT, ConfirmationMethod.STATION, ConfirmationMethod.SELF_SERVICE][c.id % 3], home_visited=c.id % 3 == 0)
    dead = rows[30].beneficiary
    await pay_months(dead, months_back(today, -4))
    deaths = csv_bytes([["身份证号", "姓名", "死亡日期", "来源"], [decrypt_id_number(dead), dead.name, month_shift(today, -3).isoformat(), "民政"]])
    assert (await client.post("/api/deaths/import", headers=bureau, files={"file": ("d.csv", deaths, "text/csv")})).json()["recorded"] == 1
    assert (await client.post(f"/api/confirmations/{rows[31].id}/moved-out", headers=bureau, json={"note": "迁往南京市"})).status_code == 200
    tried = rows[32]
    await client.post(f"/api/confirmations/{tried.id}/contact-attempts", headers=bureau, json={"method": "phone", "outcome": "no_answer", "contact_phone": "13800000000"})

    response = await client.get(f"/api/campaigns/{campaign.id}/summary.docx", headers=bureau)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    text, tables = _docx_tables(response.content)
    for heading in ("一、基本情况", "二、未完成确认人员情况说明", "三、目前存在问题及建议", "局长办公会", "市局优抚处"):
        assert heading in text
    basic = {row[0]: row[1] for row in tables[0][1:]}

    # The recount, straight from the database.
    everyone = Confirmation.filter(campaign_id=campaign.id)
    deceased = await everyone.filter(status=ConfirmationStatus.DECEASED).count()
    moved = await everyone.filter(exclusion="moved_out").count()
    confirmed = await everyone.filter(status=ConfirmationStatus.CONFIRMED, exclusion__isnull=True).count()
    total = await everyone.count()
    assert basic["纳入确认人数"] == str(total)
    assert (basic["其中死亡"], basic["其中迁出本县"], basic["已确认"]) == (str(deceased), str(moved), str(confirmed)) == ("1", "1", "30")
    assert basic["扣除死亡、迁出后应确认"] == str(total - deceased - moved)
    assert basic["未完成确认"] == str(total - deceased - moved - confirmed)
    for method, label in ((ConfirmationMethod.HOME_VISIT, "上门服务确认"), (ConfirmationMethod.STATION, "服务站确认"), (ConfirmationMethod.SELF_SERVICE, "线上自助确认")):
        assert basic[label] == str(await everyone.filter(status=ConfirmationStatus.CONFIRMED, method=method).count())
    assert Decimal(basic["死亡后多发金额（元）"]) == Decimal(dead.monthly_amount) * 3
    unfinished = next(t for t in tables if t[0][:3] == ["序号", "服务站", "姓名"] and t[0][-1] == "未完成原因")
    pending = await everyone.filter(exclusion__isnull=True).exclude(status__in=[ConfirmationStatus.CONFIRMED, ConfirmationStatus.DECEASED]).select_related("beneficiary")
    assert sorted(r[2] for r in unfinished[1:]) == sorted(c.beneficiary.name for c in pending)
    reason = next(r[-1] for r in unfinished[1:] if r[2] == tried.beneficiary.name)
    assert "已联系1次" in reason and "无人接听" in reason
    assert all(r[-1] for r in unfinished[1:])

    # A station's document covers its own people only; a city user of another city sees nothing.
    own = _docx_tables((await client.get(f"/api/campaigns/{campaign.id}/summary.docx", headers=station1)).content)[1]
    assert int({r[0]: r[1] for r in own[0][1:]}["纳入确认人数"]) == await everyone.filter(station_id=(await Staff.get(username="station01")).org_unit_id).count()
    assert (await client.get(f"/api/campaigns/{campaign.id}/summary.docx", headers=city)).status_code == 200
    elsewhere = await make_county("W")
    stranger_city = await staff_headers(client, role=Role.CITY, unit=elsewhere.city)
    for path in (f"/api/campaigns/{campaign.id}/summary.docx", f"/api/campaigns/{campaign.id}/summary", f"/api/campaigns/{campaign.id}/weekly-reports"):
        assert (await client.get(path, headers=stranger_city)).status_code == 404


async def test_friday_ranking_station_download_and_closing_stops_the_jobs(client: httpx.AsyncClient, app: Sanic) -> None:
    o = await office(client, "R")
    today = china_today()
    fast = await people(o.county.station_a, ["吴一", "吴二"])
    slow = await people(o.county.station_b, ["郑一", "郑二"])
    campaign = await open_campaign(o.county.district, implementation_end=today + timedelta(days=10))
    for person in fast:
        await set_state(campaign, person, ConfirmationStatus.CONFIRMED, ConfirmationMethod.STATION)
    friday = datetime.now(UTC)
    while friday.astimezone(clock.CHINA_TZ).weekday() != 4:
        friday += timedelta(days=1)
    made = await generate_weekly_reports(now=friday, media_dir=app.ctx.settings.media_dir)
    assert len(made) == 1
    ranking = made[0].data["ranking"]
    assert [(r["station_id"], r["rank"], r["lagging"]) for r in ranking] == [(o.county.station_b.id, 1, True), (o.county.station_a.id, 2, False)]
    snapshots = (await client.get(f"/api/campaigns/{campaign.id}/weekly-reports", headers=o.station_b)).json()["items"]
    workbook = load_workbook(io.BytesIO((await client.get(snapshots[0]["xlsx"], headers=o.station_b)).content))
    sheet = list(workbook["镇街排名"].iter_rows(values_only=True))
    assert sheet[0][:2] == ("排名", "服务站") and sheet[1][1] == o.county.station_b.name and sheet[1][-1] == "是"

    # Closing: refused during implementation; after it, records are refused and the jobs stop.
    assert (await client.post(f"/api/campaigns/{campaign.id}/close", headers=o.bureau)).json()["error"]["code"] == "implementation_not_over"
    clock.set_offset(timedelta(days=12))
    assert (await client.post(f"/api/campaigns/{campaign.id}/close", headers=o.station_a)).status_code == 403
    closed = (await client.post(f"/api/campaigns/{campaign.id}/close", headers=o.bureau)).json()
    assert closed["status"] == "closed" and closed["closed_at"]
    assert (await Campaign.get(id=campaign.id)).status == CampaignStatus.CLOSED
    assert not await generate_weekly_reports(now=friday + timedelta(days=7), media_dir=app.ctx.settings.media_dir)
    assert await ReportSnapshot.all().count() == 1
    assert await queue_confirmation_reminders(now=clock.now(), interval_days=7) == 0
    c = await confirmation_of(campaign, slow[0])
    assert (await client.post(f"/api/confirmations/{c.id}/station", headers=o.station_b, json={"id_card_checked": True})).json()["error"]["code"] == "campaign_closed"


async def test_hardship_cases_with_measures_owner_and_follow_ups(client: httpx.AsyncClient) -> None:
    o = await office(client, "H")
    today = china_today()
    (poor,) = await people(o.county.station_a, ["冯困难"])
    body = {"beneficiary_id": poor.id, "situation": "独居，患慢性病，抚恤金不足以支付医药费", "measures": ["申请临时救助", "协调家庭医生签约"], "owner_name": "伊山镇服务站 王站长", "next_follow_up_due": (today + timedelta(days=14)).isoformat()}
    assert (await client.post("/api/hardship-cases", headers=o.station_b, json=body)).status_code == 404
    assert (await client.post("/api/hardship-cases", headers=o.station_a, json={**body, "next_follow_up_due": today.isoformat()})).json()["error"]["code"] == "bad_due_date"
    made = await client.post("/api/hardship-cases", headers=o.station_a, json=body)
    assert made.status_code == 201, made.text
    case = made.json()
    assert case["measures"] == body["measures"] and case["owner_name"] == body["owner_name"] and not case["overdue"]
    assert (await client.post("/api/hardship-cases", headers=o.station_a, json=body)).json()["error"]["code"] == "hardship_case_open"
    listed = (await client.get("/api/hardship-cases", headers=o.bureau)).json()
    assert [c["id"] for c in listed["items"]] == [case["id"]] and listed["per_station"] == [{"station_id": o.county.station_a.id, "open": 1, "overdue": 0}]
    assert (await client.get("/api/hardship-cases", headers=o.station_b)).json()["items"] == []

    clock.set_offset(timedelta(days=15))  # the follow-up date passes
    overdue = (await client.get("/api/hardship-cases?overdue=true", headers=o.station_a)).json()["items"]
    assert [c["id"] for c in overdue] == [case["id"]] and overdue[0]["overdue"]
    url = f"/api/hardship-cases/{case['id']}/follow-ups"
    assert (await client.post(url, headers=o.station_a, json={"note": "已上门"})).json()["error"]["code"] == "next_due_required"
    followed = (await client.post(url, headers=o.station_a, json={"note": "临时救助已到账", "effect": "医药费缺口解决", "next_due": (clock.china_today() + timedelta(days=30)).isoformat()})).json()
    assert not followed["overdue"] and len(followed["follow_ups"]) == 1
    closed = (await client.post(url, headers=o.station_a, json={"note": "家庭医生已签约", "effect": "生活基本稳定", "close": True})).json()
    assert closed["status"] == "closed" and closed["outcome"] == "生活基本稳定" and len(closed["follow_ups"]) == 2
    assert (await client.get("/api/hardship-cases", headers=o.bureau)).json()["items"] == []


async def test_village_notice_and_the_issuer_from_settings(client: httpx.AsyncClient, app: Sanic) -> None:
    o = await office(client, "V")
    today = china_today()
    villager = await make_beneficiary(station=o.county.station_a, name="陈村民", village_id=o.county.village_a.id)
    await people(o.county.station_a, ["陈镇上"])
    campaign = await open_campaign(o.county.district, implementation_end=today - timedelta(days=1))
    made = await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.station_a, json={"village_id": o.county.village_a.id})
    assert made.status_code == 201, made.text
    notice = made.json()
    assert notice["village_id"] == o.county.village_a.id and [e["name"] for e in notice["entries"]] == ["陈*民"]
    assert (await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.station_b, json={"village_id": o.county.village_a.id})).status_code == 404
    settings = app.ctx.settings.confirmation
    settings.notice_issuer = "灌云县退役军人事务局 灌云县财政局"
    try:
        page = (await client.get(f"/api/notices/{notice['id']}/print", headers=o.station_a)).text
        assert "灌云县退役军人事务局 灌云县财政局" in page and "伊山东村" in page
    finally:
        settings.notice_issuer = ""
    published = (await client.post(f"/api/notices/{notice['id']}/publish", headers=o.station_a, files={"village_board": ("v.jpg", board_photo(), "image/jpeg")})).json()
    assert published["channels"] == ["village_board"] and published["published_by_staff_id"]
    assert villager.id
