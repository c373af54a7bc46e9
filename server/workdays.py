"""Working days on the Chinese public-holiday calendar, make-up working weekends included.

Known years come from the `chinese-calendar` package; later years need entries in the override
table (see server/cards for the admin API). A date outside known data raises instead of guessing.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from server.errors import ApiError

# Filled from the database override table at start-up and on every admin change: {date: is_working}.
_overrides: dict[date, bool] = {}


class CalendarUnknown(ApiError):
    status, code, message = 422, "calendar_unknown", "该日期超出已知节假日安排，请管理员先维护工作日历"


def set_overrides(overrides: dict[date, bool]) -> None:
    _overrides.clear()
    _overrides.update(overrides)


async def load_overrides() -> None:
    """Read the admin-maintained table (at start-up, after each change, and every few minutes)."""
    from models.cards import CalendarOverride

    set_overrides({row.day: row.is_working_day for row in await CalendarOverride.all()})


def _package_years() -> tuple[int, int]:
    known = [d.year for d in chinese_calendar.holidays]
    return min(known), max(known)


def is_working_day(day: date) -> bool:
    if day in _overrides:
        return _overrides[day]
    first, last = _package_years()
    if first <= day.year <= last:
        return chinese_calendar.is_workday(day)
    if any(d.year == day.year for d in _overrides):
        # A year maintained by hand: listed dates are the exceptions, the rest follow the weekday.
        return day.weekday() < 5
    raise CalendarUnknown(date=day.isoformat())


def add_working_days(start: date, n: int) -> date:
    """The date ``n`` working days after ``start`` (``start`` itself not counted)."""
    day = start
    remaining = n
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day
