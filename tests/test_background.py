from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sanic import Sanic

from models.confirmation import FaceAttempt
from server import background, media
from server.background import PeriodicJob, run_due_jobs
from tests.confirmation.helpers import running_campaign
from tests.factories import make_beneficiary, make_county
from tests.registry.test_registry_api import _tiny_png


async def test_jobs_run_once_per_interval(app: Sanic, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[datetime] = []

    async def job(now: datetime, settings) -> None:  # type: ignore[no-untyped-def]
        calls.append(now)

    monkeypatch.setattr(background, "periodic_jobs", lambda: [PeriodicJob(name="probe", interval_seconds=3600, run=job)])
    start = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert await run_due_jobs(kv=app.ctx.kv, settings=app.ctx.settings, now=start) == ["probe"]
    assert await run_due_jobs(kv=app.ctx.kv, settings=app.ctx.settings, now=start + timedelta(minutes=30)) == []
    assert await run_due_jobs(kv=app.ctx.kv, settings=app.ctx.settings, now=start + timedelta(hours=2)) == ["probe"]
    assert len(calls) == 2


async def test_evidence_is_purged_after_retention(app: Sanic) -> None:
    from models.confirmation import Confirmation

    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    await running_campaign(county.district)
    confirmation = await Confirmation.get(beneficiary_id=person.id)
    stored = media.store(app.ctx.settings.media_dir, _tiny_png(), category="evidence", allowed=media.IMAGE_TYPES)
    attempt = await FaceAttempt.create(confirmation=confirmation, beneficiary_id=person.id, user_id=1, decision="fail", frame_paths=[stored.path], evidence_purge_after=date.today() - timedelta(days=1))
    await run_due_jobs(kv=app.ctx.kv, settings=app.ctx.settings)
    fresh = await FaceAttempt.get(id=attempt.id)
    assert fresh.evidence_purged and fresh.frame_paths == []
    assert not media.resolve(app.ctx.settings.media_dir, stored.path).exists()
