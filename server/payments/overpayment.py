"""对死亡人员…核对经费发放情况，多发部分必须追回: the overpayment is what the ledger shows as paid
for months after the month of death. The month of death itself was due; every later month was not.

It is recomputed from the ledger whenever a death is recorded or a payment file is imported, so a
file that arrives after the death (or a death found after the payments) gives the same answer.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from models.confirmation import DeathRecord
from models.payments import PaymentMonth

OUTSTANDING, RECOVERED, NONE = "outstanding", "recovered", "none"


def first_month_not_due(death_date: date) -> date:
    """The first month nothing was due for: the month after the month of death."""
    return date(death_date.year + (death_date.month == 12), death_date.month % 12 + 1, 1)


async def paid_after_death(*, beneficiary_id: int, death_date: date) -> tuple[list[date], Decimal]:
    """The months the ledger shows as paid after the month of death, and their total."""
    rows = await PaymentMonth.filter(beneficiary_id=beneficiary_id, month__gte=first_month_not_due(death_date)).order_by("month").values_list("month", "amount")
    return [m for m, _ in rows], sum((Decimal(str(a)) for _, a in rows), Decimal("0.00"))


def status_for(overpaid: Decimal, recovered: Decimal) -> str:
    if overpaid <= 0:
        return NONE
    return RECOVERED if recovered >= overpaid else OUTSTANDING


async def refresh(record: DeathRecord) -> DeathRecord:
    """Set the record's overpaid months and amount from the ledger (recoveries already made stay)."""
    months, amount = await paid_after_death(beneficiary_id=record.beneficiary_id, death_date=record.death_date)
    status = status_for(amount, Decimal(str(record.recovered_amount)))
    if (record.overpaid_months, Decimal(str(record.overpayment_amount)), record.status) != (len(months), amount, status):
        await DeathRecord.filter(id=record.id).update(overpaid_months=len(months), overpayment_amount=amount, status=status)
        record.overpaid_months, record.overpayment_amount, record.status = len(months), amount, status
    return record


async def refresh_for(beneficiary_ids: list[int]) -> int:
    """After a payment file: recompute every death record of the people it touched."""
    changed = 0
    for record in await DeathRecord.filter(beneficiary_id__in=beneficiary_ids):
        before = (record.overpaid_months, Decimal(str(record.overpayment_amount)))
        await refresh(record)
        changed += before != (record.overpaid_months, Decimal(str(record.overpayment_amount)))
    return changed
