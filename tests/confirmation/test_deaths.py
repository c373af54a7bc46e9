"""Deaths from civil-affairs / police / funeral data: import, overpayment, idempotence, recoveries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx

from models.audit import AuditEntry
from models.confirmation import ConfirmationStatus, DeathRecord
from models.registry import Beneficiary, PaymentStatus, PaymentStatusChange
from server.actors import SYSTEM
from server.confirmation import deaths, rules
from server.registry import service as registry
from server.registry.service import decrypt_id_number
from tests.confirmation.helpers_admin import (
    china_today,
    confirmation_of,
    csv_bytes,
    month_shift,
    months_back,
    office,
    open_campaign,
    pay_months,
    people,
    xlsx_bytes,
)
from tests.factories import make_beneficiary, make_county, unique_id_number


async def test_import_marks_deceased_computes_overpayment_reports_unmatched_and_reimport_changes_nothing(client: httpx.AsyncClient) -> None:
    o = await office(client)
    today = china_today()
    a, b, c, d = await people(o.county.station_a, ["王大山", "李秀英", "赵四", "钱五"], monthly_amount=Decimal("820.00"))
    # The ledger: everyone paid for the last six months, except c, suspended two months ago.
    await registry.change_payment_status(actor=SYSTEM, beneficiary=c, to_status=PaymentStatus.SUSPENDED, effective_date=month_shift(today, -2, dom=1), reason="测试暂停")
    for person in (a, b, d):
        await pay_months(person, months_back(today, -5))
    await pay_months(c, months_back(today, -5, -3))
    campaign = await open_campaign(o.county.district, implementation_end=today + timedelta(days=20))
    other_county = await make_county("X")
    stranger = await make_beneficiary(station=other_county.station_a, name="外县人")
    a_died, b_died, c_died = month_shift(today, -3), month_shift(today, 0, dom=1), month_shift(today, -4)
    not_registered = unique_id_number()
    bad_checksum = decrypt_id_number(d)[:17] + ("0" if decrypt_id_number(d)[17] != "0" else "1")
    rows = [
        ["身份证号", "姓名", "死亡日期", "来源"],
        [decrypt_id_number(a), "王大山", a_died.isoformat(), "民政"],
        [decrypt_id_number(b), "李秀英", b_died.strftime("%Y/%m/%d"), "殡葬"],
        [decrypt_id_number(c), "赵四", f"{c_died.year}年{c_died.month}月{c_died.day}日", "police"],
        [not_registered, "查无此人", "2026-01-01", "公安"],
        [decrypt_id_number(d), "钱六", "2026-01-01", "公安"],  # the name does not match
        [decrypt_id_number(stranger), "外县人", "2026-01-01", "公安"],  # another county: reads as absent
        [bad_checksum, "钱五", "2026-01-01", "公安"],
        [decrypt_id_number(d), "钱五", "不详", "公安"],
        [decrypt_id_number(d), "钱五", "2026-01-01", "村委会"],
    ]
    data = csv_bytes(rows)

    assert (await client.post("/api/deaths/import", headers=o.station_a, files={"file": ("deaths.csv", data, "text/csv")})).status_code == 403
    report = (await client.post("/api/deaths/import", headers=o.bureau, files={"file": ("deaths.csv", data, "text/csv")})).json()
    assert (report["total"], report["recorded"], report["unmatched"], report["rejected"]) == (9, 3, 3, 3), report
    reasons = [(r["row"], r["status"], r.get("reason")) for r in report["rows"]]
    assert reasons[3:] == [(5, "unmatched", "no_such_person"), (6, "unmatched", "name_mismatch"), (7, "unmatched", "no_such_person"), (8, "rejected", "bad_id_number"), (9, "rejected", "bad_date"), (10, "rejected", "unknown_source")]
    assert all(decrypt_id_number(a) not in str(r) for r in report["rows"])

    # From the ledger: a died three months ago, paid every month since → 3 × 820; b died this month →
    # nothing; c died four months ago and was paid one more month before the suspension.
    expected = {a.id: (3, Decimal("2460.00"), "outstanding"), b.id: (0, Decimal("0.00"), "none"), c.id: (1, Decimal("820.00"), "outstanding")}
    assert rules.months_between(a_died, today) == 3
    for person, died in ((a, a_died), (b, b_died), (c, c_died)):
        record = await DeathRecord.get(beneficiary_id=person.id)
        assert (record.overpaid_months, Decimal(record.overpayment_amount), record.status) == expected[person.id]
        assert record.death_date == died
        fresh = await Beneficiary.get(id=person.id)
        assert fresh.payment_status == PaymentStatus.DECEASED and fresh.death_date == died
        last = await PaymentStatusChange.filter(beneficiary_id=person.id).order_by("-id").first()
        assert last is not None and last.to_status == PaymentStatus.DECEASED and last.effective_date == died
        assert (await confirmation_of(campaign, person)).status == ConfirmationStatus.DECEASED
    assert (await Beneficiary.get(id=d.id)).payment_status == PaymentStatus.ACTIVE
    assert (await confirmation_of(campaign, d)).status == ConfirmationStatus.PENDING

    # The same file again changes nothing.
    audits = await AuditEntry.filter(action="death.recorded").count()
    history = await PaymentStatusChange.all().count()
    again = (await client.post("/api/deaths/import", headers=o.bureau, files={"file": ("deaths.csv", data, "text/csv")})).json()
    assert (again["recorded"], again["already_recorded"], again["unmatched"], again["rejected"]) == (0, 3, 3, 3)
    assert await DeathRecord.all().count() == 3
    assert await AuditEntry.filter(action="death.recorded").count() == audits and await PaymentStatusChange.all().count() == history

    # XLSX with English headers; a different date for a recorded death is a conflict, not a change.
    sheet = xlsx_bytes([["id_number", "name", "death_date", "source"], [decrypt_id_number(a), "王大山", (a_died - timedelta(days=3)).isoformat(), "civil_affairs"], [decrypt_id_number(d), "钱五", month_shift(today, -1).isoformat(), "funeral"]])
    mixed = (await client.post("/api/deaths/import", headers=o.bureau, files={"file": ("deaths.xlsx", sheet, "application/octet-stream")})).json()
    assert [(r["status"], r.get("reason")) for r in mixed["rows"]] == [("conflict", "death_date_differs"), ("recorded", None)]
    assert (await DeathRecord.get(beneficiary_id=a.id)).death_date == a_died

    # Scoped list: station B sees none of station A's deaths.
    assert {x["beneficiary_id"] for x in (await client.get("/api/overpayments", headers=o.bureau)).json()["items"]} == {a.id, c.id, d.id}
    assert (await client.get("/api/overpayments", headers=o.station_b)).json()["items"] == []
    everything = (await client.get("/api/overpayments?outstanding_only=false", headers=o.station_a)).json()["items"]
    assert {x["beneficiary_id"] for x in everything} == {a.id, b.id, c.id, d.id}


async def test_recoveries_are_recorded_with_dates_until_recovered(client: httpx.AsyncClient) -> None:
    o = await office(client)
    today = china_today()
    (person,) = await people(o.county.station_a, ["孙大海"], monthly_amount=Decimal("800.00"))
    await pay_months(person, months_back(today, -4))
    record = await deaths.record_death(actor=SYSTEM, beneficiary=person, death_date=month_shift(today, -2), source="civil_affairs", import_sha256="test")
    assert (record.overpaid_months, Decimal(record.overpayment_amount)) == (2, Decimal("1600.00"))
    assert (await deaths.record_death(actor=SYSTEM, beneficiary=person, death_date=month_shift(today, -2), source="police", import_sha256="other")).id == record.id

    url = f"/api/overpayments/{record.id}/recoveries"
    assert (await client.post(url, headers=o.station_a, json={"amount": "100.00", "recovered_on": today.isoformat()})).status_code == 403
    assert (await client.post(url, headers=o.bureau, json={"amount": "1600.01", "recovered_on": today.isoformat()})).json()["error"]["code"] == "bad_recovery_amount"
    assert (await client.post(url, headers=o.bureau, json={"amount": "100.00", "recovered_on": (today + timedelta(days=1)).isoformat()})).json()["error"]["code"] == "bad_recovery_date"
    first = (await client.post(url, headers=o.bureau, json={"amount": "1000.00", "recovered_on": (today - timedelta(days=3)).isoformat(), "note": "家属退回"})).json()
    assert (first["status"], first["recovered_amount"], first["outstanding_amount"]) == ("outstanding", "1000.00", "600.00")
    second = (await client.post(url, headers=o.bureau, json={"amount": "600.00", "recovered_on": today.isoformat(), "note": "银行扣回"})).json()
    assert (second["status"], second["outstanding_amount"]) == ("recovered", "0.00")
    assert (await client.post(url, headers=o.bureau, json={"amount": "1.00", "recovered_on": today.isoformat()})).json()["error"]["code"] == "nothing_outstanding"
    listed = (await client.get(url, headers=o.station_a)).json()["items"]
    assert [(r["amount"], r["recovered_on"]) for r in listed] == [("1000.00", (today - timedelta(days=3)).isoformat()), ("600.00", today.isoformat())]
    assert (await client.get(url, headers=o.station_b)).status_code == 404
    assert (await client.get("/api/overpayments", headers=o.bureau)).json()["items"] == []
    assert await AuditEntry.filter(action="overpayment.recovered").count() == 2


async def test_a_death_reported_on_a_home_visit_uses_the_same_rule(client: httpx.AsyncClient) -> None:
    o = await office(client)
    today = china_today()
    (person,) = await people(o.county.station_a, ["周老汉"])
    await pay_months(person, months_back(today, -3))
    campaign = await open_campaign(o.county.district, implementation_end=today + timedelta(days=20))
    confirmation = await confirmation_of(campaign, person)
    visit = {"visited_at": "2026-11-20T09:00:00+08:00", "visitors": "站长", "outcome": "death_reported", "death_date": month_shift(today, -1).isoformat()}
    assert (await client.post(f"/api/confirmations/{confirmation.id}/home-visit", headers=o.station_a, json=visit)).status_code == 200
    record = await DeathRecord.get(beneficiary_id=person.id)
    assert (record.source, record.overpaid_months, Decimal(record.overpayment_amount)) == ("home_visit", 1, Decimal("800.00"))
    assert (await Beneficiary.get(id=person.id)).payment_status == PaymentStatus.DECEASED
