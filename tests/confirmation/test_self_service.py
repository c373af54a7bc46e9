"""Self-service confirmation through HTTP with real recordings: challenge, frames, decision, review queue, bad input.

Genuine and attack cases use the real clips vendored in tests/data/faces (tests/face/recordings.py);
the server draws a random challenge, so each test pins the challenge to what the recording shows.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sanic import Sanic

from face.inference import SessionSettings
from face.inference.minifasnet import MiniFASNet
from models.confirmation import Confirmation, ConfirmationStatus, FaceAttempt, ReviewItem
from models.registry import PhotoKind, ReferencePhoto
from models.staff import Role
from server.actors import SYSTEM
from server.registry import service as registry
from server.registry.service import decrypt_id_number
from server.wechat.standin import StandinControl
from tests.confirmation.helpers import running_campaign
from tests.face.recordings import CARPHONE_ACTIONS, CARPHONE_SPARSE, WOLF_ACTIONS, burst, flat_picture_attack, id_photo
from tests.factories import make_beneficiary, make_county, staff_headers
from tests.miniapp.helpers import mini_login

_ANALYSED: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _analyse_each_recorded_frame_once(app: Sanic, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The same real frames go through many tests: analyse each distinct upload once.

    Only the per-frame model inference is cached (keyed by the bytes); challenge
    evaluation, replay checks, storage and the HTTP path run for real every time.
    """
    engine = app.ctx.face
    if engine.analyzer.minifasnet is None:
        # The shared test settings switch the passive model off for synthetic fixtures;
        # these are real recordings, so run the production default.
        monkeypatch.setattr(engine.analyzer, "minifasnet", MiniFASNet(SessionSettings(intra_op_threads=1)))
    analyse = engine.analyze_frame_bytes

    def cached(data: bytes, index: int = 0) -> Any:
        key = hashlib.sha256(data).hexdigest()
        if key not in _ANALYSED:
            _ANALYSED[key] = analyse(data, index)
        return _ANALYSED[key]

    monkeypatch.setattr(engine, "analyze_frame_bytes", cached)
    yield


async def _bound_person(client: httpx.AsyncClient, app: Sanic, standin: StandinControl, *, openid: str = "o-wolf", with_photo: bool = True, recording: str = "wolf"):  # type: ignore[no-untyped-def]
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="王芳")
    if with_photo:
        await registry.add_photo(actor=SYSTEM, beneficiary=person, data=id_photo(recording), kind=PhotoKind.ID_CARD, media_dir=app.ctx.settings.media_dir)
    campaign = await running_campaign(county.district)
    headers = await mini_login(client, standin, openid)
    response = await client.post("/api/mp/bind", headers=headers, json={"name": "王芳", "id_number": decrypt_id_number(person)})
    assert response.status_code == 201
    return county, person, campaign, headers


async def _challenge(client: httpx.AsyncClient, headers: dict[str, str], beneficiary_id: int, app: Sanic | None = None, actions: list[str] | None = None) -> dict:
    response = await client.post("/api/mp/confirmation/challenge", headers=headers, json={"beneficiary_id": beneficiary_id})
    assert response.status_code == 201, response.text
    body = response.json()
    if actions is not None:
        # The recording shows fixed actions: pin the stored challenge to them.
        assert app is not None
        key = f"face_challenge:{body['nonce']}"
        record = json.loads(await app.ctx.kv.get(key))
        record["actions"] = actions
        await app.ctx.kv.set(key, json.dumps(record), ttl=600)
        body["actions"] = actions
    return body


