"""The calendar every worker shares: administrators' overrides and confirmed years in the database, a version
token in the key-value store, and a per-process snapshot refreshed whenever the token moves.

Writers commit to the database first and then set a fresh token; each worker compares the token at the start
of a request (one key-value read) and reloads on a change, so an override saved through one worker is in force
in all of them for their next request, without a restart.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date

from tortoise.transactions import in_transaction

from models.calendar import CalendarOverride, CalendarYear
from server.actors import Actor
from server.audit import service as audit
from server.calendar.rules import DayBasis, WorkingCalendar
from server.errors import NotFound
from server.kv import KeyValueStore

log = logging.getLogger("server.calendar")

VERSION_KEY = "calendar:version"
# The warning about next year's arrangement starts on this month and day (China time).
WARN_FROM = (11, 1)


class _NotLoaded:
    pass


@dataclass
class _Snapshot:
    calendar: WorkingCalendar
    version: str | None | _NotLoaded


# A cache of shared state, never the source of truth: refreshed from the database whenever the version moves.
NOT_READ = _NotLoaded()
_snapshot = _Snapshot(calendar=WorkingCalendar(), version=NOT_READ)


def current() -> WorkingCalendar:
    return _snapshot.calendar


async def _read_database() -> WorkingCalendar:
    overrides = {row.day: row.is_working_day for row in await CalendarOverride.all()}
    years = set(await CalendarYear.all().values_list("year", flat=True))
    return WorkingCalendar(overrides, {int(y) for y in years})


async def load(*, kv: KeyValueStore | None) -> WorkingCalendar:
    """Read the database (the version first, so a change made meanwhile is seen on the next check)."""
    version: str | None | _NotLoaded = _NotLoaded()
    if kv is not None:
        try:
            version = await kv.get(VERSION_KEY)
        except Exception:  # the store being down must not stop deadlines: reload again next time
            log.warning("calendar version unreadable; reloading from the database", exc_info=True)
    _snapshot.calendar = await _read_database()
    _snapshot.version = version
    return _snapshot.calendar


async def refresh_if_stale(*, kv: KeyValueStore, version: str | None | _NotLoaded = NOT_READ) -> None:
    """``version``: the token when the caller has just read it (with other keys, in one round trip)."""
    if isinstance(version, _NotLoaded):
        try:
            version = await kv.get(VERSION_KEY)
        except Exception:
            log.warning("calendar version unreadable; keeping this worker's calendar", exc_info=True)
            return
    if isinstance(_snapshot.version, _NotLoaded) or version != _snapshot.version:
        _snapshot.calendar = await _read_database()
        _snapshot.version = version


async def _publish(kv: KeyValueStore) -> None:
    await kv.set(VERSION_KEY, uuid.uuid4().hex)
    await load(kv=kv)


async def set_override(*, actor: Actor, kv: KeyValueStore, day: date, is_working_day: bool, note: str) -> CalendarOverride:
    async with in_transaction():
        row, _ = await CalendarOverride.update_or_create(defaults={"is_working_day": is_working_day, "note": note}, day=day)
        await audit.record(actor=actor, action="calendar.override_set", entity_type="calendar", entity_id=day.isoformat(), after={"day": day.isoformat(), "is_working_day": is_working_day, "note": note})
    await _publish(kv)
    return row


async def delete_override(*, actor: Actor, kv: KeyValueStore, day: date) -> None:
    async with in_transaction():
        if not await CalendarOverride.filter(day=day).delete():
            raise NotFound("没有该日期的设置", code="override_not_found")
        await audit.record(actor=actor, action="calendar.override_deleted", entity_type="calendar", entity_id=day.isoformat())
    await _publish(kv)


async def confirm_year(*, actor: Actor, kv: KeyValueStore, year: int, source: str) -> CalendarYear:
    """An administrator states that the year's arrangement (the package's festivals plus the overrides
    entered for make-up working days and any differences) matches the State Council's notice."""
    async with in_transaction():
        row, _ = await CalendarYear.update_or_create(defaults={"confirmed_by": f"{actor.type}:{actor.id}", "source": source}, year=year)
        await audit.record(actor=actor, action="calendar.year_confirmed", entity_type="calendar", entity_id=str(year), after={"year": year, "source": source})
    await _publish(kv)
    return row


async def withdraw_year(*, actor: Actor, kv: KeyValueStore, year: int) -> None:
    async with in_transaction():
        if not await CalendarYear.filter(year=year).delete():
            raise NotFound("该年度尚未确认", code="year_not_confirmed")
        await audit.record(actor=actor, action="calendar.year_withdrawn", entity_type="calendar", entity_id=str(year))
    await _publish(kv)


def provisional_warning(*, today: date, calendar: WorkingCalendar | None = None) -> str | None:
    """The console banner: the current year not confirmed, or — from 1 November — next year not yet."""
    calendar = calendar or current()
    years = [today.year]
    if (today.month, today.day) >= WARN_FROM:
        years.append(today.year + 1)
    pending = [year for year in years if calendar.year_basis(year) is not DayBasis.OFFICIAL]
    if not pending:
        return None
    names = "、".join(f"{year}年" for year in pending)
    return (
        f"{names}节假日及调休安排尚未确认：期限暂按法定节假日推算（不含调休上班日），标注为“暂定”。"
        "国务院公布安排后，请系统管理员在“工作日历”中录入调休日并确认该年度。"
    )


async def year_statuses(*, today: date) -> list[dict[str, object]]:
    calendar = current()
    confirmed = {row.year: row for row in await CalendarYear.filter(year__gte=today.year - 1, year__lte=today.year + 2)}
    items: list[dict[str, object]] = []
    for year in range(today.year - 1, today.year + 3):
        basis = calendar.year_basis(year)
        row = confirmed.get(year)
        items.append(
            {
                "year": year,
                "basis": basis.code,
                "basis_label": basis.label,
                "provisional": basis is not DayBasis.OFFICIAL,
                "confirmed_by": row.confirmed_by if row else None,
                "source": row.source if row else None,
            }
        )
    return items
