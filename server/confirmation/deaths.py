"""Deaths found by cross-checking civil-affairs, police and funeral data, and the overpayments they cause.

Overpayment rule: payments are monthly and the month of death is still due; every month after it up
to and including the month of recording was paid in error while the status was active, so the
overpayment is monthly amount × those months. It is tracked until recovered.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from models.confirmation import Campaign, CampaignStatus, Confirmation, ConfirmationStatus, DeathRecord, OverpaymentRecovery
from models.registry import Beneficiary, PaymentStatus
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.confirmation import rules
from server.errors import Conflict, NotFound, ValidationFailed
from server.registry import service as registry
from server.registry.id_numbers import InvalidIdNumber, parse_id_number
from server.registry.importer import ImportFileError, read_table

SOURCES = {"civil_affairs": "civil_affairs", "民政": "civil_affairs", "police": "police", "公安": "police", "funeral": "funeral", "殡葬": "funeral", "household": "police", "户籍": "police"}
DEATH_HEADERS = {"死亡日期": "death_date", "death_date": "death_date", "来源": "source", "source": "source"}


def overpaid_months(*, death_date: date, recorded_on: date, was_active: bool) -> int:
    if not was_active:
        return 0
    return max(0, rules.months_between(death_date, recorded_on))


async def record_death(*, actor: Actor, beneficiary: Beneficiary, death_date: date, source: str, import_sha256: str, today: date | None = None) -> tuple[DeathRecord, bool]:
    """Mark deceased with the date and compute the overpayment; the same death twice changes nothing."""
    today = today or date.today()
    existing = await DeathRecord.get_or_none(beneficiary_id=beneficiary.id, death_date=death_date)
    if existing is not None:
        return existing, False
    if death_date > today:
        raise ValidationFailed("死亡日期不能晚于今天", code="death_date_in_future")
    months = overpaid_months(death_date=death_date, recorded_on=today, was_active=beneficiary.payment_status == PaymentStatus.ACTIVE)
    amount = (Decimal(beneficiary.monthly_amount) * months).quantize(Decimal("0.01"))
    async with in_transaction():
        record = await DeathRecord.create(
            beneficiary_id=beneficiary.id,
            death_date=death_date,
            source=source,
            import_sha256=import_sha256,
            overpaid_months=months,
            overpayment_amount=amount,
            status="outstanding" if amount > 0 else "none",
        )
        await registry.change_payment_status(actor=actor, beneficiary=beneficiary, to_status=PaymentStatus.DECEASED, effective_date=death_date, reason=f"死亡（{source}）", death_date=death_date)
        open_campaigns = await Campaign.filter(status=CampaignStatus.OPEN).values_list("id", flat=True)
        await Confirmation.filter(beneficiary_id=beneficiary.id, campaign_id__in=list(open_campaigns)).update(status=ConfirmationStatus.DECEASED)
        await audit.record(actor=actor, action="death.recorded", entity_type="beneficiary", entity_id=beneficiary.id, details={"death_date": death_date.isoformat(), "source": source, "overpaid_months": months, "overpayment": str(amount)})
    return record, True


def _parse_date(text: str) -> date | None:
    text = text.strip().split(" ")[0].replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "-").replace("日", "")
    try:
        return date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))
    except ValueError:
        return None


async def import_deaths(*, scope: Scope, actor: Actor, filename: str, data: bytes, today: date | None = None) -> dict[str, Any]:
    """Row by row; matches by ID number (and name); unmatched rows are reported; re-import changes nothing."""
    scope.require_write()
    digest = hashlib.sha256(data).hexdigest()
    try:
        table = read_table(filename, data, extra_headers=DEATH_HEADERS, required=("id_number", "name", "death_date"))
    except ImportFileError:
        raise
    rows: list[dict[str, Any]] = []
    counts = {"recorded": 0, "already_recorded": 0, "unmatched": 0, "rejected": 0}
    for index, raw in enumerate(table, start=2):
        if not any(raw.values()):
            continue
        outcome: dict[str, Any] = {"row": index}
        try:
            parsed = parse_id_number(raw.get("id_number", ""))
        except InvalidIdNumber as exc:
            outcome.update(status="rejected", reason="bad_id_number", message=exc.message)
            counts["rejected"] += 1
            rows.append(outcome)
            continue
        outcome["id_number_masked"] = parsed.masked
        death_date = _parse_date(raw.get("death_date", ""))
        source = SOURCES.get(raw.get("source", "").strip(), "civil_affairs" if not raw.get("source") else None)
        person = await registry.find_by_id_number(parsed.value)
        if death_date is None or source is None:
            outcome.update(status="rejected", reason="bad_date" if death_date is None else "unknown_source")
            counts["rejected"] += 1
        elif person is None or person.name.strip() != raw.get("name", "").strip() or not await scope.contains_station(person.station_id):
            outcome.update(status="unmatched", reason="no_such_person" if person is None else "name_mismatch" if person.name.strip() != raw.get("name", "").strip() else "out_of_scope")
            counts["unmatched"] += 1
        else:
            try:
                record, created = await record_death(actor=actor, beneficiary=person, death_date=death_date, source=source, import_sha256=digest, today=today)
            except ValidationFailed as exc:
                outcome.update(status="rejected", reason=exc.code)
                counts["rejected"] += 1
            else:
                status = "recorded" if created else "already_recorded"
                outcome.update(status=status, beneficiary_id=person.id, overpayment=str(record.overpayment_amount), overpaid_months=record.overpaid_months)
                counts[status] += 1
        rows.append(outcome)
    await audit.record(actor=actor, action="deaths.imported", entity_type="import_batch", entity_id=digest[:16], details={"filename": filename, **counts})
    return {"filename": filename, "file_sha256": digest, **counts, "rows": rows}


def death_json(record: DeathRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "beneficiary_id": record.beneficiary_id,
        "death_date": record.death_date.isoformat(),
        "source": record.source,
        "overpaid_months": record.overpaid_months,
        "overpayment_amount": str(record.overpayment_amount),
        "recovered_amount": str(record.recovered_amount),
        "outstanding_amount": str(Decimal(record.overpayment_amount) - Decimal(record.recovered_amount)),
        "status": record.status,
    }


async def list_overpayments(*, scope: Scope, outstanding_only: bool) -> list[DeathRecord]:
    query = await scope.filter_by_station(DeathRecord.all(), "beneficiary__station_id")
    if outstanding_only:
        query = query.filter(status="outstanding")
    return await query.order_by("id")


async def record_recovery(*, scope: Scope, actor: Actor, death_record_id: int, amount: Decimal, recovered_on: date, note: str) -> DeathRecord:
    record = await DeathRecord.get_or_none(id=death_record_id).select_related("beneficiary")
    if record is None:
        raise NotFound("死亡记录不存在", code="death_record_not_found")
    await scope.require_station_writable(record.beneficiary.station_id)
    if record.status != "outstanding":
        raise Conflict("该笔多发金额无需追回或已追回", code="nothing_outstanding")
    outstanding = Decimal(record.overpayment_amount) - Decimal(record.recovered_amount)
    if amount <= 0 or amount > outstanding:
        raise ValidationFailed(f"追回金额须大于0且不超过未追回金额 {outstanding}", code="bad_recovery_amount")
    async with in_transaction():
        await OverpaymentRecovery.create(death_record_id=record.id, amount=amount, recovered_on=recovered_on, note=note, staff_id=int(actor.id or 0))
        recovered = Decimal(record.recovered_amount) + amount
        await DeathRecord.filter(id=record.id).update(recovered_amount=recovered, status="recovered" if recovered >= Decimal(record.overpayment_amount) else "outstanding")
        await audit.record(actor=actor, action="overpayment.recovered", entity_type="beneficiary", entity_id=record.beneficiary_id, details={"death_record_id": record.id, "amount": str(amount), "recovered_on": recovered_on.isoformat()})
    return await DeathRecord.get(id=record.id)


