"""上门服务确认 quotas and the count to confirm (各年龄段的确认进度均为100%).

- Only a **successful** home visit counts towards the quota: the person was met and confirmed at
  home (``status == confirmed`` and ``home_visited``). A visit that found nobody, found the person
  moved away or reported a death is kept in the record trail but is not a home-visit confirmation.
- The **dead** and the **moved out** (档案迁出本县) leave the count to confirm, each with its reason,
  so 100 % is reachable in any group where someone died or moved away.
- People **living away long-term** (长期在外地生活的…可使用自助确认方式) are outside the base of the
  home-visit quota (they may confirm online); they stay in the count to confirm.
- Quota per bracket: 80+ 100 %, 70–79 ≥ 80 %, under 70 ≥ 60 % of that base (``rules.HOME_VISIT_QUOTA``).
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.confirmation import AgeBracket, Confirmation, ConfirmationMethod, ConfirmationRecord, ConfirmationStatus
from models.staff import Role
from server import clock
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.confirmation import rules
from server.errors import Conflict, ValidationFailed

EXCLUSION_REASONS = {"deceased": "死亡", "moved_out": "迁出本县"}
FACE_TO_FACE_METHODS = (ConfirmationMethod.HOME_VISIT.value, ConfirmationMethod.STATION.value)


def exclusion_of(status: str | None, exclusion: str | None) -> str | None:
    """Why a person is outside the count to confirm, or None if they are in it."""
    if status == ConfirmationStatus.DECEASED.value:
        return "deceased"
    return exclusion


def successful_home_visit(status: str | None, home_visited: bool) -> bool:
    return status == ConfirmationStatus.CONFIRMED.value and bool(home_visited)


def face_to_face(status: str | None, method: str | None, home_visited: bool) -> bool:
    """Staff met the person: confirmed at home or at the station (the first year requires it)."""
    return status == ConfirmationStatus.CONFIRMED.value and (method in FACE_TO_FACE_METHODS or bool(home_visited))


def required_home_visits(bracket: AgeBracket, base: int) -> int:
    return rules.required_home_visits(bracket, base)


async def exclude_moved_out(*, scope: Scope, actor: Actor, confirmation_id: int, note: str) -> Confirmation:
    """The person's file has moved to another county (迁出): out of the count to confirm, with the reason
    recorded; no notice or suspension follows for this county."""
    from server.confirmation.records import get_confirmation

    scope.require_role(Role.STATION, Role.CENTRE, Role.BUREAU)
    confirmation = await get_confirmation(scope=scope, confirmation_id=confirmation_id)
    await scope.require_station_writable(confirmation.station_id)
    if len(note.strip()) < 2:
        raise ValidationFailed("请注明迁往地或依据", code="note_required")
    if confirmation.status in (ConfirmationStatus.CONFIRMED, ConfirmationStatus.DECEASED):
        raise Conflict("已确认或已死亡的对象不能登记迁出", code="cannot_exclude")
    async with in_transaction():
        changed = await Confirmation.filter(id=confirmation.id, version=confirmation.version).update(status=ConfirmationStatus.MOVED, exclusion="moved_out", exclusion_note=note.strip()[:300], version=F("version") + 1)
        if not changed:
            raise Conflict("该确认记录已被他人更新，请刷新后重试", code="version_conflict")
        await ConfirmationRecord.create(confirmation_id=confirmation.id, kind="exclusion", outcome="moved_out", staff_id=int(actor.id or 0), happened_at=clock.now(), notes=note.strip())
        await audit.record(actor=actor, action="confirmation.excluded", entity_type="confirmation", entity_id=confirmation.id, details={"beneficiary_id": confirmation.beneficiary_id, "reason": "moved_out", "note": note.strip()})
    return await Confirmation.get(id=confirmation.id)


def empty_cell() -> dict[str, Any]:
    return {"people": 0, "deceased": 0, "moved_out": 0, "confirmed": 0, "home_visited": 0, "lives_away": 0, "face_to_face": 0, "face_to_face_base_met": 0}


def add_group(cell: dict[str, Any], *, n: int, status: str | None, method: str | None, home_visited: bool, exclusion: str | None, lives_away: bool) -> None:
    """Add ``n`` people of one (status, method, visited, exclusion, lives_away) group to a cell."""
    cell["people"] += n
    reason = exclusion_of(status, exclusion)
    if reason is not None:
        cell[reason] += n
        return
    if lives_away:
        cell["lives_away"] += n
    if status == ConfirmationStatus.CONFIRMED.value:
        cell["confirmed"] += n
        if method:
            cell[f"by_{method}"] = cell.get(f"by_{method}", 0) + n
    if successful_home_visit(status, home_visited):
        cell["home_visited"] += n
    if face_to_face(status, method, home_visited):
        cell["face_to_face"] += n
        if not lives_away:
            cell["face_to_face_base_met"] += n


def finish(cell: dict[str, Any], bracket: AgeBracket, *, first_year: bool) -> dict[str, Any]:
    """The derived numbers of a cell: count to confirm, percentages, quota and (first year) face-to-face."""
    cell["excluded"] = cell["deceased"] + cell["moved_out"]
    cell["to_confirm"] = cell["people"] - cell["excluded"]
    cell["unconfirmed"] = cell["to_confirm"] - cell["confirmed"]
    cell["confirmed_pct"] = round(100.0 * cell["confirmed"] / cell["to_confirm"], 1) if cell["to_confirm"] else 100.0
    cell["home_visit_base"] = cell["to_confirm"] - cell["lives_away"]
    cell["home_visits_required"] = required_home_visits(bracket, cell["home_visit_base"])
    cell["home_visits_missing"] = max(0, cell["home_visits_required"] - cell["home_visited"])
    cell["home_visit_quota_met"] = cell["home_visited"] >= cell["home_visits_required"]
    cell["face_to_face_required"] = cell["home_visit_base"] if first_year else 0
    cell["face_to_face_missing"] = max(0, cell["face_to_face_required"] - cell["face_to_face_base_met"]) if first_year else 0
    cell["fully_confirmed"] = cell["unconfirmed"] == 0 and cell["face_to_face_missing"] == 0
    return cell
