"""The one writer for every XLSX file the server hands out (console downloads and API exports alike).

- **Formula neutralisation**: a text cell beginning with ``=``, ``+``, ``-`` or ``@`` (or a tab or
  carriage return before one) becomes a formula in Excel and WPS: a beneficiary named
  ``=HYPERLINK(...)`` would run in the bureau's spreadsheet. Such text is written with a leading
  apostrophe, as text. Numbers, dates and other values are left as they are.
- **As clerks expect a sheet**: a bold, frozen header row, column widths, long digit strings (phone
  and ID numbers) kept as text (no 1.39E+10), the sheet named in Chinese.
- **A Chinese file name**: ``Content-Disposition`` with ``filename*=UTF-8''…`` (RFC 5987/6266) and an
  ASCII fallback for old browsers.
- **Two writers, one look**: ``workbook`` builds a small sheet in memory; ``write_stream`` /
  ``stream_download`` write a sheet of any length (rows from an async iterator, fetched page by page)
  with openpyxl's write-only mode into a temporary file, so memory stays flat however many rows there
  are, and the file is sent in chunks. Both give the same header, widths, frozen pane and neutralisation.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sanic.response import ResponseStream, file_stream

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


# Column widths are measured on the first rows only (a long list is not read twice).
WIDTH_SAMPLE_ROWS = 2000
HEADER_FONT = Font(bold=True)
HEADER_ALIGNMENT = Alignment(vertical="center", wrap_text=True)
BODY_ALIGNMENT = Alignment(wrap_text=True, vertical="top")


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
        cell.font = HEADER_FONT
        cell.alignment = HEADER_ALIGNMENT
    for row in spec.rows:
        sheet.append([_cell(v) for v in row])
    for letter, width in _widths(spec.headers, spec.widths, spec.rows[:WIDTH_SAMPLE_ROWS]):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=header_row + 1):
        for cell in row:
            cell.alignment = BODY_ALIGNMENT
    sheet.freeze_panes = f"A{header_row + 1}"


def _widths(headers: Sequence[str], given: Sequence[float | None], sample: Sequence[Sequence[Any]]) -> list[tuple[str, float]]:
    out = []
    for index, header in enumerate(headers):
        width = given[index] if index < len(given) else None
        out.append((get_column_letter(index + 1), width or _width(header, (r[index] for r in sample if index < len(r)))))
    return out


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


# ---- streaming: any number of rows, flat memory ----------------------------------------------------


@dataclass
class StreamSheet:
    """A sheet whose rows arrive as an async iterator of pages (lists of rows), e.g. a query read by
    keyset pagination (``pages``). ``widths`` as in ``Sheet``; missing ones are measured on the first page(s)."""

    title: str
    headers: Sequence[str]
    rows: AsyncIterable[Sequence[Sequence[Any]]]
    widths: Sequence[float | None] = field(default_factory=list)
    header_rows: Sequence[Sequence[Any]] = field(default_factory=list)


def _styled(sheet: Any, value: Any, font: Font | None = None, alignment: Alignment | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if font is not None:
        cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    return cell


class _StreamWriter:
    """One write-only sheet: head (header lines, widths, frozen pane) once the first rows are known, then rows."""

    def __init__(self, book: Workbook, spec: StreamSheet) -> None:
        self.spec = spec
        self.sheet = book.create_sheet(title=spec.title[:31])
        self.pending: list[Sequence[Any]] = []
        self.started = False
        self.count = 0
        # One style shared by every body cell: assigning an Alignment per cell costs a style lookup each time.
        self.body_style = _styled(self.sheet, None, alignment=BODY_ALIGNMENT)._style

    def add(self, page: Sequence[Sequence[Any]]) -> None:
        if self.started:
            self._rows(page)
            return
        self.pending.extend(page)
        if len(self.pending) >= WIDTH_SAMPLE_ROWS:
            self._start()

    def finish(self) -> int:
        if not self.started:
            self._start()
        return self.count

    def _start(self) -> None:
        # Widths and the frozen pane must be set before the first row goes out (write-only mode).
        spec, sheet = self.spec, self.sheet
        self.started = True
        for letter, width in _widths(spec.headers, spec.widths, self.pending):
            sheet.column_dimensions[letter].width = width
        sheet.freeze_panes = f"A{len(spec.header_rows) + 2}"
        for line in spec.header_rows:
            sheet.append([_styled(sheet, v, HEADER_FONT) for v in safe_row(line)])
        sheet.append([_styled(sheet, v, HEADER_FONT, HEADER_ALIGNMENT) for v in safe_row(spec.headers)])
        pending, self.pending = self.pending, []
        self._rows(pending)

    def _rows(self, rows: Sequence[Sequence[Any]]) -> None:
        sheet, style = self.sheet, self.body_style
        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=_cell(value))
                cell._style = style  # never mutated: written as the same style index
                cells.append(cell)
            sheet.append(cells)
        self.count += len(rows)


async def write_stream(target: Path, *sheets: StreamSheet) -> int:
    """Write the sheets to ``target`` with memory flat in the number of rows; returns the rows written.

    Pages are read on the event loop (they come from the database) and written in a thread (openpyxl
    is CPU work), so other requests keep being answered during a long export.
    """
    book = Workbook(write_only=True)
    total = 0
    for spec in sheets:
        writer = _StreamWriter(book, spec)
        async for page in spec.rows:
            if page:
                await asyncio.to_thread(writer.add, page)
        total += await asyncio.to_thread(writer.finish)
    await asyncio.to_thread(book.save, str(target))
    return total


def temporary_path(suffix: str = ".xlsx") -> Path:
    handle, name = tempfile.mkstemp(prefix="vets-export-", suffix=suffix)
    os.close(handle)
    return Path(name)


async def stream_download(filename: str, *sheets: StreamSheet) -> ResponseStream:
    """An XLSX download of any length: written to a temporary file, sent in chunks, then deleted.

    ``filename`` is the Chinese name the browser saves (``download_headers``)."""
    path = temporary_path()
    try:
        await write_stream(path, *sheets)
        return await send_file_once(path, filename=filename, mime_type=MIME)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


async def send_file_once(path: Path, *, filename: str, mime_type: str) -> ResponseStream:
    """Stream a temporary file as a download and delete it once sent (or the client went away)."""
    headers = {**download_headers(filename), "Content-Length": str(path.stat().st_size)}
    response = await file_stream(path, mime_type=mime_type, headers=headers, chunk_size=256 * 1024)
    send: Callable[[Any], Awaitable[None]] | None = response.streaming_fn
    assert send is not None

    async def send_then_delete(stream: Any) -> None:
        try:
            await send(stream)
        finally:
            path.unlink(missing_ok=True)

    response.streaming_fn = send_then_delete
    return response


async def pages(fetch: Callable[[Any, int], Awaitable[Sequence[Any]]], *, key: Callable[[Any], Any], size: int = 2000) -> AsyncIterator[Sequence[Any]]:
    """Keyset pagination: ``fetch(after, size)`` returns up to ``size`` items after the key ``after``
    (None: from the start), in key order; yields them page by page until a short page."""
    after: Any = None
    while True:
        page = await fetch(after, size)
        if page:
            yield page
        if len(page) < size:
            return
        after = key(page[-1])


def attachment(filename: str) -> str:
    """Content-Disposition for a Chinese file name (RFC 6266/5987), with an ASCII fallback for old browsers."""
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in ".-_" else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def download_headers(filename: str) -> dict[str, str]:
    """Headers of an XLSX download: its Chinese file name, and never cached (it holds personal data)."""
    return {"Content-Disposition": attachment(filename), "Cache-Control": "no-store"}
