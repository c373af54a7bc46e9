"""Hostile spreadsheets and archives are refused quickly with flat memory."""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile

import httpx

from models.staff import Role
from tests.factories import make_county, staff_headers

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
_WORKBOOK = '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
_WB_RELS = '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'


def _header_cells() -> str:
    return "".join(f'<c r="{col}1" t="inlineStr"><is><t>{text}</t></is></c>' for col, text in zip("ABCD", ("姓名", "身份证号", "类别", "服务站"), strict=True))


def sparse_xlsx(*, dimension: str | None, far_cell: str, far_row: int) -> bytes:
    """A tiny XLSX with one value at a far corner: the 1.6 KB file that padded to 16 billion cells."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData><row r=\"1\">{_header_cells()}</row>"
        f'<row r="{far_row}"><c r="{far_cell}{far_row}" t="inlineStr"><is><t>x</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


async def _timed_upload(client: httpx.AsyncClient, headers: dict[str, str], name: str, data: bytes, path: str = "/api/beneficiaries/import") -> tuple[httpx.Response, float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        response = await client.post(path, headers=headers, files={"file": (name, data, "application/octet-stream")})
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response, elapsed, peak


async def test_sparse_xlsx_bomb_is_refused_in_under_a_second_with_flat_memory(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    bomb = sparse_xlsx(dimension="A1:XFD1048576", far_cell="XFD", far_row=1048576)
    assert len(bomb) < 3000
    response, elapsed, peak = await _timed_upload(client, headers, "bomb.xlsx", bomb)
    assert response.status_code == 422 and response.json()["error"]["code"] == "xlsx_dimension_too_large"
    assert elapsed < 1.0 and peak < 30 * 1024 * 1024, (elapsed, peak)


async def test_far_cells_without_a_declared_dimension_are_bounded(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    wide = sparse_xlsx(dimension=None, far_cell="XFD", far_row=2)
    response, elapsed, peak = await _timed_upload(client, headers, "wide.xlsx", wide)
    # The far cell is beyond the columns read: the row is empty and skipped.
    assert response.status_code in (200, 202), response.text
    assert elapsed < 1.0 and peak < 30 * 1024 * 1024, (elapsed, peak)


async def test_zip_bomb_entries_are_refused_by_their_declared_ratio(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/sharedStrings.xml", b"\x00" * (100 * 1024 * 1024))
    response, elapsed, _ = await _timed_upload(client, headers, "z.xlsx", buffer.getvalue())
    assert response.status_code == 422 and response.json()["error"]["code"] in ("zip_ratio", "xlsx_part_too_large")
    assert elapsed < 1.0


async def test_the_bombs_are_refused_by_the_death_and_photo_imports_too(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    bomb = sparse_xlsx(dimension="A1:XFD1048576", far_cell="XFD", far_row=1048576)
    response, elapsed, peak = await _timed_upload(client, headers, "deaths.xlsx", bomb, path="/api/deaths/import")
    assert response.status_code == 422 and response.json()["error"]["code"] == "xlsx_dimension_too_large"
    assert elapsed < 1.0 and peak < 30 * 1024 * 1024, (elapsed, peak)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("320723195005170011.png", b"\x00" * (100 * 1024 * 1024))
    response, elapsed, _ = await _timed_upload(client, headers, "ids.zip", buffer.getvalue(), path="/api/beneficiaries/photos/import")
    assert response.status_code == 422 and response.json()["error"]["code"] in ("zip_ratio", "zip_too_large"), response.text
    assert elapsed < 1.0
