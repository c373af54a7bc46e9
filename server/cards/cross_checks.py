"""Cross-checks with other departments (定期会同公安、民政、人社等部门对生存、婚姻、社保、违法违纪等信息
进行比对): each finding flags the person's open card applications and undelivered cards for the
station to verify. Deaths come through the death import (server/confirmation/deaths.py), which
flags the card work itself."""

from __future__ import annotations

import hashlib
from typing import Any

from models.staff import Role
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.cards.applications import flag_on_cross_check
from server.registry import service as registry
from server.registry.id_numbers import InvalidIdNumber, parse_id_number
from server.registry.importer import read_table

SOURCES = {"婚姻": "民政婚姻登记", "民政": "民政婚姻登记", "社保": "人社社保", "人社": "人社社保", "公安": "公安", "违法违纪": "公安/纪检违法违纪", "纪检": "公安/纪检违法违纪", "生存": "生存认证"}
HEADERS = {"来源": "source", "数据来源": "source", "比对结果": "finding", "发现": "finding", "情况": "finding", "source": "source", "finding": "finding"}


async def import_findings(*, scope: Scope, actor: Actor, filename: str, data: bytes) -> dict[str, Any]:
    """Row by row, matched by ID number and name; out-of-scope people read as unmatched."""
    scope.require_role(Role.CENTRE, Role.BUREAU)
    scope.require_write()
    table = read_table(filename, data, extra_headers=HEADERS, required=("id_number", "name", "source", "finding"))
    counts = {"flagged": 0, "no_open_card_work": 0, "unmatched": 0, "rejected": 0}
    rows: list[dict[str, Any]] = []
    for index, raw in enumerate(table, start=2):
        if not any(raw.values()):
            continue
        outcome: dict[str, Any] = {"row": index}
        source = SOURCES.get(raw.get("source", "").strip())
        finding = raw.get("finding", "").strip()
        try:
            parsed = parse_id_number(raw.get("id_number", ""))
        except InvalidIdNumber as exc:
            outcome.update(status="rejected", message=exc.message)
        else:
            outcome["id_number_masked"] = parsed.masked
            person = await registry.find_by_id_number(parsed.value)
            if source is None or not finding:
                outcome.update(status="rejected", message="来源应为婚姻/社保/公安/违法违纪/生存，且须写明比对结果")
            elif person is None or not await scope.contains_station(person.station_id) or "".join(person.name.split()) != "".join(raw.get("name", "").split()):
                outcome.update(status="unmatched", message="未找到该身份证号码和姓名对应的优抚对象")
            else:
                flagged = await flag_on_cross_check(beneficiary_id=person.id, source=source, finding=finding)
                outcome.update(beneficiary_id=person.id, status="flagged" if flagged["applications"] or flagged["cards"] else "no_open_card_work", **flagged)
        counts[outcome["status"]] += 1
        rows.append(outcome)
    await audit.record(actor=actor, action="cards.cross_check_imported", entity_type="import", entity_id=hashlib.sha256(data).hexdigest()[:16], details={"filename": filename, **counts})
    return {"counts": counts, "rows": rows}
