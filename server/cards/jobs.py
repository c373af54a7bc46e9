"""The card domain's periodic jobs: pickup bookings and the monthly statistics table."""

from __future__ import annotations

from datetime import datetime

from server.calendar.service import load
from server.cards.booking import queue_booking_reminders, release_no_shows
from server.cards.stats import generate_monthly_statistics
from server.config import Settings
from server.periodic import PeriodicJob


async def card_jobs(now: datetime, settings: Settings) -> None:
    await load(kv=None)
    await queue_booking_reminders(now=now, settings=settings)
    await release_no_shows(now=now)


async def card_monthly_statistics(now: datetime, settings: Settings) -> None:
    await generate_monthly_statistics(now=now, media_dir=settings.media_dir)


PERIODIC_JOBS = [
    # Booking reminders (24 h ahead), releasing no-shows (on the calendar as the database has it now).
    PeriodicJob(name="card_bookings", interval_seconds=300, run=card_jobs),
    # Every 15 minutes (an existence check until the 20th): the table is frozen within a quarter of an hour
    # of 00:00 China time.
    PeriodicJob(name="card_monthly_statistics", interval_seconds=900, run=card_monthly_statistics),
]
