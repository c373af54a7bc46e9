"""Deaths found by cross-checking civil-affairs, police and funeral data, and the overpayments they cause.

Overpayment (死亡人员…核对经费发放情况，多发部分必须追回): what the payments ledger shows as paid for
months after the month of death (``server/payments/overpayment.py``, recomputed when a payment file
arrives later). It is tracked, with each recovered amount and its date, until recovered in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.confirmation import (
    Campaign,
    CampaignStatus,
    Confirmation,
    ConfirmationStatus,
    DeathRecord,
    OverpaymentRecovery,
)
from models.registry import Beneficiary, PaymentStatus
from models.staff import Role
from server import import_jobs
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.cards.applications import flag_on_death as flag_card_work_on_death
from server.clock import china_today
from server.config import Settings
from server.errors import Conflict, NotFound, ValidationFailed
from server.payments import overpayment
from server.registry import service as registry
from server.registry.id_numbers import InvalidIdNumber, parse_id_number
from server.registry.importer import iter_table

SOURCES = {
    "civil_affairs": "civil_affairs", "民政": "civil_affairs",
    "police": "police", "公安": "police", "household": "police", "户籍": "police",
    "funeral": "funeral", "殡葬": "funeral",
}
DEATH_HEADERS = {"死亡日期": "death_date", "死亡时间": "death_date", "death_date": "death_date", "来源": "source", "数据来源": "source", "source": "source"}
OUTSTANDING, RECOVERED, NONE = "outstanding", "recovered", "none"


async def record_death(*, actor: Actor, beneficiary: Beneficiary, death_date: date, source: str, import_sha256: str, today: date | None = None) -> DeathRecord:
    """Mark the person deceased (effective the death date), their open-campaign confirmations DECEASED,
    and compute the overpayment. The same person and date twice changes nothing."""
    record, _ = await record_death_once(actor=actor, beneficiary=beneficiary, death_date=death_date, source=source, import_sha256=import_sha256, today=today)
    return record


async def record_death_once(*, actor: Actor, beneficiary: Beneficiary, death_date: date, source: str, import_sha256: str, today: date | None = None) -> tuple[DeathRecord, bool]:
    """As ``record_death``, also telling whether this call recorded it (False: it was already)."""
    today = today or china_today()
    existing = await DeathRecord.filter(beneficiary_id=beneficiary.id).order_by("id").first()
    if existing is not None:
        if existing.death_date == death_date:
            return existing, False
        raise Conflict(f"该对象已登记死亡日期 {existing.death_date.isoformat()}，与本次不一致，请核实", code="death_date_differs", recorded=existing.death_date.isoformat())
    if death_date > today:
        raise ValidationFailed("死亡日期不能晚于今天", code="death_date_in_future")
    beneficiary = await Beneficiary.get(id=beneficiary.id)  # the current payment status, not a stale copy
    months, amount = await overpayment.paid_after_death(beneficiary_id=beneficiary.id, death_date=death_date)
    try:
        async with in_transaction():
            record = await DeathRecord.create(
                beneficiary_id=beneficiary.id,
                death_date=death_date,
                source=source,
                import_sha256=import_sha256,
                overpaid_months=len(months),
                overpayment_amount=amount,
                status=overpayment.status_for(amount, Decimal("0.00")),
            )
            await registry.change_payment_status(actor=actor, beneficiary=beneficiary, to_status=PaymentStatus.DECEASED, effective_date=death_date, reason=f"死亡（{source}）", death_date=death_date)
            open_campaigns = await Campaign.filter(status=CampaignStatus.OPEN).values_list("id", flat=True)
            await Confirmation.filter(beneficiary_id=beneficiary.id, campaign_id__in=list(open_campaigns)).exclude(status=ConfirmationStatus.DECEASED).update(status=ConfirmationStatus.DECEASED, version=F("version") + 1)
            await flag_card_work_on_death(beneficiary_id=beneficiary.id, death_date=death_date)  # open card applications and undelivered cards
            await audit.record(
                actor=actor,
                action="death.recorded",
                entity_type="beneficiary",
                entity_id=beneficiary.id,
                details={"death_record_id": record.id, "death_date": death_date.isoformat(), "source": source, "import_sha256": import_sha256, "overpaid_months": len(months), "months_paid_after_death": [m.strftime("%Y-%m") for m in months], "monthly_amount": str(beneficiary.monthly_amount), "overpayment": str(amount)},
            )
    except IntegrityError:
        # Another request recorded the same death at the same moment: theirs stands.
        return await DeathRecord.get(beneficiary_id=beneficiary.id, death_date=death_date), False
    return record, True


def _parse_date(text: str) -> date | None:
    text = text.strip().split(" ")[0].split("T")[0].replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "-").replace("日", "")
    if text.isdigit() and len(text) == 8:
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        return date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))
    except ValueError:
        return None


def _same_name(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def _check_death_list(filename: str, data: bytes) -> None:
    rows = _open_death_list(filename, data)
    close = getattr(rows, "close", None)
    if close is not None:
        close()


def _open_death_list(filename: str, data: bytes) -> Iterator[dict[str, str]]:
    return iter_table(filename, data, extra_headers=DEATH_HEADERS, required=("id_number", "name", "death_date"))


async def _import_death_row(context: import_jobs.JobContext, done: int, raw: dict[str, str]) -> dict[str, Any] | None:
    """One row, matched by ID number (lookup hash) and checked against the name."""
    if not any(raw.values()):
        return None
    outcome: dict[str, Any] = {"row": done + 1}  # row 1 is the header

    def result(status: str, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
        outcome["status"] = status
        if reason:
            outcome["reason"] = reason
        if message:
            outcome["message"] = message
        return outcome

    try:
        parsed = parse_id_number(raw.get("id_number", ""))
    except InvalidIdNumber as exc:
        return result("rejected", "bad_id_number", exc.message)
    outcome["id_number_masked"] = parsed.masked
    death_date = _parse_date(raw.get("death_date", ""))
    if death_date is None:
        return result("rejected", "bad_date", f"死亡日期格式不正确：{raw.get('death_date', '')}")
    raw_source = raw.get("source", "").strip()
    source = SOURCES.get(raw_source.lower()) if raw_source else "civil_affairs"
    if source is None:
        return result("rejected", "unknown_source", f"未知的数据来源：{raw_source}（民政/公安/殡葬）")
    person = await registry.find_by_id_number(parsed.value)
    if person is None or not await context.scope.contains_station(person.station_id):
        # Out of scope reads exactly like absent: another county's people are not revealed.
        return result("unmatched", "no_such_person", "未找到该身份证号码对应的优抚对象")
    if not _same_name(person.name, raw.get("name", "")):
        return result("unmatched", "name_mismatch", "姓名与登记信息不一致，请核实")
    outcome["beneficiary_id"] = person.id
    try:
        record, created = await record_death_once(actor=context.actor, beneficiary=person, death_date=death_date, source=source, import_sha256=context.batch.file_sha256)
    except Conflict as exc:
        return result("conflict", exc.code, exc.message)
    except ValidationFailed as exc:
        return result("rejected", exc.code, exc.message)
    outcome.update(death_record_id=record.id, overpaid_months=record.overpaid_months, overpayment=str(record.overpayment_amount))
    return result("recorded" if created else "already_recorded")


def _authorise(scope: Scope) -> None:
    scope.require_role(Role.BUREAU)
    scope.require_write()


# Rows are reported as recorded / already_recorded / unmatched / rejected / conflict; re-importing the
# same file records nothing new.
DEATH_IMPORT = import_jobs.register(
    import_jobs.ImportKind(
        kind="deaths",
        check_upload=_check_death_list,
        open_units=_open_death_list,
        handle=_import_death_row,
        columns={"recorded": "imported", "already_recorded": "unchanged", "unmatched": "rejected", "rejected": "rejected", "conflict": "rejected"},
        audit_action="deaths.imported",
        progress_path="/api/deaths/imports/{job_id}",
        authorise=_authorise,
        success=("recorded", "already_recorded"),
    )
)


async def import_deaths(*, scope: Scope, actor: Actor, filename: str, data: bytes, settings: Settings, wait_seconds: float) -> dict[str, Any]:
    """Start the death-list import as a background job; the report once it ends within ``wait_seconds``
    (else its progress so far: ``status`` is ``queued`` or ``running`` and ``progress_url`` follows it)."""
    batch = await import_jobs.start_and_wait(kind=DEATH_IMPORT, scope=scope, actor=actor, filename=filename, data=data, settings=settings, wait_seconds=wait_seconds)
    return import_jobs.progress_json(batch)


def outstanding_amount(record: DeathRecord) -> Decimal:
    """What is still to be recovered of an overpayment after a death."""
    return Decimal(str(record.overpayment_amount)) - Decimal(str(record.recovered_amount))


def death_json(record: DeathRecord, beneficiary: Beneficiary | None = None) -> dict[str, Any]:
    data = {
        "id": record.id,
        "beneficiary_id": record.beneficiary_id,
        "death_date": record.death_date.isoformat(),
        "source": record.source,
        "overpaid_months": record.overpaid_months,
        "overpayment_amount": str(record.overpayment_amount),
        "recovered_amount": str(record.recovered_amount),
        "outstanding_amount": str(outstanding_amount(record)),
        "status": record.status,
        "recorded_at": record.created_at.isoformat(),
    }
    if beneficiary is not None:
        data.update(name=beneficiary.name, id_number=beneficiary.id_number_masked, station_id=beneficiary.station_id, monthly_amount=str(beneficiary.monthly_amount))
    return data


async def list_overpayments(*, scope: Scope, outstanding_only: bool) -> list[DeathRecord]:
    query = await scope.filter_by_station(DeathRecord.all(), "beneficiary__station_id")
    if outstanding_only:
        query = query.filter(status=OUTSTANDING)
    return await query.select_related("beneficiary").order_by("id")


async def list_recoveries(*, scope: Scope, death_record_id: int) -> list[OverpaymentRecovery]:
    record = await DeathRecord.get_or_none(id=death_record_id).select_related("beneficiary")
    if record is None:
        raise NotFound("死亡记录不存在", code="death_record_not_found")
    await scope.require_station_visible(record.beneficiary.station_id)
    return await OverpaymentRecovery.filter(death_record_id=record.id).order_by("recovered_on", "id")


async def recoveries_of(*, scope: Scope, death_record_ids: list[int]) -> dict[int, list[OverpaymentRecovery]]:
    """The recoveries of several records (a list page) in one query, in scope; ``list_recoveries``'s order."""
    query = await scope.filter_by_station(OverpaymentRecovery.filter(death_record_id__in=death_record_ids), "death_record__beneficiary__station_id")
    found: dict[int, list[OverpaymentRecovery]] = {record_id: [] for record_id in death_record_ids}
    for recovery in await query.order_by("recovered_on", "id"):
        found[recovery.death_record_id].append(recovery)
    return found


