"""Values written into generated XLSX files, made safe to open.

A text cell beginning with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before one)
becomes a formula in Excel and WPS: a beneficiary named ``=HYPERLINK(...)`` would run in the
bureau's spreadsheet. Such text is written with a leading apostrophe, as text. Numbers, dates and
other values are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]
