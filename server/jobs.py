"""The periodic jobs the background worker runs (each at most once per interval across processes).

Each job is ``run(now, settings)``; ``now`` is aware UTC.
"""

from __future__ import annotations

from datetime import datetime

from server.background import PeriodicJob
from server.config import Settings

DAY = 24 * 3600.0


async def purge_face_evidence(now: datetime, settings: Settings) -> None:
    from server.confirmation.self_service import purge_expired_evidence

    await purge_expired_evidence(today=now.date(), media_dir=settings.media_dir)


JOBS: list[PeriodicJob] = [
    PeriodicJob(name="purge_face_evidence", interval_seconds=DAY, run=purge_face_evidence),
]
