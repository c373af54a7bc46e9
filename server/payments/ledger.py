"""Importing the payment system's monthly files into the ledger, row by row, idempotently.

Columns (Chinese or English headers): 身份证号码, 姓名, 发放月份 (2026-03, 2026/3, 202603, 2026年3月),
发放金额, optional 发放日期. Each row is matched by ID number and checked against the name, then
reported as recorded / already_recorded / amount_differs / unmatched / rejected. A month already in
the ledger is never overwritten: the same row again changes nothing (so re-importing a file is
harmless), a different amount for it is reported for a person to sort out. People and recorded
months are looked up in batches and new months inserted in bulk (a 3,000-row file: see
``scripts/bench_payment_import.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from models.payments import PaymentFile, PaymentMonth
from models.registry import Beneficiary
from models.staff import Role
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import NotFound
from server.payments import overpayment
from server.registry import service as registry
from server.registry.id_numbers import InvalidIdNumber, parse_id_number
from server.registry.importer import read_table
from server.registry.service import id_lookup_hash

LEDGER_HEADERS = {
    "发放月份": "month", "月份": "month", "所属月份": "month", "month": "month",
    "发放金额": "amount", "金额": "amount", "实发金额": "amount", "amount": "amount",
    "发放日期": "paid_on", "paid_on": "paid_on",
}
STATUSES = ("recorded", "already_recorded", "amount_differs", "unmatched", "rejected")
CHUNK = 500


def parse_month(text: str) -> date | None:
    """The first day of the month named by ``text`` (as the payment system writes it), or None."""
    text = text.strip().split(" ")[0].split("T")[0]
    match = re.fullmatch(r"(\d{4})\s*(?:[-/.年])?\s*(\d{1,2})(?:\s*月)?(?:[-/.]\d{1,2}日?)?", text)
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (1 <= month <= 12 and 2000 <= year <= 2100):
        return None
    return date(year, month, 1)


def parse_day(text: str) -> date | None:
    text = text.strip().split(" ")[0].split("T")[0].replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))
    except ValueError:
        return None


def parse_amount(text: str) -> Decimal | None:
    try:
        amount = Decimal(text.replace(",", "").replace("¥", "").replace("元", "").strip()).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount > 0 else None


async def _people_by_hash(hashes: list[str]) -> dict[str, Beneficiary]:
    found: dict[str, Beneficiary] = {}
    for start in range(0, len(hashes), CHUNK):
        for person in await Beneficiary.filter(id_number_hash__in=hashes[start : start + CHUNK]):
            found[person.id_number_hash] = person
    return found


async def _recorded(keys: list[tuple[int, date]]) -> dict[tuple[int, date], tuple[Decimal, int]]:
    """(beneficiary, month) → (amount, payment file) for the months already in the ledger."""
    recorded: dict[tuple[int, date], tuple[Decimal, int]] = {}
    people = sorted({b for b, _ in keys})
    months = sorted({m for _, m in keys})
    for start in range(0, len(people), CHUNK):
        rows = await PaymentMonth.filter(beneficiary_id__in=people[start : start + CHUNK], month__in=months).values_list("beneficiary_id", "month", "amount", "payment_file_id")
        for beneficiary_id, month, amount, file_id in rows:
            recorded[(beneficiary_id, month)] = (Decimal(str(amount)), file_id)
    return recorded


def _validated_rows(filename: str, data: bytes) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str, str, date, Decimal, date | None]]]:
    """Every non-empty row's outcome (rejected ones settled here) and the valid rows to match. Blocking."""
    table = read_table(filename, data, extra_headers=LEDGER_HEADERS, required=("id_number", "name", "month", "amount"))
    rows: list[dict[str, Any]] = []
    valid: list[tuple[dict[str, Any], str, str, date, Decimal, date | None]] = []
    for index, raw in enumerate(table, start=2):  # row 1 is the header
        if not any(raw.values()):
            continue
        outcome: dict[str, Any] = {"row": index}
        rows.append(outcome)
        try:
            parsed = parse_id_number(raw.get("id_number", ""))
        except InvalidIdNumber as exc:
            outcome.update(status="rejected", message=exc.message)
            continue
        outcome["id_number_masked"] = parsed.masked
        month = parse_month(raw.get("month", ""))
        if month is None:
            outcome.update(status="rejected", message=f"发放月份格式不正确：{raw.get('month', '')}")
            continue
        outcome["month"] = month.strftime("%Y-%m")
        amount = parse_amount(raw.get("amount", ""))
        if amount is None:
            outcome.update(status="rejected", message=f"发放金额不正确：{raw.get('amount', '')}")
            continue
        outcome["amount"] = str(amount)
        paid_on = parse_day(raw["paid_on"]) if raw.get("paid_on") else None
        valid.append((outcome, id_lookup_hash(parsed.value), raw.get("name", ""), month, amount, paid_on))
    return rows, valid


