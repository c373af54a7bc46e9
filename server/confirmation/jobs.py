"""The annual confirmation's periodic jobs: evidence retention, weekly reports, reminders."""

from __future__ import annotations

from datetime import datetime

from server.config import Settings
from server.confirmation.reminders import queue_confirmation_reminders
from server.confirmation.reports import generate_weekly_reports
from server.confirmation.self_service import purge_expired_evidence
from server.periodic import DAY, PeriodicJob


async def purge_face_evidence(now: datetime, settings: Settings) -> None:
    await purge_expired_evidence(today=now.date(), media_dir=settings.media_dir)


async def weekly_progress_reports(now: datetime, settings: Settings) -> None:
    await generate_weekly_reports(now=now, media_dir=settings.media_dir)


async def confirmation_reminders(now: datetime, settings: Settings) -> None:
    await queue_confirmation_reminders(now=now, interval_days=settings.confirmation.reminder_interval_days)


PERIODIC_JOBS = [
    PeriodicJob(name="purge_face_evidence", interval_seconds=DAY, run=purge_face_evidence),
    # Hourly: it only acts on Fridays (China time) and keeps one snapshot per ISO week.
    PeriodicJob(name="weekly_progress_reports", interval_seconds=3600, run=weekly_progress_reports),
    PeriodicJob(name="confirmation_reminders", interval_seconds=DAY, run=confirmation_reminders),
]
