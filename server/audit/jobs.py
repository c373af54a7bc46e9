"""The audit log's periodic job: anchor the chain's head outside the database."""

from __future__ import annotations

from datetime import datetime

from server.audit.service import anchor_head
from server.config import Settings
from server.periodic import PeriodicJob


async def anchor_audit_head(now: datetime, settings: Settings) -> None:
    await anchor_head(anchor_path=settings.audit_anchor_path)


PERIODIC_JOBS = [
    # The audit chain's head, appended to the anchor file outside the database (truncation/re-hash evidence).
    PeriodicJob(name="audit_anchor", interval_seconds=60, run=anchor_audit_head),
]
