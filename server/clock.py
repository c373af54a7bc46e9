"""The server's clock, in the two forms the rules need: aware UTC for storage, China's date for deadlines.

Rules take "today" from here, never from a request body, so a client cannot move a deadline.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def utc_now() -> datetime:
    return datetime.now(UTC)


def china_now() -> datetime:
    return utc_now().astimezone(CHINA_TZ)


def china_today() -> date:
    """The calendar date in China: a deadline counted from 07:00 UTC on 31 December starts on 31 December in
    Beijing only until 16:00 UTC."""
    return china_now().date()
