"""通过多种方式联系优抚对象本人或其家属: each attempt logged — who, when (the server's time), how,
the outcome and the family member reached or tried — so "仍未能取得联系" rests on a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from models.confirmation import Confirmation, ContactAttempt
from server import clock
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.confirmation.records import get_confirmation

METHODS = {"phone": "电话", "sms": "短信", "visit": "上门", "wechat": "微信", "letter": "信函", "other": "其他"}
OUTCOMES = {"reached": "联系上本人", "family_reached": "联系上家属", "no_answer": "无人接听", "wrong_number": "号码错误", "refused": "拒绝配合", "other": "其他"}
REACHED = {"reached", "family_reached"}


@dataclass
class Attempt:
    method: str
    outcome: str
    contact_name: str = ""
    contact_relation: str = ""
    contact_phone: str = ""
    notes: str = ""


async def record_attempt(*, scope: Scope, actor: Actor, confirmation_id: int, attempt: Attempt) -> ContactAttempt:
    confirmation = await get_confirmation(scope=scope, confirmation_id=confirmation_id)
    await scope.require_station_writable(confirmation.station_id)
    async with in_transaction():
        row = await ContactAttempt.create(
            confirmation_id=confirmation.id,
            beneficiary_id=confirmation.beneficiary_id,
            station_id=confirmation.station_id,
            staff_id=int(actor.id or 0),
            attempted_at=clock.now(),
            **attempt.__dict__,
        )
        await audit.record(actor=actor, action="confirmation.contact_attempt", entity_type="confirmation", entity_id=confirmation.id, details={"beneficiary_id": confirmation.beneficiary_id, "method": attempt.method, "outcome": attempt.outcome, "attempt_id": row.id})
    return row


async def attempts_for(*, confirmation_ids: list[int]) -> dict[int, list[ContactAttempt]]:
    """Attempts per confirmation, oldest first (for the suspension list and the summary)."""
    grouped: dict[int, list[ContactAttempt]] = {}
    if not confirmation_ids:
        return grouped
    for row in await ContactAttempt.filter(confirmation_id__in=confirmation_ids).order_by("attempted_at", "id"):
        grouped.setdefault(row.confirmation_id, []).append(row)
    return grouped


async def list_attempts(*, scope: Scope, confirmation_id: int) -> list[ContactAttempt]:
    confirmation: Confirmation = await get_confirmation(scope=scope, confirmation_id=confirmation_id)
    return (await attempts_for(confirmation_ids=[confirmation.id])).get(confirmation.id, [])


def attempt_json(a: ContactAttempt) -> dict[str, Any]:
    return {
        "id": a.id,
        "at": a.attempted_at.isoformat(),
        "staff_id": a.staff_id,
        "method": a.method,
        "method_label": METHODS.get(a.method, a.method),
        "outcome": a.outcome,
        "outcome_label": OUTCOMES.get(a.outcome, a.outcome),
        "contact_name": a.contact_name,
        "contact_relation": a.contact_relation,
        "contact_phone": a.contact_phone,
        "notes": a.notes,
    }
