from __future__ import annotations

from datetime import date

import pytest

from server import workdays
from server.workdays import CalendarUnknown, add_working_days, is_working_day


def test_seven_working_days_across_national_day_2025() -> None:
    # 2025: Oct 1-8 off; Sunday Sep 28 and Saturday Oct 11 are make-up working days.
    assert is_working_day(date(2025, 9, 28)) and is_working_day(date(2025, 10, 11))
    assert not is_working_day(date(2025, 10, 8))
    assert add_working_days(date(2025, 9, 28), 7) == date(2025, 10, 14)
    assert add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)


def test_unknown_year_raises_instead_of_guessing() -> None:
    with pytest.raises(CalendarUnknown) as info:
        add_working_days(date(2031, 3, 2), 3)
    assert info.value.code == "calendar_unknown"


def test_overrides_cover_a_year_the_package_does_not_know() -> None:
    try:
        workdays.set_overrides({date(2031, 1, 1): False, date(2031, 1, 4): True})
        assert not is_working_day(date(2031, 1, 1))  # listed holiday
        assert is_working_day(date(2031, 1, 4))  # listed make-up Saturday
        assert is_working_day(date(2031, 1, 2)) and not is_working_day(date(2031, 1, 5))
        assert add_working_days(date(2030, 12, 31), 2) == date(2031, 1, 3)
    finally:
        workdays.set_overrides({})
