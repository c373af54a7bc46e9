"""Working days for the rules that count them: a thin front to the shared calendar (``server/calendar``).

``add_working_days`` never raises: for a year the State Council has not published yet it counts on the
provisional calendar, and for a year no package knows, on weekdays. Callers that show a deadline use
``working_deadline`` (or ``deadline_basis`` for a stored due date) to say when it is provisional.
"""

from __future__ import annotations

from datetime import date

from server.calendar.rules import DayBasis, Deadline
from server.calendar.service import current

__all__ = ["DayBasis", "Deadline", "add_working_days", "deadline_basis", "is_working_day", "working_deadline"]


def is_working_day(day: date) -> bool:
    return current().is_working_day(day)


def working_deadline(start: date, working_days: int) -> Deadline:
    return current().deadline(start, working_days)


def add_working_days(start: date, working_days: int) -> date:
    """The date ``working_days`` working days after ``start`` (``start`` itself not counted)."""
    return current().deadline(start, working_days).due


def deadline_basis(start: date, due: date) -> DayBasis:
    """Whether a stored due date counted days that are still provisional."""
    return current().basis_between(start, due)


def due_is_provisional(due: date | None, *, start: date | None = None) -> bool:
    """For JSON and pages that show a stored due date: was it counted on days not yet official?"""
    if due is None:
        return False
    return deadline_basis(min(start or due, due), due) is not DayBasis.OFFICIAL
