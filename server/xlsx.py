"""The one writer for every XLSX file the server hands out (console downloads and API exports alike).

- **Formula neutralisation**: a text cell beginning with ``=``, ``+``, ``-`` or ``@`` (or a tab or
  carriage return before one) becomes a formula in Excel and WPS: a beneficiary named
  ``=HYPERLINK(...)`` would run in the bureau's spreadsheet. Such text is written with a leading
  apostrophe, as text. Numbers, dates and other values are left as they are.
- **As clerks expect a sheet**: a bold, frozen header row, column widths, long digit strings (phone
  and ID numbers) kept as text (no 1.39E+10), the sheet named in Chinese.
- **A Chinese file name**: ``Content-Disposition`` with ``filename*=UTF-8''…`` (RFC 5987/6266) and an
  ASCII fallback for old browsers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def _cell(value: Any) -> Any:
    """Text neutralised; an integer too long for a spreadsheet's 15 significant digits kept as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int) and len(str(abs(value))) > 11:
        return str(value)
    return safe_cell(value)


def _width(header: str, values: Iterable[Any]) -> float:
    """A column wide enough for its header and its longest value (CJK characters count double), capped."""
    def size(v: Any) -> int:
        text = "" if v is None else str(v)
        return sum(2 if ord(c) > 0x2E80 else 1 for c in text)
    longest = max([size(header), *(size(v) for v in values)] or [8])
    return float(min(60, max(8, longest + 2)))


@dataclass
class Sheet:
    """One table: its Chinese title, header and rows. ``widths`` (characters) override the measured ones;
    ``header_rows`` are lines above the header (a report's title or its period), kept unfrozen-bold."""

    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    widths: Sequence[float | None] = field(default_factory=list)
    header_rows: Sequence[Sequence[Any]] = field(default_factory=list)


def write_sheet(sheet: Worksheet, spec: Sheet) -> None:
    sheet.title = spec.title[:31]
    for line in spec.header_rows:
        sheet.append(safe_row(line))
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    sheet.append(safe_row(spec.headers))
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for row in spec.rows:
        sheet.append([_cell(v) for v in row])
    for index, header in enumerate(spec.headers, start=1):
        given = spec.widths[index - 1] if index - 1 < len(spec.widths) else None
        measured = _width(header, (r[index - 1] for r in spec.rows[:2000] if index - 1 < len(r)))
        sheet.column_dimensions[get_column_letter(index)].width = given or measured
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in sheet.iter_rows(min_row=header_row + 1):
        for cell in row:
            cell.alignment = wrap
    sheet.freeze_panes = f"A{header_row + 1}"


def workbook(*sheets: Sheet) -> bytes:
    """The XLSX bytes of one or more sheets."""
    book = Workbook()
    first = True
    for spec in sheets:
        sheet = book.active if first else book.create_sheet()
        first = False
        write_sheet(sheet, spec)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def table(*, title: str, headers: list[tuple[str, int]], rows: list[list[Any]]) -> bytes:
    """One sheet with the widths given beside each header."""
    return workbook(Sheet(title=title, headers=[h for h, _ in headers], rows=rows, widths=[w for _, w in headers]))


def attachment(filename: str) -> str:
    """Content-Disposition for a Chinese file name (RFC 6266/5987), with an ASCII fallback for old browsers."""
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in ".-_" else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def download_headers(filename: str) -> dict[str, str]:
    """Headers of an XLSX download: its Chinese file name, and never cached (it holds personal data)."""
    return {"Content-Disposition": attachment(filename), "Cache-Control": "no-store"}
