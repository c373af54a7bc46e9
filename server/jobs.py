"""The periodic jobs the background worker runs (each at most once per interval across processes).

Each job is ``run(now, settings)``; ``now`` is aware UTC.
"""

from __future__ import annotations

import logging
from datetime import datetime

from server.background import PeriodicJob
from server.config import Settings

DAY = 24 * 3600.0


async def purge_face_evidence(now: datetime, settings: Settings) -> None:
    from server.confirmation.self_service import purge_expired_evidence

    await purge_expired_evidence(today=now.date(), media_dir=settings.media_dir)


async def weekly_progress_reports(now: datetime, settings: Settings) -> None:
    from server.confirmation.reports import generate_weekly_reports

    await generate_weekly_reports(now=now, media_dir=settings.media_dir)


async def confirmation_reminders(now: datetime, settings: Settings) -> None:
    from server.confirmation.reminders import queue_confirmation_reminders

    await queue_confirmation_reminders(now=now, interval_days=settings.confirmation.reminder_interval_days)


async def card_jobs(now: datetime, settings: Settings) -> None:
    from server.cards.booking import queue_booking_reminders, release_no_shows
    from server.calendar.service import load

    await load(kv=None)
    await queue_booking_reminders(now=now, settings=settings)
    await release_no_shows(now=now)


async def card_monthly_statistics(now: datetime, settings: Settings) -> None:
    from server.cards.stats import generate_monthly_statistics

    await generate_monthly_statistics(now=now, media_dir=settings.media_dir)


async def calendar_check(now: datetime, settings: Settings) -> None:
    """Daily: log (at WARNING, so monitoring sees it) while this or — from 1 November — next year's holiday
    arrangement is still provisional."""
    from server.calendar.service import load, provisional_warning
    from server.clock import CHINA_TZ

    await load(kv=None)
    warning = provisional_warning(today=now.astimezone(CHINA_TZ).date())
    if warning:
        logging.getLogger("server.calendar").warning("calendar provisional: %s", warning)


async def anchor_audit_head(now: datetime, settings: Settings) -> None:
    from server.audit.service import anchor_head

    await anchor_head(anchor_path=settings.audit_anchor_path)


async def resume_registry_imports(now: datetime, settings: Settings) -> None:
    from server.registry.jobs import resume_stalled_imports

    await resume_stalled_imports(now=now)


async def resume_other_imports(now: datetime, settings: Settings) -> None:
    from server.import_jobs import resume_stalled_imports

    await resume_stalled_imports(settings=settings, now=now)


JOBS: list[PeriodicJob] = [
    PeriodicJob(name="calendar_check", interval_seconds=DAY, run=calendar_check),
    # Registry imports whose process died mid-file continue from their last finished row.
    PeriodicJob(name="registry_import_resume", interval_seconds=60, run=resume_registry_imports),
    # The same for ID-photo zips and death lists.
    PeriodicJob(name="import_jobs_resume", interval_seconds=60, run=resume_other_imports),
    # The audit chain's head, appended to the anchor file outside the database (truncation/re-hash evidence).
    PeriodicJob(name="audit_anchor", interval_seconds=60, run=anchor_audit_head),
    # Booking reminders (24 h ahead), releasing no-shows (on the calendar as the database has it now).
    PeriodicJob(name="card_bookings", interval_seconds=300, run=card_jobs),
    # Every 15 minutes (an existence check until the 20th): the table is frozen within a quarter of an hour of 00:00 China time.
    PeriodicJob(name="card_monthly_statistics", interval_seconds=900, run=card_monthly_statistics),
    PeriodicJob(name="purge_face_evidence", interval_seconds=DAY, run=purge_face_evidence),
    # Hourly: it only acts on Fridays (China time) and keeps one snapshot per ISO week.
    PeriodicJob(name="weekly_progress_reports", interval_seconds=3600, run=weekly_progress_reports),
    PeriodicJob(name="confirmation_reminders", interval_seconds=DAY, run=confirmation_reminders),
]
