"""Working days on China's statutory-holiday calendar, make-up working weekends included.

Where a day's status comes from, in order of authority:

1. an administrator's override for that day (from the State Council's notice) — official;
2. ``chinese-calendar`` for the years it knows (the State Council's published arrangements) — official;
3. the ``holidays`` package's China calendar (the statutory festivals computed from the lunar calendar and
   the holiday law, but no make-up working weekends) for later years — **provisional** until an
   administrator confirms the year, after which its days (plus the overrides) are official;
4. plain weekdays when no package knows the year — flagged as such.

Nothing here raises for an unknown year: a deadline is always computed, and carries the weakest basis of the
days it counted, so every place that shows it can say "provisional" when it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum
from functools import lru_cache

import chinese_calendar
import holidays


class DayBasis(IntEnum):
    """How sure a day's working status is; a higher value is weaker."""

    OFFICIAL = 0
    PROVISIONAL = 1
    WEEKDAYS = 2

    @property
    def code(self) -> str:
        return self.name.lower()

    @property
    def label(self) -> str:
        return {DayBasis.OFFICIAL: "以国务院公布的安排为准", DayBasis.PROVISIONAL: "暂按法定节假日推算，待国务院公布调休安排后确认", DayBasis.WEEKDAYS: "暂按周一至周五计算，节假日安排未知"}[self]


@dataclass(frozen=True, slots=True)
class Deadline:
    start: date
    working_days: int
    due: date
    basis: DayBasis

    @property
    def provisional(self) -> bool:
        return self.basis is not DayBasis.OFFICIAL

    def to_dict(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "working_days": self.working_days,
            "due": self.due.isoformat(),
            "provisional": self.provisional,
            "basis": self.basis.code,
            "basis_label": self.basis.label,
        }


@lru_cache(maxsize=1)
def official_package_years() -> range:
    """The years ``chinese-calendar`` holds the State Council's arrangement for."""
    known = [d.year for d in chinese_calendar.holidays]
    return range(min(known), max(known) + 1)


@lru_cache(maxsize=64)
def _estimated_holidays(year: int) -> frozenset[date] | None:
    """The statutory rest days the ``holidays`` package computes for ``year`` (None if it cannot)."""
    try:
        days = holidays.China(years=year)
    except (NotImplementedError, ValueError, KeyError):
        return None
    # Seven festivals a year by law; fewer means the package is outside its lunar tables.
    return frozenset(days) if len(days) >= 7 else None


class WorkingCalendar:
    """An immutable snapshot: the package data plus the administrators' overrides and confirmed years."""

    def __init__(self, overrides: dict[date, bool] | None = None, confirmed_years: frozenset[int] | set[int] = frozenset()) -> None:
        self._overrides = dict(overrides or {})
        self._confirmed_years = frozenset(confirmed_years)

    @property
    def confirmed_years(self) -> frozenset[int]:
        return self._confirmed_years

    def year_basis(self, year: int) -> DayBasis:
        if year in official_package_years() or year in self._confirmed_years:
            return DayBasis.OFFICIAL
        if _estimated_holidays(year) is not None:
            return DayBasis.PROVISIONAL
        return DayBasis.WEEKDAYS

    def day(self, day: date) -> tuple[bool, DayBasis]:
        """Whether ``day`` is a working day, and how sure that is."""
        if day in self._overrides:
            return self._overrides[day], DayBasis.OFFICIAL
        if day.year in official_package_years():
            return chinese_calendar.is_workday(day), DayBasis.OFFICIAL
        estimated = _estimated_holidays(day.year)
        if estimated is not None:
            working = day.weekday() < 5 and day not in estimated
            return working, DayBasis.OFFICIAL if day.year in self._confirmed_years else DayBasis.PROVISIONAL
        return day.weekday() < 5, DayBasis.WEEKDAYS

    def is_working_day(self, day: date) -> bool:
        return self.day(day)[0]

    def deadline(self, start: date, working_days: int) -> Deadline:
        """The date ``working_days`` working days after ``start`` (``start`` itself not counted)."""
        day, remaining, basis = start, working_days, DayBasis.OFFICIAL
        while remaining > 0:
            day += timedelta(days=1)
            working, day_basis = self.day(day)
            basis = max(basis, day_basis)
            if working:
                remaining -= 1
        return Deadline(start=start, working_days=working_days, due=day, basis=basis)

    def basis_between(self, start: date, end: date) -> DayBasis:
        """The weakest basis of the days in (start, end]: whether a stored due date was computed on
        provisional days."""
        basis = DayBasis.OFFICIAL
        for year in range(start.year, end.year + 1):
            basis = max(basis, self.year_basis(year))
        if basis is DayBasis.OFFICIAL:
            return basis
        # Single-day overrides can make the only days counted in a provisional year official.
        day, weakest = start, DayBasis.OFFICIAL
        while day < end:
            day += timedelta(days=1)
            weakest = max(weakest, self.day(day)[1])
        return weakest

    def provisional_years(self, years: range) -> list[int]:
        return [year for year in years if self.year_basis(year) is not DayBasis.OFFICIAL]
