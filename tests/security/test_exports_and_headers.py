"""Exports cannot smuggle formulas; personal pages are not cached; full-ID prints are audited."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx
from openpyxl import load_workbook

from models.audit import AuditEntry
from models.staff import Role
from server.confirmation.notices import notice_sheet
from server.xlsx import safe_cell, safe_row, write_stream
from tests.factories import make_beneficiary, make_county, staff_headers


def test_formula_like_text_is_written_as_text() -> None:
    assert safe_row(["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "＝1", "张三", 5, -3]) == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'＝1", "张三", 5, -3]
    assert safe_cell(None) is None


async def test_a_name_beginning_with_equals_is_not_a_formula_in_the_notice_export(tmp_path: Path) -> None:
    notice = SimpleNamespace(entries=[{"station": "伊山镇", "name": "=cmd|' /C calc'!A0", "id_number": "3207231950******34", "category": "参战退役人员"}])
    target = tmp_path / "notice.xlsx"
    await write_stream(target, notice_sheet(notice, "公告"))  # type: ignore[arg-type]
    sheet = load_workbook(target).active
    cell = sheet["C3"]
    assert cell.data_type == "s" and cell.value == "'=cmd|' /C calc'!A0"


async def test_sensitive_answers_are_not_stored_and_id_reveal_is_audited(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    person = await make_beneficiary(station=county.station_a)
    reveal = await client.get(f"/api/beneficiaries/{person.id}/id-number", headers=headers)
    assert reveal.status_code == 200 and reveal.headers["cache-control"] == "no-store"
    detail = await client.get(f"/api/beneficiaries/{person.id}", headers=headers)
    assert detail.headers["cache-control"] == "no-store" and detail.headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/console/login")).headers["cache-control"] == "no-store"
    assert await AuditEntry.filter(action="beneficiary.id_number_viewed", entity_id=str(person.id)).exists()
