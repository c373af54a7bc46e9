"""The working-day rule: official years, provisional years, weekday fallback; never an exception."""

from __future__ import annotations

from datetime import date

from server.calendar.rules import DayBasis, WorkingCalendar

CALENDAR = WorkingCalendar()


def test_seven_working_days_across_national_day_2025_are_official() -> None:
    # 2025: Oct 1-8 off; Sunday Sep 28 and Saturday Oct 11 are make-up working days.
    assert CALENDAR.is_working_day(date(2025, 9, 28)) and CALENDAR.is_working_day(date(2025, 10, 11))
    assert not CALENDAR.is_working_day(date(2025, 10, 8))
    deadline = CALENDAR.deadline(date(2025, 9, 28), 7)
    assert deadline.due == date(2025, 10, 14) and not deadline.provisional
    assert CALENDAR.deadline(date(2025, 9, 30), 1).due == date(2025, 10, 9)


def test_seven_working_days_from_christmas_2026_reach_january_2027_marked_provisional() -> None:
    deadline = CALENDAR.deadline(date(2026, 12, 25), 7)
    # Dec 28-31 (4), Jan 1 New Year's Day off, Jan 2-3 weekend, Jan 4-6 (3).
    assert deadline.due == date(2027, 1, 6)
    assert deadline.provisional and deadline.basis is DayBasis.PROVISIONAL
    assert deadline.to_dict()["provisional"] is True and "暂" in str(deadline.to_dict()["basis_label"])


def test_provisional_year_knows_the_statutory_festivals() -> None:
    # The Spring Festival 2027 (6 February) and National Day come from the `holidays` package.
    assert not CALENDAR.is_working_day(date(2027, 2, 8))
    assert not CALENDAR.is_working_day(date(2027, 10, 1))
    assert CALENDAR.day(date(2027, 3, 1)) == (True, DayBasis.PROVISIONAL)


def test_deadline_entirely_in_a_known_year_stays_official_near_new_year() -> None:
    deadline = CALENDAR.deadline(date(2026, 12, 21), 3)
    assert deadline.due == date(2026, 12, 24) and not deadline.provisional


def test_a_year_no_package_knows_falls_back_to_weekdays_and_says_so() -> None:
    deadline = CALENDAR.deadline(date(2150, 3, 2), 3)  # a Monday
    assert deadline.due == date(2150, 3, 5) and deadline.basis is DayBasis.WEEKDAYS


def test_overrides_and_a_confirmed_year_make_days_official() -> None:
    calendar = WorkingCalendar({date(2027, 1, 1): False, date(2027, 1, 2): True, date(2027, 1, 4): False}, confirmed_years=set())
    assert calendar.is_working_day(date(2027, 1, 2))  # a make-up Saturday
    assert not calendar.is_working_day(date(2027, 1, 4))
    assert calendar.deadline(date(2026, 12, 31), 1).due == date(2027, 1, 2)
    assert calendar.deadline(date(2026, 12, 31), 1).basis is DayBasis.OFFICIAL  # only overridden days were looked at
    assert calendar.deadline(date(2026, 12, 31), 3).provisional
    confirmed = WorkingCalendar({date(2027, 1, 2): True}, confirmed_years={2027})
    deadline = confirmed.deadline(date(2026, 12, 25), 7)
    assert not deadline.provisional and deadline.due == date(2027, 1, 5)


def test_basis_between_tells_whether_a_stored_due_date_is_provisional() -> None:
    assert CALENDAR.basis_between(date(2026, 12, 20), date(2026, 12, 30)) is DayBasis.OFFICIAL
    assert CALENDAR.basis_between(date(2026, 12, 30), date(2027, 1, 8)) is DayBasis.PROVISIONAL