def recovery_json(r: OverpaymentRecovery) -> dict[str, Any]:
    return {"id": r.id, "amount": str(r.amount), "recovered_on": r.recovered_on.isoformat(), "note": r.note, "staff_id": r.staff_id}


async def record_recovery(*, scope: Scope, actor: Actor, death_record_id: int, amount: Decimal, recovered_on: date, note: str) -> DeathRecord:
    """One amount recovered on a date; the record is ``recovered`` once the total reaches the overpayment."""
    scope.require_role(Role.BUREAU)
    record = await DeathRecord.get_or_none(id=death_record_id).select_related("beneficiary")
    if record is None:
        raise NotFound("死亡记录不存在", code="death_record_not_found")
    await scope.require_station_visible(record.beneficiary.station_id)
    await scope.require_station_writable(record.beneficiary.station_id)
    if recovered_on < record.death_date or recovered_on > china_today():
        raise ValidationFailed("追回日期须在死亡日期之后且不晚于今天", code="bad_recovery_date")
    async with in_transaction():
        # Lock the row (PostgreSQL) so two clerks recording at once cannot both pass the ceiling.
        locked = await DeathRecord.select_for_update().get(id=record.id)
        if locked.status != OUTSTANDING:
            raise Conflict("该笔多发金额无需追回或已追回", code="nothing_outstanding")
        outstanding = outstanding_amount(locked)
        if amount <= 0 or amount > outstanding:
            raise ValidationFailed(f"追回金额须大于0且不超过未追回金额 {outstanding}", code="bad_recovery_amount", outstanding=str(outstanding))
        recovery = await OverpaymentRecovery.create(death_record_id=locked.id, amount=amount, recovered_on=recovered_on, note=note, staff_id=int(actor.id or 0))
        recovered = Decimal(locked.recovered_amount) + amount
        status = overpayment.status_for(Decimal(str(locked.overpayment_amount)), recovered)
        await DeathRecord.filter(id=locked.id).update(recovered_amount=recovered, status=status)
        await audit.record(
            actor=actor,
            action="overpayment.recovered",
            entity_type="beneficiary",
            entity_id=record.beneficiary_id,
            details={"death_record_id": record.id, "recovery_id": recovery.id, "amount": str(amount), "recovered_on": recovered_on.isoformat(), "recovered_total": str(recovered), "status": status},
        )
    return await DeathRecord.get(id=record.id).select_related("beneficiary")
