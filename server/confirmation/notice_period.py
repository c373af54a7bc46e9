"""在公告60日内仍未能取得联系的、无法确认的…自下月起停发: the 60-day rule, on the server's date.

A person may be proposed for suspension only once ``days`` full days have passed since the
publication of a notice listing them (the publication date is recorded by the server, never typed
in), and the suspension takes effect on the first day of the next month.
"""

from __future__ import annotations

from datetime import date, timedelta

NOTICE_TO_SUSPENSION_DAYS = 60


def earliest_proposal(published_on: date, days: int = NOTICE_TO_SUSPENSION_DAYS) -> date:
    return published_on + timedelta(days=days)


def period_over(published_on: date, today: date, days: int = NOTICE_TO_SUSPENSION_DAYS) -> bool:
    return today >= earliest_proposal(published_on, days)