async def import_payment_file(*, scope: Scope, actor: Actor, filename: str, data: bytes) -> dict[str, Any]:
    """Validate every row, match people and look up the recorded months in batches, insert the new
    months in bulk, and report each row in file order."""
    scope.require_role(Role.BUREAU)
    scope.require_write()
    digest = hashlib.sha256(data).hexdigest()
    # Parsing and per-row validation (ID checksums, lookup hashes) are pure CPU: off the event loop.
    rows, valid = await asyncio.to_thread(_validated_rows, filename, data)
    batch = await PaymentFile.create(filename=filename[:200], file_sha256=digest, district_id=scope.org_unit_id, staff_id=int(actor.id) if actor.id else None)

    people = await _people_by_hash(sorted({h for _, h, *_ in valid}))
    in_scope = await scope.station_ids()
    matched: list[tuple[dict[str, Any], Beneficiary, date, Decimal, date | None]] = []
    for outcome, lookup, name, month, amount, paid_on in valid:
        person = people.get(lookup)
        if person is None or (in_scope is not None and person.station_id not in in_scope):
            outcome.update(status="unmatched", message="未找到该身份证号码对应的优抚对象")  # out of scope reads like absent
        elif "".join(person.name.split()) != "".join(name.split()):
            outcome.update(status="unmatched", message="姓名与登记信息不一致，请核实")
        else:
            outcome["beneficiary_id"] = person.id
            matched.append((outcome, person, month, amount, paid_on))

    recorded = await _recorded([(p.id, m) for _, p, m, _, _ in matched])
    fresh: dict[tuple[int, date], PaymentMonth] = {}
    for _outcome, person, month, amount, paid_on in matched:
        key = (person.id, month)
        if key not in recorded and key not in fresh:
            fresh[key] = PaymentMonth(beneficiary_id=person.id, month=month, amount=amount, paid_on=paid_on, payment_file_id=batch.id)
    # A month another import stored at the same moment is skipped here and reported from what is stored.
    await PaymentMonth.bulk_create(list(fresh.values()), batch_size=500, ignore_conflicts=True)
    stored = await _recorded(list(fresh)) if fresh else {}
    claimed: set[tuple[int, date]] = set()
    for outcome, person, month, amount, _ in matched:
        key = (person.id, month)
        if key in fresh and key not in claimed and stored.get(key, (None, None))[1] == batch.id:
            claimed.add(key)
            outcome["status"] = "recorded"
            continue
        existing_amount = recorded[key][0] if key in recorded else stored.get(key, (fresh[key].amount,))[0]
        if Decimal(str(existing_amount)) == amount:
            outcome["status"] = "already_recorded"
        else:
            outcome.update(status="amount_differs", message=f"该月已记录发放金额 {existing_amount}，与本次 {amount} 不一致，请核实")

    counts = dict.fromkeys(STATUSES, 0)
    for outcome in rows:
        counts[outcome["status"]] += 1
    batch.total_rows, batch.recorded, batch.unchanged = len(rows), counts["recorded"], counts["already_recorded"]
    batch.rejected = len(rows) - counts["recorded"] - counts["already_recorded"]
    batch.report = rows
    await batch.save()
    overpayments_changed = await overpayment.refresh_for(sorted({key[0] for key in claimed}))
    await audit.record(actor=actor, action="payments.imported", entity_type="payment_file", entity_id=batch.id, details={"filename": filename, "file_sha256": digest, **counts, "overpayments_changed": overpayments_changed})
    return {"id": batch.id, "filename": filename, "file_sha256": digest, "total": len(rows), **counts, "overpayments_changed": overpayments_changed, "rows": rows}


def file_json(f: PaymentFile, *, with_rows: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"id": f.id, "filename": f.filename, "file_sha256": f.file_sha256, "staff_id": f.staff_id, "imported_at": f.created_at.isoformat(), "total": f.total_rows, "recorded": f.recorded, "unchanged": f.unchanged, "rejected": f.rejected}
    if with_rows:
        data["rows"] = f.report
    return data


async def list_files(*, scope: Scope) -> list[PaymentFile]:
    query = PaymentFile.all() if scope.is_global else PaymentFile.filter(district_id=scope.org_unit_id)
    return await query.order_by("-id").limit(200)


async def get_file(*, scope: Scope, file_id: int) -> PaymentFile:
    found = await PaymentFile.get_or_none(id=file_id)
    if found is None or (not scope.is_global and found.district_id != scope.org_unit_id):
        raise NotFound("发放文件不存在", code="payment_file_not_found")
    return found


async def months_paid(*, scope: Scope, beneficiary_id: int) -> list[PaymentMonth]:
    await registry.get_beneficiary(scope=scope, beneficiary_id=beneficiary_id)  # scope check, 404 outside
    return await PaymentMonth.filter(beneficiary_id=beneficiary_id).order_by("month")
