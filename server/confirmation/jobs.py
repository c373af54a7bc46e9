"""The annual confirmation's periodic jobs: evidence retention, weekly reports, reminders."""

from __future__ import annotations

from datetime import datetime

from server.config import Settings
from server.confirmation.reminders import queue_confirmation_reminders
from server.confirmation.reports import generate_weekly_reports
from server.confirmation.self_service import purge_expired_evidence
from server.confirmation.tally import compact_all, verify
from server.periodic import DAY, PeriodicJob


async def purge_face_evidence(now: datetime, settings: Settings) -> None:
    await purge_expired_evidence(today=now.date(), media_dir=settings.media_dir)


async def weekly_progress_reports(now: datetime, settings: Settings) -> None:
    await generate_weekly_reports(now=now, media_dir=settings.media_dir)


async def confirmation_reminders(now: datetime, settings: Settings) -> None:
    await queue_confirmation_reminders(now=now, interval_days=settings.confirmation.reminder_interval_days)


async def fold_confirmation_tally(now: datetime, settings: Settings) -> None:
    await compact_all()


async def verify_confirmation_tally(now: datetime, settings: Settings) -> None:
    # Counts written past the triggers (a restore, triggers disabled by hand) are corrected and logged.
    await verify(repair=True)


PERIODIC_JOBS = [
    PeriodicJob(name="purge_face_evidence", interval_seconds=DAY, run=purge_face_evidence),
    # Hourly: it only acts on Fridays (China time) and keeps one snapshot per ISO week.
    PeriodicJob(name="weekly_progress_reports", interval_seconds=3600, run=weekly_progress_reports),
    PeriodicJob(name="confirmation_reminders", interval_seconds=DAY, run=confirmation_reminders),
    # PostgreSQL's report counters (tally.py; no-ops on SQLite): fold the pieces hourly, check daily.
    PeriodicJob(name="fold_confirmation_tally", interval_seconds=3600, run=fold_confirmation_tally),
    PeriodicJob(name="verify_confirmation_tally", interval_seconds=DAY, run=verify_confirmation_tally),
]
