"""The payments ledger end to end over HTTP: monthly files in (row by row, idempotent), overpayment
from the ledger after a death, recovered in two instalments, suspension and resumption lists out and
read back by the payment office's reader."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from openpyxl import load_workbook

from models.audit import AuditEntry
from models.confirmation import DeathRecord
from models.payments import PaymentMonth
from server import clock
from server.registry.service import decrypt_id_number
from tests.confirmation.helpers_admin import (
    board_photo,
    china_today,
    confirmation_of,
    csv_bytes,
    ledger_csv,
    month_shift,
    months_back,
    office,
    open_campaign,
    people,
    xlsx_bytes,
)
from tests.factories import make_beneficiary, make_county


def read_payment_file(name: str, data: bytes) -> list[dict[str, Any]]:
    """What the payment office's loader sees: one dict per row, keyed by the header."""
    if name.endswith(".csv"):
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    else:
        rows = [list(r) for r in load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True)]
    header, body = rows[0], rows[1:]
    return [{str(h): ("" if v is None else str(v)) for h, v in zip(header, row, strict=True)} for row in body]


async def test_ledger_import_overpayment_and_two_recoveries(client: httpx.AsyncClient) -> None:
    o = await office(client, "P")
    today = china_today()
    dead, alive, late = await people(o.county.station_a, ["王满仓", "李秀兰", "赵后付"], monthly_amount=Decimal("900.00"))
    stranger = await make_beneficiary(station=(await make_county("Q")).station_a, name="外县人")
    died = month_shift(today, -7)  # about 200 days ago; still paid every month since

    # A monthly file: nine months for the dead man, three for the others; bad rows are reported.
    rows = [(decrypt_id_number(dead), dead.name, m, Decimal("900.00")) for m in months_back(today, -8)]
    rows += [(decrypt_id_number(alive), alive.name, m, Decimal("900.00")) for m in months_back(today, -2)]
    data = ledger_csv(rows) + csv_bytes([
        [decrypt_id_number(alive), "李秀英", "2026-01", "900"],  # the name does not match
        [decrypt_id_number(stranger), stranger.name, "2026-01", "900"],  # another county reads as absent
        [decrypt_id_number(alive), alive.name, "2026-13", "900"],
        [decrypt_id_number(alive), alive.name, "2026-01", "-5"],
        [decrypt_id_number(alive), alive.name, today.strftime("%Y/%m"), "900"],  # the same month twice in one file
    ])
    assert (await client.post("/api/payment-files", headers=o.station_a, files={"file": ("pay.csv", data, "text/csv")})).status_code == 403
    report = (await client.post("/api/payment-files", headers=o.bureau, files={"file": ("pay.csv", data, "text/csv")})).json()
    assert (report["total"], report["recorded"], report["already_recorded"], report["unmatched"], report["rejected"]) == (17, 12, 1, 2, 2), report
    assert [r["status"] for r in report["rows"][-5:]] == ["unmatched", "unmatched", "rejected", "rejected", "already_recorded"]
    assert all(decrypt_id_number(alive) not in str(r) for r in report["rows"])

    # The same file again records nothing; a different amount for a recorded month is reported.
    again = (await client.post("/api/payment-files", headers=o.bureau, files={"file": ("pay.csv", data, "text/csv")})).json()
    assert (again["recorded"], again["already_recorded"]) == (0, 13) and await PaymentMonth.all().count() == 12
    changed = xlsx_bytes([["id_number", "name", "month", "amount"], [decrypt_id_number(alive), alive.name, f"{today.year}年{today.month}月", "950.00"]])
    differs = (await client.post("/api/payment-files", headers=o.bureau, files={"file": ("pay.xlsx", changed, "application/octet-stream")})).json()
    assert [r["status"] for r in differs["rows"]] == ["amount_differs"]
    assert (await client.get(f"/api/beneficiaries/{dead.id}/payments", headers=o.station_a)).json()["items"][0]["month"] == months_back(today, -8)[0].strftime("%Y-%m")
    assert (await client.get(f"/api/beneficiaries/{dead.id}/payments", headers=o.station_b)).status_code == 404

    # The death: overpayment = the months the ledger shows after the month of death (7 × 900).
    deaths = csv_bytes([["身份证号", "姓名", "死亡日期", "来源"], [decrypt_id_number(dead), dead.name, died.isoformat(), "民政"], [decrypt_id_number(late), late.name, month_shift(today, -2).isoformat(), "殡葬"]])
    assert (await client.post("/api/deaths/import", headers=o.bureau, files={"file": ("d.csv", deaths, "text/csv")})).json()["recorded"] == 2
    record = await DeathRecord.get(beneficiary_id=dead.id)
    assert (record.overpaid_months, Decimal(record.overpayment_amount), record.status) == (7, Decimal("6300.00"), "outstanding")
    # A file arriving after the death counts too: 赵后付 died two months ago, the file shows two months since.
    late_file = ledger_csv([(decrypt_id_number(late), late.name, m, Decimal("900.00")) for m in months_back(today, -3)])
    assert (await client.post("/api/payment-files", headers=o.bureau, files={"file": ("late.csv", late_file, "text/csv")})).json()["overpayments_changed"] == 1
    late_record = await DeathRecord.get(beneficiary_id=late.id)
    assert (late_record.overpaid_months, Decimal(late_record.overpayment_amount)) == (2, Decimal("1800.00"))

    # Recovered in two instalments.
    url = f"/api/overpayments/{record.id}/recoveries"
    first = (await client.post(url, headers=o.bureau, json={"amount": "3000.00", "recovered_on": (today - timedelta(days=5)).isoformat(), "note": "家属第一次退回"})).json()
    assert (first["status"], first["outstanding_amount"]) == ("outstanding", "3300.00")
    second = (await client.post(url, headers=o.bureau, json={"amount": "3300.00", "recovered_on": today.isoformat(), "note": "家属第二次退回"})).json()
    assert (second["status"], second["recovered_amount"], second["outstanding_amount"]) == ("recovered", "6300.00", "0.00")
    assert [r["amount"] for r in (await client.get(url, headers=o.bureau)).json()["items"]] == ["3000.00", "3300.00"]
    listed = (await client.get("/api/payment-files", headers=o.bureau)).json()["items"]
    assert len(listed) == 4 and (await client.get(f"/api/payment-files/{listed[-1]['id']}", headers=o.bureau)).json()["rows"][0]["status"] == "recorded"


