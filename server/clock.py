"""The server's clock: every rule that depends on "today" asks here, never the client.

Production reads the system clock. Tests move time with ``advance`` / ``set_offset`` (the test
server runs in the test's process) instead of sending dates in requests; ``reset`` puts it back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

# Mainland China has no daylight saving time, so a fixed offset is exact and needs no tzdata.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

_offset = timedelta(0)


def now() -> datetime:
    """Aware UTC now, shifted by the test offset (zero outside tests)."""
    return datetime.now(UTC) + _offset


def china_now(at: datetime | None = None) -> datetime:
    """China's wall-clock time now (or at the aware instant ``at``)."""
    return (at or now()).astimezone(CHINA_TZ)


def china_today() -> date:
    """The date in China: the seed's deadlines (60 days, next month, Fridays) are local dates."""
    return china_now().date()


def set_offset(offset: timedelta) -> None:
    global _offset
    _offset = offset


def advance(delta: timedelta) -> None:
    set_offset(_offset + delta)


def reset() -> None:
    set_offset(timedelta(0))


def offset() -> timedelta:
    return _offset


def china_time(value: datetime | str | None, *, seconds: bool = False) -> str:
    """A stored time (UTC, aware or naive) as China time, ``2026-11-28 09:05``."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
