"""The card plan (谯退役军人优〔2022〕5号) end to end: eligibility, deaths, appointments to apply,
withdrawal, shipments' reports and station notices, the frozen monthly table, privacy."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import httpx
from sanic import Sanic

from models.audit import AuditEntry
from models.cards import (
    ApplicationStatus,
    Card,
    CardApplication,
    CardKind,
    CardStatus,
    MaterialDisposal,
    StationMonthlyReport,
)
from models.registry import Beneficiary, Category, PaymentStatus
from models.staff import Role
from server.actors import SYSTEM
from server.cards import applications
from server.cards.stats import generate_monthly_statistics
from server.registry.service import decrypt_id_number
from tests.cards.helpers import bind, make_applicant, mini_headers, ready_card, signed_headers
from tests.factories import make_county, make_staff, staff_headers
from tests.registry.test_registry_api import _tiny_png


async def test_eligibility_per_category_record_completeness_and_deceased(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    policeman = await make_applicant(station=county.station_a, category=Category.DISABLED_POLICE)
    for kind in ("veteran", "other_beneficiary"):
        refused = await client.post("/api/cards/applications", headers=station, json={"beneficiary_id": policeman.id, "card_kind": kind})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "not_entitled", refused.text
        assert "服现役" in refused.json()["error"]["message"]
    child = await make_applicant(station=county.station_a, category=Category.MARTYR_ELDERLY_CHILD)
    assert (await client.post("/api/cards/applications", headers=station, json={"beneficiary_id": child.id, "card_kind": "other_beneficiary"})).status_code == 201
    no_phone = await make_applicant(station=county.station_a, phone="")
    incomplete = await client.post("/api/cards/applications", headers=station, json={"beneficiary_id": no_phone.id, "card_kind": "veteran"})
    assert incomplete.status_code == 422 and incomplete.json()["error"]["code"] == "record_incomplete" and incomplete.json()["error"]["details"]["missing"] == ["phone"]
    dead = await make_applicant(station=county.station_a)
    await Beneficiary.filter(id=dead.id).update(payment_status=PaymentStatus.DECEASED, death_date=date(2026, 3, 1))
    deceased = await client.post("/api/cards/applications", headers=station, json={"beneficiary_id": dead.id, "card_kind": "veteran"})
    assert deceased.status_code == 422 and deceased.json()["error"]["code"] == "beneficiary_deceased"
    assert await CardApplication.filter(beneficiary_id__in=[policeman.id, no_phone.id, dead.id]).count() == 0

    cards_settings = app.ctx.settings.cards
    saved = cards_settings.review_period
    cards_settings.enforce_review_period = True
    try:
        cards_settings.review_period = ("01-01", "01-01") if date.today() != date(date.today().year, 1, 1) else ("12-31", "12-31")
        late = await make_applicant(station=county.station_a)
        outside = await client.post("/api/cards/applications", headers=station, json={"beneficiary_id": late.id, "card_kind": "veteran"})
        assert outside.status_code == 422 and outside.json()["error"]["code"] == "outside_review_period"
    finally:
        cards_settings.enforce_review_period = False
        cards_settings.review_period = saved


async def test_death_import_flags_open_application_and_undelivered_card(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    applicant = await make_applicant(station=county.station_a, name="王大山")
    holder = await make_applicant(station=county.station_b, name="李秀英")
    application = await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=applicant, card_kind=CardKind.VETERAN, channel="on_site")
    card = await ready_card(app, holder, tracking="SF-DEATH")
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["身份证号", "姓名", "死亡日期", "来源"], [decrypt_id_number(applicant), "王大山", "2026-10-02", "民政"], [decrypt_id_number(holder), "李秀英", "2026-10-03", "殡葬"]])
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    imported = await client.post("/api/deaths/import", headers=bureau, files={"file": ("deaths.csv", buffer.getvalue().encode(), "text/csv")})
    assert imported.status_code == 200, imported.text
    flagged = await CardApplication.get(id=application.id)
    assert flagged.flagged and "2026-10-02" in flagged.problem_note and flagged.status == ApplicationStatus.STATION_CHECK
    await CardApplication.filter(id=application.id).update(status=ApplicationStatus.CENTRE_VERIFICATION)
    centre = await staff_headers(client, role=Role.CENTRE, unit=county.district)
    stopped = await client.post(f"/api/cards/applications/{application.id}/transition", headers=centre, json={"action": "pass"})
    assert stopped.status_code == 422 and stopped.json()["error"]["code"] == "beneficiary_deceased"
    assert (await Card.get(id=card.id)).flagged
    station_b = await staff_headers(client, role=Role.STATION, unit=county.station_b)
    notices = (await client.get("/api/cards/station-notices?unread=true", headers=station_b)).json()["items"]
    assert [n["kind"] for n in notices] == ["flagged_death"] and notices[0]["data"]["cards"] == [card.id]
    blocked = await client.post(f"/api/cards/cards/{card.id}/deliver", headers=station_b, json={"method": "active_delivery", "received_by": "holder", "id_checked": True})
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "card_flagged"
    problems = (await client.get("/api/cards/applications?problems=true", headers=bureau)).json()["items"]
    assert [a["id"] for a in problems] == [application.id]

    remarried = await make_applicant(station=county.station_a, name="孙秀兰", category=Category.MARTYR_FAMILY)
    open_app = await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=remarried, card_kind=CardKind.OTHER_BENEFICIARY, channel="on_site")
    findings = io.StringIO()
    csv.writer(findings).writerows([["身份证号", "姓名", "来源", "比对结果"], [decrypt_id_number(remarried), "孙秀兰", "婚姻", "2026-05-01 再婚登记"], [decrypt_id_number(remarried), "别人", "婚姻", "x"], ["123", "某", "公安", "x"]])
    result = (await client.post("/api/cards/cross-checks/import", headers=bureau, files={"file": ("checks.csv", findings.getvalue().encode(), "text/csv")})).json()
    assert result["counts"] == {"flagged": 1, "no_open_card_work": 0, "unmatched": 1, "rejected": 1}
    assert (await CardApplication.get(id=open_app.id)).problem_note == "民政婚姻登记比对：2026-05-01 再婚登记"


async def test_on_site_appointment_booked_checked_in_and_withdrawal_by_applicant(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_applicant(station=county.station_a)
    user, headers = await mini_headers(app, "o-apply-appt")
    await bind(user, person)
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    start = date.today() + timedelta(days=3)
    published = await client.post("/api/cards/application-slots", headers=station, json={"station_id": county.station_a.id, "start": start.isoformat(), "days": 20, "windows": [["09:00", "10:00"]], "capacity": 1})
    assert published.status_code == 201 and published.json()["items"], published.text
    slots = (await client.get(f"/api/mp/cards/application-slots?beneficiary_id={person.id}", headers=headers)).json()["items"]
    slot_id = slots[0]["id"]
    booked = await client.post("/api/mp/cards/application-appointments", headers={**headers, "Idempotency-Key": "k1"}, json={"beneficiary_id": person.id, "slot_id": slot_id})
    assert booked.status_code == 201, booked.text
    again = await client.post("/api/mp/cards/application-appointments", headers={**headers, "Idempotency-Key": "k1"}, json={"beneficiary_id": person.id, "slot_id": slot_id})
    assert again.status_code == 200 and again.json()["id"] == booked.json()["id"]
    other = await make_applicant(station=county.station_a)
    other_user, other_headers = await mini_headers(app, "o-apply-full")
    await bind(other_user, other)
    full = await client.post("/api/mp/cards/application-appointments", headers={**other_headers, "Idempotency-Key": "k2"}, json={"beneficiary_id": other.id, "slot_id": slot_id})
    assert full.status_code == 409 and full.json()["error"]["code"] == "slot_full"
    day_list = (await client.get(f"/api/cards/application-appointments?day={slots[0]['day']}", headers=station)).json()["items"]
    assert [a["beneficiary_id"] for a in day_list] == [person.id]
    checked = await client.post("/api/cards/application-appointments/check-in", headers=station, json={"short_code": booked.json()["short_code"].lower()})
    assert checked.json()["status"] == "checked_in"

    created = await client.post("/api/cards/applications", headers=station, json={"beneficiary_id": person.id, "card_kind": "veteran"})
    app_id = created.json()["id"]
    no_reason = await client.post(f"/api/mp/cards/applications/{app_id}/withdraw", headers=headers, json={})
    assert no_reason.json()["error"]["code"] == "reason_required"
    withdrawn = await client.post(f"/api/mp/cards/applications/{app_id}/withdraw", headers=headers, json={"reason": "本人暂不申领"})
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await client.post(f"/api/mp/cards/applications/{app_id}/withdraw", headers=headers, json={"reason": "再次撤回"})).json()["error"]["code"] == "not_withdrawable"
    # Withdrawn: a new application may be made.
    assert (await client.post("/api/cards/applications", headers=station, json={"beneficiary_id": person.id, "card_kind": "veteran"})).status_code == 201
    timeline = (await client.get("/api/mp/cards/timeline", headers=headers)).json()
    assert [b["from"][5:] for b in timeline["batches"]] == ["03-01", "04-01", "05-01"] and timeline["stages"][2]["to"][5:] == "11-30"


async def test_shipment_discrepancy_refusal_reports_notices_and_district_scope(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    people = [await make_applicant(station=s) for s in (county.station_a, county.station_b)]
    ids = []
    for person in people:
        a = await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=person, card_kind=CardKind.VETERAN, channel="on_site")
        await CardApplication.filter(id=a.id).update(status=ApplicationStatus.APPROVED, open_key=None)
        ids.append(a.id)
    centre = await staff_headers(client, role=Role.CENTRE, unit=county.district)
    short = {"tracking_number": "SF900", "expected_count": 3, "counted_count": 2, "envelope_intact": True, "cards_intact": True, "application_ids": ids}
    accepted = await client.post("/api/cards/shipments", headers=centre, data={"data": json.dumps(short)})
    assert accepted.status_code == 201 and accepted.json()["discrepancy"] == -1
    refused = await client.post("/api/cards/shipments", headers=centre, data={"data": json.dumps({**short, "tracking_number": "SF901", "envelope_intact": False, "damage_description": "信封撕裂"})})
    assert refused.json()["status"] == "refused"
    city = await staff_headers(client, role=Role.CITY, unit=county.city)
    sent = (await client.get("/api/cards/reports", headers=city)).json()["items"]
    assert sorted(r["kind"] for r in sent) == ["shipment_discrepancy", "shipment_refused"]
    assert all(r["route"] == ["市退役军人事务局", "省退役军人服务中心"] for r in sent)
    refusal = next(r for r in sent if r["kind"] == "shipment_refused")
    document = await client.get(f"/api/cards/reports/{refusal['id']}/document", headers=city)
    assert "SF901" in document.text and "信封撕裂" in document.text
    received = await client.post(f"/api/cards/reports/{refusal['id']}/receive", headers=city)
    assert received.json()["received_at"] is not None
    station_a = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    notices = (await client.get("/api/cards/station-notices", headers=station_a)).json()["items"]
    assert [n["kind"] for n in notices] == ["cards_ready"] and "SF900" in notices[0]["message"]
    other = await make_county("Y")
    their_centre = await staff_headers(client, role=Role.CENTRE, unit=other.district)
    assert (await client.get(f"/api/cards/shipments/{accepted.json()['id']}", headers=their_centre)).status_code == 404
    assert (await client.get("/api/cards/shipments", headers=their_centre)).json()["items"] == []
    assert (await client.get("/api/cards/reports", headers=their_centre)).json()["items"] == []
    assert len((await client.get("/api/cards/shipments", headers=centre)).json()["items"]) == 2


async def test_statistics_frozen_on_the_20th_equal_a_recount(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    mix = [(county.station_a, Category.WAR_VETERAN), (county.station_a, Category.MARTYR_FAMILY), (county.station_a, Category.DISABLED_POLICE), (county.station_b, Category.VETERAN), (county.station_b, Category.RURAL_VETERAN_60)]
    people = [await make_applicant(station=s, category=c) for s, c in mix]
    for person in (people[0], people[1], people[3]):
        kind = CardKind.OTHER_BENEFICIARY if person.category == Category.MARTYR_FAMILY else CardKind.VETERAN
        await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=person, card_kind=kind, channel="on_site")
    card = await ready_card(app, people[4], tracking="SF-STAT")
    await Card.filter(id=card.id).update(status=CardStatus.DELIVERED, delivered_at=datetime.now(UTC))
    station_a = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    reported = await client.post("/api/cards/statistics/station-reports", headers=station_a, json={"station_id": county.station_a.id})
    assert reported.status_code == 201 and reported.json()["data"]["eligible"] == 2
    assert (await client.post("/api/cards/statistics/station-reports", headers=station_a, json={"station_id": county.station_a.id})).json()["error"]["code"] == "already_reported"

    media_dir = app.ctx.settings.media_dir
    period = reported.json()["period"]
    year, month = (int(x) for x in period.split("-"))
    # Reported on the 10th (the test may run on any day of the month).
    await StationMonthlyReport.filter(id=reported.json()["id"]).update(created_at=datetime(year, month, 10, 2, tzinfo=UTC))
    before = datetime(year, month, 19, 15, 59, tzinfo=UTC)  # 23:59 on the 19th in China
    assert await generate_monthly_statistics(now=before, media_dir=media_dir) == []
    frozen_at = datetime(year, month, 19, 16, 5, tzinfo=UTC)  # 00:05 on the 20th in China
    made = await generate_monthly_statistics(now=frozen_at, media_dir=media_dir)
    assert [s.scope_unit_id for s in made] == [county.district.id]
    assert await generate_monthly_statistics(now=frozen_at + timedelta(hours=6), media_dir=media_dir) == []

    # A recount straight from the rows.
    eligible = await Beneficiary.filter(station__parent_id=county.district.id).exclude(category__in=[Category.DISABLED_POLICE, Category.OTHER]).count()
    applied = await CardApplication.filter(station_id__in=[county.station_a.id, county.station_b.id]).exclude(status=ApplicationStatus.WITHDRAWN).count()
    delivered = await Card.filter(status=CardStatus.DELIVERED, station_id__in=[county.station_a.id, county.station_b.id]).count()
    # Something changes after the freeze: the frozen table does not move.
    await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=await make_applicant(station=county.station_b), card_kind=CardKind.VETERAN, channel="on_site")

    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    table = (await client.get(f"/api/cards/statistics/monthly/{period}", headers=bureau)).json()["items"][0]
    assert table["frozen"] and table["frozen_at"].startswith(f"{period}-20T00:05")
    totals = table["totals"]
    assert (totals["eligible"], totals["applied"], totals["cards_delivered"]) == (eligible, applied, delivered) == (4, 4, 1)
    assert totals["application_rate"] == 100.0 and totals["delivery_rate"] == 25.0
    by_station = {r["station_id"]: r for r in table["rows"]}
    assert by_station[county.station_a.id]["eligible"] == 2 and by_station[county.station_b.id]["applied"] == 2
    categories = {c["category"]: c for c in table["categories"]}
    assert categories["martyr_family"]["eligible"] == 1 and categories["martyr_family"]["applied"] == 1 and categories["rural_veteran_60"]["cards_delivered"] == 1
    assert "disabled_police" not in categories
    reports = {r["station_id"]: r for r in table["station_reports"]}
    assert reports[county.station_a.id]["on_time"] and reports[county.station_b.id]["submitted_at"] is None
    other = await make_county("Z")
    theirs = await staff_headers(client, role=Role.BUREAU, unit=other.district)
    assert (await client.get(f"/api/cards/statistics/monthly/{period}", headers=theirs)).json()["items"][0]["district_id"] == other.district.id
    xlsx = await client.get(f"/api/cards/statistics/snapshots/{table['snapshot_id']}/xlsx", headers=theirs)
    assert xlsx.status_code == 404
    assert (await client.get(f"/api/cards/statistics/snapshots/{table['snapshot_id']}/xlsx", headers=bureau)).status_code == 200


async def test_staff_without_signed_agreement_refused_personal_data(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_applicant(station=county.station_a)
    application = await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=person, card_kind=CardKind.VETERAN, channel="on_site")
    clerk_row = await make_staff(role=Role.STATION, unit=county.station_a)
    from tests.factories import login

    clerk = await login(client, clerk_row)
    upload = await client.post(f"/api/cards/applications/{application.id}/forms/application_form", headers=clerk, files={"file": ("f.png", _tiny_png(), "image/png")})
    assert upload.status_code == 200
    for url in (f"/api/cards/applications/{application.id}/print", f"/api/cards/applications/{application.id}/documents/application_form"):
        refused = await client.get(url, headers=clerk)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "confidentiality_agreement_required"
    bureau_row = await make_staff(role=Role.BUREAU, unit=county.district)
    bureau = await login(client, bureau_row)
    assert (await client.post("/api/cards/privacy/agreements", headers=bureau, json={"staff_id": bureau_row.id, "signed_on": "2026-03-01"})).json()["error"]["code"] == "self_recording"
    recorded = await client.post("/api/cards/privacy/agreements", headers=bureau, data={"staff_id": str(clerk_row.id), "signed_on": "2026-03-01"}, files={"document": ("a.png", _tiny_png(), "image/png")})
    assert recorded.status_code == 201 and recorded.json()["has_document"], recorded.text
    printed = await client.get(f"/api/cards/applications/{application.id}/print", headers=clerk)
    assert printed.status_code == 200 and decrypt_id_number(person) in printed.text
    viewed = await client.get(f"/api/cards/applications/{application.id}/documents/application_form", headers=clerk)
    assert viewed.status_code == 200 and viewed.content == _tiny_png()
    actions = await AuditEntry.filter(entity_type="card_application", entity_id=str(application.id)).values_list("action", flat=True)
    assert "card_application.forms_printed" in actions and "card_application.form_viewed" in actions
    revoked = await client.post(f"/api/cards/privacy/agreements/{clerk_row.id}/revoke", headers=bureau, json={"reason": "调离"})
    assert revoked.status_code == 200
    assert (await client.get(f"/api/cards/applications/{application.id}/print", headers=clerk)).status_code == 403


async def test_materials_destroyed_after_retention_with_a_record_and_catalogue_for_holders(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_applicant(station=county.station_a)
    user, headers = await mini_headers(app, "o-holder-cat")
    await bind(user, person)
    card = await ready_card(app, person, tracking="SF-RET")
    application = await CardApplication.get(id=card.application_id)
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    await CardApplication.filter(id=application.id).update(status=ApplicationStatus.STATION_CHECK)
    await client.post(f"/api/cards/applications/{application.id}/forms/bank_form", headers=station, files={"file": ("b.png", _tiny_png(), "image/png")})
    await CardApplication.filter(id=application.id).update(status=ApplicationStatus.APPROVED)
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    url = f"/api/cards/applications/{application.id}/materials"
    assert (await client.post(url, headers=bureau, json={"action": "destroyed", "reason": "保存期满"})).json()["error"]["code"] == "application_not_closed"
    await Card.filter(id=card.id).update(status=CardStatus.DELIVERED, delivered_at=datetime.now(UTC) - timedelta(days=10))
    assert (await client.post(url, headers=bureau, json={"action": "destroyed", "reason": "保存期满"})).json()["error"]["code"] == "retention_not_over"
    assert (await client.post(url, headers=bureau, json={"action": "archived", "reason": "按档案管理规定归档"})).status_code == 201
    await Card.filter(id=card.id).update(delivered_at=datetime.now(UTC) - timedelta(days=400))
    destroyed = await client.post(url, headers=bureau, json={"action": "destroyed", "reason": "保存期满，经批准销毁"})
    assert destroyed.status_code == 201 and destroyed.json()["files"][0]["form"] == "bank_form"
    after = await CardApplication.get(id=application.id)
    assert after.materials_status == "destroyed" and after.bank_form_path is None
    assert [d.action for d in await MaterialDisposal.filter(application_id=application.id).order_by("id")] == ["archived", "destroyed"]

    not_yet = await client.get(f"/api/mp/cards/catalogue?beneficiary_id={person.id}", headers=headers)
    assert not_yet.status_code == 404 and not_yet.json()["error"]["code"] == "catalogue_not_published"
    published = await client.post("/api/cards/catalogue", headers=bureau, json={"title": "灌云县优待目录", "items": [{"area": "交通出行", "content": "乘坐市内公交车免费", "provider": "县交通运输局"}]})
    assert published.status_code == 201 and published.json()["version"] == 1
    shown = (await client.get(f"/api/mp/cards/catalogue?beneficiary_id={person.id}", headers=headers)).json()
    assert shown["items"][0]["area"] == "交通出行" and "特权证" in shown["note"]
    stranger = await make_applicant(station=county.station_a)
    s_user, s_headers = await mini_headers(app, "o-not-holder")
    await bind(s_user, stranger)
    assert (await client.get(f"/api/mp/cards/catalogue?beneficiary_id={stranger.id}", headers=s_headers)).json()["error"]["code"] == "not_a_holder"


async def test_cleanup_and_difficult_cases_reports_sent_to_the_city(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_applicant(station=county.station_a, name="赵德胜")
    application = await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=person, card_kind=CardKind.VETERAN, channel="on_site")
    bureau = await signed_headers(client, role=Role.BUREAU, unit=county.district)
    none_yet = await client.post("/api/cards/difficult-cases-report", headers=bureau, json={"meeting_date": "2026-11-25", "summary": "逐件研究"})
    assert none_yet.json()["error"]["code"] == "no_difficult_cases"
    await client.post(f"/api/cards/applications/{application.id}/problem", headers=bureau, json={"flagged": True, "note": "户籍与档案出生日期不一致", "report": "经调查为户籍登记错误，建议待公安更正后重新提交。"})
    cleanup = await client.post("/api/cards/cleanup-report", headers=bureau, json={"year": 2026})
    assert cleanup.status_code == 201 and cleanup.json()["data"]["totals"]["open"] == 1 and cleanup.json()["data"]["totals"]["with_report"] == 1
    hard = await client.post("/api/cards/difficult-cases-report", headers=bureau, json={"meeting_date": "2026-11-25", "summary": "同意服务站处理建议，待户籍更正后重新提交审核"})
    assert hard.status_code == 201 and hard.json()["route"] == ["市退役军人事务局"]
    city_unsigned = await staff_headers(client, role=Role.CITY, unit=county.city)
    assert (await client.get(f"/api/cards/reports/{hard.json()['id']}/document", headers=city_unsigned)).status_code == 403
    city = await signed_headers(client, role=Role.CITY, unit=county.city)
    document = (await client.get(f"/api/cards/reports/{hard.json()['id']}/document", headers=city)).text
    assert "赵德胜" in document and "户籍登记错误" in document and decrypt_id_number(person) not in document
    assert {r["kind"] for r in (await client.get("/api/cards/reports", headers=city)).json()["items"]} == {"cleanup", "difficult_cases"}
