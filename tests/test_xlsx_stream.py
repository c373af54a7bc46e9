"""The streaming XLSX writer gives the same sheet as the in-memory one (header lines, widths, frozen pane,
neutralisation), for no rows as for many, and the keyset-page helper reads every item once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from server import xlsx

HEADERS = ["姓名", "身份证号", "备注"]


def _rows(n: int) -> list[list[Any]]:
    return [[f"人员{i}", 320723195005170000 + i, "=SUM(A1)" if i % 2 else None] for i in range(n)]


async def _pages(rows: list[list[Any]], size: int) -> AsyncIterator[Sequence[Sequence[Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


async def test_streamed_and_in_memory_sheets_match(tmp_path: Path) -> None:
    rows = _rows(2500)  # past the width sample: the head is written after the first 2,000 rows
    streamed = tmp_path / "s.xlsx"
    count = await xlsx.write_stream(streamed, xlsx.StreamSheet(title="名单", headers=HEADERS, rows=_pages(rows, 700), header_rows=[["灌云县", "2026年"]], widths=[None, 22]))
    memory = tmp_path / "m.xlsx"
    memory.write_bytes(xlsx.workbook(xlsx.Sheet(title="名单", headers=HEADERS, rows=rows, header_rows=[["灌云县", "2026年"]], widths=[None, 22])))
    assert count == 2500
    a, b = load_workbook(streamed).active, load_workbook(memory).active
    assert [[c.value for c in r] for r in a.iter_rows()] == [[c.value for c in r] for r in b.iter_rows()]
    assert a.freeze_panes == b.freeze_panes == "A3"
    assert [a.column_dimensions[k].width for k in "ABC"] == [b.column_dimensions[k].width for k in "ABC"]
    assert a["A1"].font.bold and a["A2"].font.bold and a["A2"].alignment.wrap_text and a["A3"].alignment.wrap_text
    assert a["B3"].value == "320723195005170000" and a["C4"].value == "'=SUM(A1)"


async def test_an_empty_list_is_a_header_only_sheet(tmp_path: Path) -> None:
    target = tmp_path / "e.xlsx"
    assert await xlsx.write_stream(target, xlsx.StreamSheet(title="空", headers=HEADERS, rows=_pages([], 10))) == 0
    sheet = load_workbook(target).active
    assert [c.value for c in sheet[1]] == HEADERS and sheet.max_row == 1 and sheet.freeze_panes == "A2"


async def test_keyset_pages_read_every_item_once() -> None:
    items = list(range(1, 2001))
    calls: list[int | None] = []

    async def fetch(after: int | None, size: int) -> list[int]:
        calls.append(after)
        return [i for i in items if after is None or i > after][:size]

    seen = [i async for page in xlsx.pages(fetch, key=lambda i: i, size=500) for i in page]
    assert seen == items and calls == [None, 500, 1000, 1500, 2000]  # the last, empty page ends it
