"""The calendar's periodic job: warn while a year's holiday arrangement is still provisional."""

from __future__ import annotations

import logging
from datetime import datetime

from server.calendar.service import load, provisional_warning
from server.clock import CHINA_TZ
from server.config import Settings
from server.periodic import DAY, PeriodicJob


async def calendar_check(now: datetime, settings: Settings) -> None:
    """Daily: log (at WARNING, so monitoring sees it) while this or — from 1 November — next year's holiday
    arrangement is still provisional."""
    await load(kv=None)
    warning = provisional_warning(today=now.astimezone(CHINA_TZ).date())
    if warning:
        logging.getLogger("server.calendar").warning("calendar provisional: %s", warning)


PERIODIC_JOBS = [PeriodicJob(name="calendar_check", interval_seconds=DAY, run=calendar_check)]
