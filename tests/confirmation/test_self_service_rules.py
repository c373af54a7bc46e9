"""Self-service rules that need no recording: the failure count under concurrency, and the face codes
the server names without importing ``face`` at start-up."""

from __future__ import annotations

import asyncio
import sys

from sanic import Sanic

from models.confirmation import Confirmation
from server.confirmation import self_service
from tests.confirmation.helpers import running_campaign
from tests.factories import make_beneficiary, make_county


async def test_concurrent_failures_are_each_counted_and_lock_at_the_limit(app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    campaign = await running_campaign(county.district)
    confirmation = await Confirmation.get(campaign_id=campaign.id, beneficiary_id=person.id)
    settings = app.ctx.settings
    limit = settings.confirmation.max_failed_attempts_per_campaign

    await asyncio.gather(*[self_service._count_failure(kv=app.ctx.kv, settings=settings, confirmation=confirmation) for _ in range(limit - 1)])
    fresh = await Confirmation.get(id=confirmation.id)
    assert (fresh.failed_attempts, fresh.self_service_locked) == (limit - 1, False)

    await self_service._count_failure(kv=app.ctx.kv, settings=settings, confirmation=confirmation)
    fresh = await Confirmation.get(id=confirmation.id)
    assert (fresh.failed_attempts, fresh.self_service_locked) == (limit, True)


def test_outcomes_and_reason_texts_match_the_face_library() -> None:
    from face import Decision, ReasonCode

    assert (self_service.PASS, self_service.REVIEW, self_service.FAIL) == (Decision.PASS.value, Decision.REVIEW.value, Decision.FAIL.value)
    # Every reason the library reports has words for the person (the nonce expiry is the server's own 410).
    missing = {code.value for code in ReasonCode} - set(self_service.REASON_TEXT) - {ReasonCode.NONCE_EXPIRED.value}
    assert missing == set()


def test_importing_the_confirmation_services_does_not_load_the_face_models() -> None:
    import subprocess

    # numpy itself arrives with openpyxl; OpenCV, onnxruntime and the face package must not.
    code = "import sys, server.confirmation.self_service, server.confirmation.mp_routes, server.console.routes; print(sorted(m for m in ('cv2', 'onnxruntime', 'face') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
