"""The face service and its client: same decisions as in-process, bounded queue, clear 503s."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sanic import Sanic

from face import Challenge, FaceError
from face.errors import ImageError
from models.registry import PhotoKind
from server.actors import SYSTEM
from server.config import Settings
from server.face_remote import FaceServiceUnavailable, RemoteFaceEngine, create_face_app
from server.registry import service as registry
from server.registry.service import decrypt_id_number
from server.wechat.standin import StandinControl
from tests.confirmation.helpers import face_kit, running_campaign
from tests.factories import make_beneficiary, make_county
from tests.miniapp.helpers import mini_login
from tests.server_process import free_port

ACTIONS = ["blink", "turn_left"]


@pytest.fixture(scope="module")
async def face_service(test_settings: Settings) -> AsyncIterator[Sanic]:
    """The face service on a real port, with a queue limit of one so back-pressure shows."""
    settings = test_settings.model_copy(update={"face": test_settings.face.model_copy(update={"service_max_pending": 1, "executor_workers": 1})})
    service = create_face_app(settings, name="vets_face_test")
    server = await service.create_server(host="127.0.0.1", port=free_port(), return_asyncio_server=True)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    service.ctx.url = f"http://127.0.0.1:{server.server.sockets[0].getsockname()[1]}"
    yield service
    await server.before_stop()
    server.close()
    await server.wait_closed()
    await server.after_stop()


async def test_remote_engine_decides_like_the_in_process_engine(app: Sanic, face_service: Sanic) -> None:
    kit = face_kit(app)
    local = app.ctx.face
    remote = RemoteFaceEngine(face_service.ctx.url, retries=0)
    try:
        reference = await remote.embed_reference(kit.id_photo)
        assert reference is not None and len(reference.embedding) == len((await local.embed_reference(kit.id_photo)).embedding)
        frames = kit.frames_for(ACTIONS)
        challenge = Challenge.from_list(ACTIONS)
        # Mixed references: one stored embedding, one photo the service embeds itself.
        remote_result = (await remote.verify_challenge(frames, challenge, [reference.embedding, kit.id_photo])).to_dict()
        local_result = (await local.verify_challenge(frames, challenge, [reference.embedding, kit.id_photo])).to_dict()
        assert remote_result["decision"] == local_result["decision"] == "pass"
        assert remote_result["reasons"] == local_result["reasons"]
        assert remote_result["scores"]["best_similarity"] == pytest.approx(local_result["scores"]["best_similarity"], abs=1e-3)
        # The engine's own error types come back, so the confirmation service maps them as before.
        with pytest.raises(ImageError) as bad_image:
            await remote.verify_challenge([b"not a picture"] * 3, challenge, [reference.embedding])
        assert bad_image.value.code == "not_an_image"
        with pytest.raises(FaceError) as too_few:
            await remote.verify_challenge(frames[:1], challenge, [reference.embedding])
        assert too_few.value.code == "invalid_request"
    finally:
        await remote.aclose()


async def test_queue_limit_answers_busy_at_once_and_the_client_retries(app: Sanic, face_service: Sanic) -> None:
    kit = face_kit(app)
    frames = kit.frames_for(ACTIONS)
    challenge = Challenge.from_list(ACTIONS)
    impatient = RemoteFaceEngine(face_service.ctx.url, retries=0)
    patient = RemoteFaceEngine(face_service.ctx.url, retries=40, backoff=0.05)
    rejected_before = face_service.ctx.admission.rejected
    try:
        results = await asyncio.gather(*(impatient.verify_challenge(frames, challenge, [kit.id_photo]) for _ in range(4)), return_exceptions=True)
        busy = [r for r in results if isinstance(r, FaceServiceUnavailable)]
        done = [r for r in results if not isinstance(r, BaseException)]
        assert busy and all(b.code == "face_busy" and b.status == 503 for b in busy)
        assert done and all(r.decision == "pass" for r in done)
        assert len(busy) + len(done) == 4
        assert face_service.ctx.admission.rejected - rejected_before == len(busy)
        # With retries every caller is eventually served: the limit sheds load, it loses nothing.
        served = await asyncio.gather(*(patient.verify_challenge(frames, challenge, [kit.id_photo]) for _ in range(2)))
        assert [r.decision for r in served] == ["pass"] * 2
        assert (await patient.stats())["pending"] == 0
    finally:
        await impatient.aclose()
        await patient.aclose()


async def test_self_service_through_the_face_service_and_503_when_it_is_down(client: httpx.AsyncClient, app: Sanic, face_service: Sanic, wechat_standin: StandinControl) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="姚明")
    kit = face_kit(app)
    await registry.add_photo(actor=SYSTEM, beneficiary=person, data=kit.id_photo, kind=PhotoKind.ID_CARD, media_dir=app.ctx.settings.media_dir)
    await running_campaign(county.district)
    headers = await mini_login(client, wechat_standin, "o-remote")
    assert (await client.post("/api/mp/bind", headers=headers, json={"name": "姚明", "id_number": decrypt_id_number(person)})).status_code == 201

    async def attempt() -> httpx.Response:
        challenge = (await client.post("/api/mp/confirmation/challenge", headers=headers, json={"beneficiary_id": person.id})).json()
        files = [("frames", (f"f{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(kit.frames_for(challenge["actions"]))]
        return await client.post("/api/mp/confirmation/attempts", headers=headers, data={"nonce": challenge["nonce"]}, files=files)

    local = app.ctx.face
    app.ctx.face = RemoteFaceEngine(f"http://127.0.0.1:{free_port()}", retries=1, backoff=0.01)  # nothing listens
    try:
        down = await attempt()
        await app.ctx.face.aclose()
        app.ctx.face = RemoteFaceEngine(face_service.ctx.url)
        passed = await attempt()
    finally:
        await app.ctx.face.aclose()
        app.ctx.face = local
    assert down.status_code == 503 and down.json()["error"]["code"] == "face_unavailable", down.text
    assert passed.status_code == 201, passed.text
    assert passed.json()["decision"] == "pass" and passed.json()["confirmation_status"] == "confirmed"