async def test_suspension_and_resumption_lists_for_the_payment_office(client: httpx.AsyncClient) -> None:
    o = await office(client, "E")
    today = china_today()
    a, b = await people(o.county.station_a, ["孙一", "孙二"], monthly_amount=Decimal("820.50"))
    campaign = await open_campaign(o.county.district, implementation_end=today - timedelta(days=80))
    notice = (await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.bureau, json={})).json()
    clock.set_offset(timedelta(days=-61))
    await client.post(f"/api/notices/{notice['id']}/publish", headers=o.bureau, files={"town_board": ("b.jpg", board_photo(), "image/jpeg")})
    clock.reset()
    assert (await client.post(f"/api/campaigns/{campaign.id}/suspension-proposals", headers=o.bureau)).json() == {"created": 2}
    proposals = (await client.get(f"/api/campaigns/{campaign.id}/suspension-proposals", headers=o.bureau)).json()["items"]
    assert (await client.post("/api/suspension-proposals/approve", headers=o.bureau, json={"proposal_ids": [p["id"] for p in proposals]})).json()["approved"]

    assert (await client.post("/api/payment-exports", headers=o.station_a, json={"kind": "suspensions"})).status_code == 403
    made = await client.post("/api/payment-exports", headers=o.bureau, json={"kind": "suspensions", "format": "xlsx"})
    assert made.status_code == 201, made.text
    export = made.json()
    content = (await client.get(export["file"], headers=o.bureau)).content
    assert hashlib.sha256(content).hexdigest() == export["sha256"]
    loaded = read_payment_file("s.xlsx", content)
    effective = month_shift(today, 1, dom=1).strftime("%Y-%m")
    assert {(r["身份证号码"], r["姓名"], r["操作"], r["生效月份"], r["月发放金额"]) for r in loaded} == {(decrypt_id_number(p), p.name, "停发", effective, "820.50") for p in (a, b)}
    assert all(decrypt_id_number(a) not in str(e) for e in export["entries"])  # the JSON keeps ID numbers masked
    assert (await client.post("/api/payment-exports", headers=o.bureau, json={"kind": "suspensions"})).json()["error"]["code"] == "nothing_to_export"

    # a confirms, the bureau signs the resumption off, the resumption list goes out as CSV.
    confirmation = await confirmation_of(campaign, a)
    assert (await client.post(f"/api/confirmations/{confirmation.id}/station", headers=o.station_a, json={"id_card_checked": True})).status_code == 200
    resumption = (await client.get("/api/resumptions?status=pending", headers=o.bureau)).json()["items"][0]
    await client.post(f"/api/resumptions/{resumption['id']}/sign-off", headers=o.bureau)
    second = (await client.post("/api/payment-exports", headers=o.bureau, json={"kind": "resumptions", "format": "csv"})).json()
    rows = read_payment_file("r.csv", (await client.get(second["file"], headers=o.bureau)).content)
    assert [(r["身份证号码"], r["操作"], r["生效月份"], r["补发月数"]) for r in rows] == [(decrypt_id_number(a), "恢复发放", resumption["resume_from"][:7], str(resumption["back_pay_months"]))]

    # Who exported what, and when.
    history = (await client.get("/api/payment-exports", headers=o.bureau)).json()["items"]
    assert [(h["kind"], h["rows"]) for h in history] == [("resumptions", 1), ("suspensions", 2)] and all(h["staff_id"] for h in history)
    assert await AuditEntry.filter(action="payments.exported").count() == 2
    other = await make_county("Z")
    from models.staff import Role
    from tests.factories import staff_headers

    assert (await client.get(export["file"], headers=await staff_headers(client, role=Role.BUREAU, unit=other.district))).status_code == 404
