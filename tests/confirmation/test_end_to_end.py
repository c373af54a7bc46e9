"""A whole campaign over a generated county (10 stations, 5,000 people) through the HTTP API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
from openpyxl import load_workbook
from sanic import Sanic

from models.confirmation import AgeBracket, Confirmation, ConfirmationStatus, DeathRecord
from models.registry import Beneficiary, PaymentStatus, PhotoKind
from models.staff import Staff
from server import clock
from server.actors import SYSTEM
from server.confirmation import rules
from server.confirmation.reports import generate_weekly_reports
from server.registry import service as registry
from server.registry.service import decrypt_id_number
from server.seed import seed_demo_county
from server.wechat.standin import StandinControl
from tests.confirmation.helpers import face_kit
from tests.confirmation.helpers_admin import board_photo, ledger_csv, month_shift
from tests.factories import login
from tests.miniapp.helpers import mini_login


async def _headers(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    return await login(client, await Staff.get(username=username), "demo-password-2026")


async def test_campaign_end_to_end_over_a_generated_county(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    summary = await seed_demo_county(stations=10, beneficiaries=5000, seed=21)
    assert summary["beneficiaries"] == 5000
    today = date.today()
    bureau = await _headers(client, "bureau1")
    station1 = await _headers(client, "station01")
    station1_id = summary["stations"][0]["id"]

    # A campaign whose implementation stage has just ended: the notice stage is running.
    dates = {
        "reference_date": (today - timedelta(days=100)).isoformat(),
        "publicity_start": (today - timedelta(days=120)).isoformat(),
        "publicity_end": (today - timedelta(days=111)).isoformat(),
        "implementation_start": (today - timedelta(days=110)).isoformat(),
        "implementation_end": (today - timedelta(days=63)).isoformat(),
        "notice_start": (today - timedelta(days=62)).isoformat(),
        "notice_end": (today + timedelta(days=30)).isoformat(),
        "summary_start": (today - timedelta(days=50)).isoformat(),
        "summary_end": (today - timedelta(days=45)).isoformat(),
    }
    created = await client.post("/api/campaigns", headers=bureau, json={"year": today.year, "dates": dates})
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    opened = (await client.post(f"/api/campaigns/{campaign_id}/open", headers=bureau)).json()
    assert opened["created"] == 5000

    # Self-service: one person passes, another fails (someone else's face) and the clerk decides.
    mine = await Confirmation.filter(campaign_id=campaign_id, station_id=station1_id).select_related("beneficiary").order_by("id").limit(400)
    passer, failer = mine[0].beneficiary, mine[1].beneficiary
    kit = face_kit(app)
    for person, openid, other in ((passer, "o-e2e-pass", False), (failer, "o-e2e-fail", True)):
        await registry.add_photo(actor=SYSTEM, beneficiary=person, data=kit.id_photo, kind=PhotoKind.ID_CARD, media_dir=app.ctx.settings.media_dir)
        user = await mini_login(client, wechat_standin, openid)
        assert (await client.post("/api/mp/bind", headers=user, json={"name": person.name, "id_number": decrypt_id_number(person)})).status_code == 201
        challenge = (await client.post("/api/mp/confirmation/challenge", headers=user, json={"beneficiary_id": person.id})).json()
        files = [("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(kit.frames_for(challenge["actions"], other=other))]
        result = (await client.post("/api/mp/confirmation/attempts", headers=user, data={"nonce": challenge["nonce"]}, files=files)).json()
        assert result["decision"] == ("fail" if other else "pass"), result
    queue = (await client.get("/api/review-items", headers=station1)).json()["items"]
    assert [q["beneficiary_id"] for q in queue] == [failer.id]
    decided = await client.post(f"/api/review-items/{queue[0]['id']}/decision", headers=station1, json={"accept": False, "reason": "人脸与身份证不符，请到站办理"})
    assert decided.json()["status"] == "rejected"

    # Station and home-visit records: every 80+ person of station 1 is visited, ten more confirmed at the station.
    visit = {"visited_at": datetime.now(UTC).isoformat(), "visitors": "站长、村干部", "outcome": "confirmed"}
    eighty = [c for c in mine if c.age_bracket == AgeBracket.AGE_80_PLUS and c.beneficiary_id not in (passer.id, failer.id)]
    for c in eighty:
        response = await client.post(f"/api/confirmations/{c.id}/home-visit", headers=station1, json=visit)
        assert response.status_code == 200, response.text
    at_station = [c for c in mine if c.age_bracket == AgeBracket.UNDER_70 and c.beneficiary_id not in (passer.id, failer.id)][:10]
    for c in at_station:
        assert (await client.post(f"/api/confirmations/{c.id}/station", headers=station1, json={"id_card_checked": True})).status_code == 200

    # Quotas reported right: recompute from the rows and compare with the report.
    report = (await client.get(f"/api/campaigns/{campaign_id}/progress", headers=bureau)).json()
    assert report["totals"]["people"] == 5000
    assert report["totals"]["confirmed"] == 1 + len(eighty) + len(at_station)
    assert report["totals"]["by_self_service"] == 1 and report["totals"]["by_station"] == len(at_station) and report["totals"]["by_home_visit"] == len(eighty)
    for row in [r for r in report["rows"] if r["station_id"] == station1_id]:
        people = await Confirmation.filter(campaign_id=campaign_id, station_id=station1_id, age_bracket=row["age_bracket"]).count()
        assert row["people"] == people
        # People living away long-term are outside the home-visit base (quotas.py).
        away = await Confirmation.filter(campaign_id=campaign_id, station_id=station1_id, age_bracket=row["age_bracket"], beneficiary__lives_away=True).count()
        required = rules.required_home_visits(AgeBracket(row["age_bracket"]), people - away)
        assert row["home_visits_required"] == required and row["lives_away"] == away
        if row["age_bracket"] == AgeBracket.AGE_80_PLUS.value:
            assert row["home_visited"] == len(eighty) and row["home_visit_quota_met"] == (len(eighty) >= required)
    needed = (await client.get(f"/api/campaigns/{campaign_id}/visits-needed?station_id={station1_id}", headers=station1)).json()["items"]
    assert needed and needed[0]["status"] != "confirmed"

    # Notice → 60 days → proposals → batch approval → suspension.
    notice = await client.post(f"/api/campaigns/{campaign_id}/notices", headers=station1, json={})
    assert notice.status_code == 201, notice.text
    # The entries come a page at a time (the first page with the answer); people is their total.
    assert notice.json()["page"] == 1 and len(notice.json()["entries"]) == min(notice.json()["people"], notice.json()["page_size"])
    entries = []
    for page in range(1, 100):
        chunk = (await client.get(f"/api/notices/{notice.json()['id']}?page={page}&page_size=150", headers=station1)).json()["entries"]
        if not chunk:
            break
        entries += chunk
    assert len(entries) == notice.json()["people"] > 150 and all("*" in e["name"] and "********" in e["id_number"] for e in entries)
    assert entries[:200] == notice.json()["entries"]
    xlsx = await client.get(f"/api/notices/{notice.json()['id']}/xlsx", headers=station1)
    assert load_workbook(io.BytesIO(xlsx.content)).active.max_row == len(entries) + 2
    assert "未确认人员公告" in (await client.get(f"/api/notices/{notice.json()['id']}/print", headers=station1)).text
    clock.set_offset(timedelta(days=-61))  # published 61 days ago, on the server's clock
    published = await client.post(f"/api/notices/{notice.json()['id']}/publish", headers=station1, files={"town_board": ("board.jpg", board_photo(), "image/jpeg")})
    published_on = clock.china_today()
    clock.reset()
    assert published.status_code == 200, published.text
    assert published.json()["published_on"] == published_on.isoformat() and published.json()["channels"] == ["town_board"]
    proposed = (await client.post(f"/api/campaigns/{campaign_id}/suspension-proposals", headers=bureau, json={})).json()
    assert proposed["created"] == len(entries)
    again = (await client.post(f"/api/campaigns/{campaign_id}/suspension-proposals", headers=bureau, json={})).json()
    assert again["created"] == 0
    proposals = (await client.get(f"/api/campaigns/{campaign_id}/suspension-proposals?status=proposed", headers=bureau)).json()["items"]
    batch = [p["id"] for p in proposals[:5]]
    assert (await client.post("/api/suspension-proposals/approve", headers=station1, json={"proposal_ids": batch})).status_code == 403
    approved = (await client.post("/api/suspension-proposals/approve", headers=bureau, json={"proposal_ids": batch})).json()
    assert approved["approved"] == sorted(batch)
    suspended_person = await Beneficiary.get(id=proposals[0]["beneficiary_id"])
    assert suspended_person.payment_status == PaymentStatus.SUSPENDED
    history = (await client.get(f"/api/beneficiaries/{suspended_person.id}", headers=bureau)).json()["status_history"]
    assert history[-1]["to"] == "suspended" and history[-1]["effective_date"] == rules.first_day_of_next_month(today).isoformat()

    # The suspended person is confirmed at the station → resumption → bureau sign-off → active.
    confirmation = await Confirmation.get(campaign_id=campaign_id, beneficiary_id=suspended_person.id)
    assert (await client.post(f"/api/confirmations/{confirmation.id}/station", headers=station1, json={"id_card_checked": True})).status_code == 200
    pending = (await client.get("/api/resumptions?status=pending", headers=bureau)).json()["items"]
    assert [r["beneficiary_id"] for r in pending] == [suspended_person.id]
    assert pending[0]["resume_from"] == rules.first_day_of_next_month(today).isoformat()
    signed = await client.post(f"/api/resumptions/{pending[0]['id']}/sign-off", headers=bureau)
    assert signed.json()["status"] == "signed_off"
    assert (await Beneficiary.get(id=suspended_person.id)).payment_status == PaymentStatus.ACTIVE

    # Deaths: an import marks two people deceased with overpayments; unmatched rows are reported; re-import changes nothing.
    dead_a, dead_b = [c.beneficiary for c in mine[300:302]]
    died_on = date(today.year - (today.month <= 3), (today.month - 4) % 12 + 1, 15)
    rows = [["身份证号", "姓名", "死亡日期", "来源"], [decrypt_id_number(dead_a), dead_a.name, died_on.isoformat(), "民政"], [decrypt_id_number(dead_b), dead_b.name, died_on.isoformat(), "殡葬"], ["320723194001010000"[:17] + "X", "查无此人", "2026-01-01", "公安"], [decrypt_id_number(dead_a)[:17] + "0" if decrypt_id_number(dead_a)[17] != "0" else decrypt_id_number(dead_a)[:17] + "1", "错号", "2026-01-01", "公安"]]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    data = buffer.getvalue().encode()
    # The payment system's files: both paid every month from before the death up to this month.
    paid = [month_shift(died_on, k, dom=1) for k in range(-1, rules.months_between(died_on, today) + 1)]
    ledger = ledger_csv([(decrypt_id_number(p), p.name, m, Decimal(p.monthly_amount)) for p in (dead_a, dead_b) for m in paid])
    loaded = (await client.post("/api/payment-files", headers=bureau, files={"file": ("ledger.csv", ledger, "text/csv")})).json()
    assert loaded["recorded"] == 2 * len(paid) and loaded["rejected"] == 0, loaded
    imported = (await client.post("/api/deaths/import", headers=bureau, files={"file": ("deaths.csv", data, "text/csv")})).json()
    assert imported["recorded"] == 2 and imported["unmatched"] + imported["rejected"] == 2
    months = rules.months_between(died_on, today)
    record = await DeathRecord.get(beneficiary_id=dead_a.id)
    assert record.overpaid_months == months and Decimal(record.overpayment_amount) == Decimal(dead_a.monthly_amount) * months
    assert (await Beneficiary.get(id=dead_a.id)).payment_status == PaymentStatus.DECEASED
    assert (await Confirmation.get(campaign_id=campaign_id, beneficiary_id=dead_a.id)).status == ConfirmationStatus.DECEASED
    reimported = (await client.post("/api/deaths/import", headers=bureau, files={"file": ("deaths.csv", data, "text/csv")})).json()
    assert reimported["recorded"] == 0 and reimported["already_recorded"] == 2
    outstanding = (await client.get("/api/overpayments", headers=bureau)).json()["items"]
    target = next(o for o in outstanding if o["beneficiary_id"] == dead_a.id)
    recovered = await client.post(f"/api/overpayments/{target['id']}/recoveries", headers=bureau, json={"amount": target["outstanding_amount"], "recovered_on": today.isoformat(), "note": "家属退回"})
    assert recovered.json()["status"] == "recovered"

    # Two spot checks after implementation; a re-draw from the seed gives the same sample.
    status = (await client.get(f"/api/campaigns/{campaign_id}/spot-checks", headers=bureau)).json()
    assert status["warning"]
    first = (await client.post(f"/api/campaigns/{campaign_id}/spot-checks", headers=bureau, json={"size": 5, "seed": "2026-first"})).json()
    second = (await client.post(f"/api/campaigns/{campaign_id}/spot-checks", headers=bureau, json={"percentage": 10})).json()
    assert first["sample_size"] == 5 and second["seed"]
    assert (await client.get(f"/api/spot-checks/{first['id']}/verify", headers=bureau)).json()["matches"] is True
    items = (await client.get(f"/api/spot-checks/{first['id']}/items", headers=bureau)).json()["items"]
    assert (await client.post(f"/api/spot-check-items/{items[0]['id']}/result", headers=bureau, json={"result": "verified", "notes": "电话核实"})).status_code == 200
    assert (await client.get(f"/api/campaigns/{campaign_id}/spot-checks", headers=bureau)).json()["warning"] is None

    # The Friday snapshot: XLSX opens with openpyxl and matches the JSON.
    friday = datetime.now(UTC)
    while friday.astimezone(rules_china()).weekday() != 4:
        friday += timedelta(days=1)
    made = await generate_weekly_reports(now=friday, media_dir=app.ctx.settings.media_dir)
    assert len(made) == 1 and not await generate_weekly_reports(now=friday, media_dir=app.ctx.settings.media_dir)
    snapshots = (await client.get(f"/api/campaigns/{campaign_id}/weekly-reports", headers=bureau)).json()["items"]
    workbook = load_workbook(io.BytesIO((await client.get(snapshots[0]["xlsx"], headers=bureau)).content))
    sheet_rows = list(workbook.active.iter_rows(min_row=3, values_only=True))
    data_rows = made[0].data["rows"]
    assert len(sheet_rows) == len(data_rows) + 1
    for sheet_row, json_row in zip(sheet_rows, data_rows, strict=False):
        assert sheet_row[0] == json_row["station"] and sheet_row[2] == json_row["people"] and sheet_row[3] == json_row["confirmed"]
        assert sheet_row[5:10] == (json_row["by_home_visit"], json_row["by_station"], json_row["by_self_service"], json_row["home_visited"], json_row["home_visits_required"])
    assert sheet_rows[-1][2] == made[0].data["totals"]["people"]

    final = (await client.get(f"/api/campaigns/{campaign_id}/summary", headers=bureau)).json()
    assert final["people"] == 5000 and final["deaths"] == 2 and final["suspensions"]["approved"] == 5
    assert final["open_problems"]["spot_check_warning"] is None


def rules_china():  # type: ignore[no-untyped-def]
    from server.clock import CHINA_TZ

    return CHINA_TZ