async def _submit(client: httpx.AsyncClient, headers: dict[str, str], nonce: str, frames: list[bytes] | tuple[bytes, ...]) -> httpx.Response:
    files = [("frames", (f"f{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(frames)]
    return await client.post("/api/mp/confirmation/attempts", headers=headers, data={"nonce": nonce}, files=files)


async def test_genuine_sequence_passes_and_confirms(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin)
    first = await _challenge(client, headers, person.id)
    assert 2 <= len(first["actions"]) <= 3 and first["instructions"]
    assert {"turn_left", "turn_right", "nod"} & set(first["actions"]), "every challenge holds an action a flat picture cannot fake"
    challenge = await _challenge(client, headers, person.id, app, WOLF_ACTIONS)
    # A real 20-frame burst of a woman turning to her left, then lowering her head.
    response = await _submit(client, headers, challenge["nonce"], burst("wolf_burst"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["decision"] == "pass", body
    assert body["confirmation_status"] == "confirmed"
    confirmation = await Confirmation.get(beneficiary_id=person.id)
    assert confirmation.method.value == "self_service" and not confirmation.home_visited
    assert await ReferencePhoto.filter(beneficiary_id=person.id, kind=PhotoKind.CONFIRMATION).count() == 1
    again = await client.post("/api/mp/confirmation/challenge", headers=headers, json={"beneficiary_id": person.id})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_confirmed"
    result = await client.get(f"/api/mp/confirmation/attempts/{body['attempt_id']}", headers=headers)
    assert result.json()["decision"] == "pass"


async def test_repeated_still_fails_as_replay_and_reaches_the_station_queue(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county, person, campaign, headers = await _bound_person(client, app, wechat_standin)
    challenge = await _challenge(client, headers, person.id, app, WOLF_ACTIONS)
    still = burst("wolf_burst")[0]
    response = await _submit(client, headers, challenge["nonce"], [still, still, still])
    body = response.json()
    assert body["decision"] == "fail" and "replay" in body["reasons"] and "action_missing" in body["reasons"]
    assert "疑似翻拍或重复画面" in body["reason_texts"] and body["guidance"]

    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    queue = (await client.get("/api/review-items", headers=clerk)).json()["items"]
    assert len(queue) == 1 and queue[0]["beneficiary_id"] == person.id and queue[0]["name"] == "王芳"
    item_id = queue[0]["id"]
    outsider = await staff_headers(client, role=Role.STATION, unit=county.station_b)
    assert (await client.get("/api/review-items", headers=outsider)).json()["items"] == []
    assert (await client.get(f"/api/review-items/{item_id}", headers=outsider)).status_code == 404
    district = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    assert len((await client.get("/api/review-items", headers=district)).json()["items"]) == 1

    evidence = (await client.get(f"/api/review-items/{item_id}", headers=clerk)).json()
    assert len(evidence["frames"]) == 3 and evidence["references"][0]["kind"] == "id_card"
    assert evidence["attempts"][0]["reasons"] == body["reasons"]
    frame = await client.get(evidence["frames"][0]["url"], headers=clerk)
    assert frame.status_code == 200 and frame.content == still
    ref = await client.get(evidence["references"][0]["url"], headers=clerk)
    assert ref.status_code == 200 and ref.content == id_photo("wolf")

    no_reason = await client.post(f"/api/review-items/{item_id}/decision", headers=clerk, json={"accept": False})
    assert no_reason.status_code == 422
    rejected = await client.post(f"/api/review-items/{item_id}/decision", headers=clerk, json={"accept": False, "reason": "画面为翻拍照片"})
    assert rejected.json()["status"] == "rejected"
    needs = (await client.get(f"/api/campaigns/{campaign.id}/needs-contact", headers=clerk)).json()["items"]
    assert [n["beneficiary_id"] for n in needs] == [person.id]
    twice = await client.post(f"/api/review-items/{item_id}/decision", headers=clerk, json={"accept": True})
    assert twice.status_code == 409


async def test_another_person_fails_as_no_match_and_a_clerk_can_still_accept(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county, person, _, headers = await _bound_person(client, app, wechat_standin)
    # The carphone man does his challenge perfectly, against the woman's ID photo.
    challenge = await _challenge(client, headers, person.id, app, CARPHONE_ACTIONS)
    response = await _submit(client, headers, challenge["nonce"], burst("carphone_burst"))
    body = response.json()
    assert body["decision"] == "fail" and "no_match" in body["reasons"]
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    item = (await client.get("/api/review-items", headers=clerk)).json()["items"][0]
    accepted = await client.post(f"/api/review-items/{item['id']}/decision", headers=clerk, json={"accept": True, "reason": "本人到站核验"})
    assert accepted.json()["status"] == "accepted"
    confirmation = await Confirmation.get(beneficiary_id=person.id)
    assert confirmation.status == ConfirmationStatus.CONFIRMED and confirmation.reviewed


async def test_a_proxy_can_never_run_the_face_check(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county, person, _, father = await _bound_person(client, app, wechat_standin)
    son = await mini_login(client, wechat_standin, "o-son-of-wang")
    grant = await client.post("/api/mp/proxies", headers=son, json={"beneficiary_name": "王芳", "beneficiary_id_number": decrypt_id_number(person), "proxy_name": "王小", "relation": "子女", "scopes": ["book", "apply", "collect"]})
    await client.post(f"/api/mp/proxies/{grant.json()['id']}/decision", headers=father, json={"approve": True})
    refused = await client.post("/api/mp/confirmation/challenge", headers=son, json={"beneficiary_id": person.id})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "proxy_not_allowed"
    status = (await client.get(f"/api/mp/confirmation/status?beneficiary_id={person.id}", headers=son)).json()
    assert status["status"] == "pending" and status["self_service_allowed"] is False


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    # A decompression bomb declares huge dimensions in a tiny file: refused from the header alone.
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + iend


async def test_bad_input_is_refused_with_codes_and_nothing_is_stored(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin)
    challenge = await _challenge(client, headers, person.id, app, CARPHONE_ACTIONS)
    car = burst("carphone_burst")
    good = [car[i] for i in CARPHONE_SPARSE]
    cases = {
        "not_an_image": [b"this is not an image"] + good[1:],
        "corrupt_image": [good[0][: len(good[0]) // 3]] + good[1:],
        "image_too_large": [_png_header_only(30000, 30000)] + good[1:],
        "empty_image": [b""] + good[1:],
        "frame_count": list(car) + list(car[:8]),
    }
    for code, frames in cases.items():
        response = await _submit(client, headers, challenge["nonce"], frames)
        assert 400 <= response.status_code < 500, (code, response.text)
        assert response.json()["error"]["code"] == code, (code, response.json())
    assert await FaceAttempt.all().count() == 0 and await ReviewItem.all().count() == 0
    unknown = await _submit(client, headers, "not-a-nonce", good)
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "nonce_unknown"
    missing = await client.post("/api/mp/confirmation/attempts", headers=headers, data={"x": "1"})
    assert missing.json()["error"]["code"] == "nonce_missing"
    # The nonce survived all of that; it works once, then never again.
    first = await _submit(client, headers, challenge["nonce"], good)
    assert first.status_code == 201
    reused = await _submit(client, headers, challenge["nonce"], good)
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "nonce_used"


async def test_expired_nonce(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin)
    challenge = await _challenge(client, headers, person.id)
    key = f"face_challenge:{challenge['nonce']}"
    record = json.loads(await app.ctx.kv.get(key))
    record["expires_at"] -= 10_000
    await app.ctx.kv.set(key, json.dumps(record), ttl=60)
    response = await _submit(client, headers, challenge["nonce"], burst("wolf_burst"))
    assert response.status_code == 410 and response.json()["error"]["code"] == "nonce_expired"


async def test_repeated_failures_lock_self_service(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county, person, campaign, headers = await _bound_person(client, app, wechat_standin)
    for attempt in range(app.ctx.settings.confirmation.max_failed_attempts_per_day):
        challenge = await _challenge(client, headers, person.id, app, CARPHONE_ACTIONS)
        car = burst("carphone_burst")
        # Another person, a different sparse pick each time (not a replay of the last attempt).
        response = await _submit(client, headers, challenge["nonce"], [car[0], car[10 + attempt], car[14], car[19 + attempt]])
        assert response.json()["decision"] == "fail"
    locked = await client.post("/api/mp/confirmation/challenge", headers=headers, json={"beneficiary_id": person.id})
    assert locked.status_code == 423 and locked.json()["error"]["code"] == "self_service_locked"
    assert "服务站" in locked.json()["error"]["message"]
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    needs = (await client.get(f"/api/campaigns/{campaign.id}/needs-contact", headers=clerk)).json()["items"]
    assert [n["beneficiary_id"] for n in needs] == [person.id]


async def test_no_id_photo_goes_to_review(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin, with_photo=False)
    challenge = await _challenge(client, headers, person.id, app, WOLF_ACTIONS)
    body = (await _submit(client, headers, challenge["nonce"], burst("wolf_burst"))).json()
    assert body["decision"] == "review" and body["reasons"] == ["no_reference_photo"]
    assert (await Confirmation.get(beneficiary_id=person.id)).status == ConfirmationStatus.IN_REVIEW


async def test_sparse_frames_one_per_action_pass(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin, recording="carphone")
    challenge = await _challenge(client, headers, person.id, app, CARPHONE_ACTIONS)
    car = burst("carphone_burst")
    body = (await _submit(client, headers, challenge["nonce"], [car[i] for i in CARPHONE_SPARSE])).json()
    assert body["decision"] == "pass", body
    assert body["confirmation_status"] == "confirmed"


async def test_flat_photo_moved_and_bent_never_passes(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    """A printed photo of the person turned, tilted and rotated (a homography), then bent, in front of the camera."""
    _, person, _, headers = await _bound_person(client, app, wechat_standin)
    picture = burst("wolf_burst")[1]
    for actions, bend in ((["turn_left", "nod"], 0.0), (["blink", "turn_right", "open_mouth"], 1.5)):
        challenge = await _challenge(client, headers, person.id, app, actions)
        body = (await _submit(client, headers, challenge["nonce"], flat_picture_attack(picture, bend=bend))).json()
        assert body["decision"] == "fail", body
        assert "action_missing" in body["reasons"] and "replay" not in body["reasons"]
        assert body["hints"], body
    assert (await Confirmation.get(beneficiary_id=person.id)).status != ConfirmationStatus.CONFIRMED


async def test_wrong_order_then_replayed_attempt(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin)
    challenge = await _challenge(client, headers, person.id, app, list(reversed(WOLF_ACTIONS)))
    body = (await _submit(client, headers, challenge["nonce"], burst("wolf_burst"))).json()
    assert body["decision"] == "fail" and body["reasons"] == ["action_order"], body
    # The same recording sent again for a challenge it fits: the frames of the first attempt are reused.
    challenge = await _challenge(client, headers, person.id, app, WOLF_ACTIONS)
    body = (await _submit(client, headers, challenge["nonce"], burst("wolf_burst"))).json()
    assert body["decision"] == "fail" and body["reasons"] == ["replay"], body


async def test_no_action_fails_with_plain_guidance(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin)
    challenge = await _challenge(client, headers, person.id, app, ["turn_right", "nod"])
    body = (await _submit(client, headers, challenge["nonce"], burst("wolf_burst")[:6])).json()
    assert body["decision"] == "fail" and "action_missing" in body["reasons"], body
    assert "请把头慢慢向右转，再转回来。" in body["hints"]


async def test_challenges_are_rate_limited_and_unused_ones_count(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin)
    allowed = app.ctx.settings.face.max_unused_challenges_per_day
    for _ in range(allowed):
        await _challenge(client, headers, person.id)
    refused = await client.post("/api/mp/confirmation/challenge", headers=headers, json={"beneficiary_id": person.id})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_challenges"
    assert "服务站" in refused.json()["error"]["message"]
