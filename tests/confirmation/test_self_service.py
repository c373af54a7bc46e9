"""Self-service confirmation through HTTP: challenge, frames, decision, review queue, bad input."""

from __future__ import annotations

import json
import struct
import zlib

import httpx
from sanic import Sanic

from models.confirmation import Confirmation, ConfirmationStatus, FaceAttempt, ReviewItem
from models.registry import PhotoKind, ReferencePhoto
from models.staff import Role
from server.actors import SYSTEM
from server.registry import service as registry
from server.registry.service import decrypt_id_number
from server.wechat.standin import StandinControl
from tests.confirmation.helpers import face_kit, running_campaign
from tests.factories import make_beneficiary, make_county, staff_headers
from tests.miniapp.helpers import mini_login


async def _bound_person(client: httpx.AsyncClient, app: Sanic, standin: StandinControl, *, openid: str = "o-yao", with_photo: bool = True):  # type: ignore[no-untyped-def]
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="姚明")
    if with_photo:
        await registry.add_photo(actor=SYSTEM, beneficiary=person, data=face_kit(app).id_photo, kind=PhotoKind.ID_CARD, media_dir=app.ctx.settings.media_dir)
    campaign = await running_campaign(county.district)
    headers = await mini_login(client, standin, openid)
    response = await client.post("/api/mp/bind", headers=headers, json={"name": "姚明", "id_number": decrypt_id_number(person)})
    assert response.status_code == 201
    return county, person, campaign, headers


async def _challenge(client: httpx.AsyncClient, headers: dict[str, str], beneficiary_id: int) -> dict:
    response = await client.post("/api/mp/confirmation/challenge", headers=headers, json={"beneficiary_id": beneficiary_id})
    assert response.status_code == 201, response.text
    return response.json()


async def _submit(client: httpx.AsyncClient, headers: dict[str, str], nonce: str, frames: list[bytes]) -> httpx.Response:
    files = [("frames", (f"f{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(frames)]
    return await client.post("/api/mp/confirmation/attempts", headers=headers, data={"nonce": nonce}, files=files)


async def test_genuine_sequence_passes_and_confirms(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin)
    challenge = await _challenge(client, headers, person.id)
    assert 2 <= len(challenge["actions"]) <= 3 and challenge["instructions"]
    response = await _submit(client, headers, challenge["nonce"], face_kit(app).frames_for(challenge["actions"]))
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
    challenge = await _challenge(client, headers, person.id)
    still = face_kit(app).frames_for(challenge["actions"])[0]
    response = await _submit(client, headers, challenge["nonce"], [still, still, still])
    body = response.json()
    assert body["decision"] == "fail" and "replay" in body["reasons"]
    assert "疑似翻拍或重复画面" in body["reason_texts"] and body["guidance"]

    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    queue = (await client.get("/api/review-items", headers=clerk)).json()["items"]
    assert len(queue) == 1 and queue[0]["beneficiary_id"] == person.id and queue[0]["name"] == "姚明"
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
    assert ref.status_code == 200 and ref.content == face_kit(app).id_photo

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
    challenge = await _challenge(client, headers, person.id)
    response = await _submit(client, headers, challenge["nonce"], face_kit(app).frames_for(challenge["actions"], other=True))
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
    son = await mini_login(client, wechat_standin, "o-son-of-yao")
    grant = await client.post("/api/mp/proxies", headers=son, json={"beneficiary_name": "姚明", "beneficiary_id_number": decrypt_id_number(person), "proxy_name": "姚小", "relation": "子女", "scopes": ["book", "apply", "collect"]})
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
    challenge = await _challenge(client, headers, person.id)
    good = face_kit(app).frames_for(challenge["actions"])
    cases = {
        "not_an_image": [b"this is not an image"] + good[1:],
        "corrupt_image": [good[0][: len(good[0]) // 3]] + good[1:],
        "image_too_large": [_png_header_only(30000, 30000)] + good[1:],
        "empty_image": [b""] + good[1:],
        "frame_count": (good * 4)[:11],
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
    response = await _submit(client, headers, challenge["nonce"], face_kit(app).frames_for(challenge["actions"]))
    assert response.status_code == 410 and response.json()["error"]["code"] == "nonce_expired"


async def test_repeated_failures_lock_self_service(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county, person, campaign, headers = await _bound_person(client, app, wechat_standin)
    for attempt in range(app.ctx.settings.confirmation.max_failed_attempts_per_day):
        challenge = await _challenge(client, headers, person.id)
        response = await _submit(client, headers, challenge["nonce"], face_kit(app).frames_for(challenge["actions"], seed=attempt, other=True))
        assert response.json()["decision"] == "fail"
    locked = await client.post("/api/mp/confirmation/challenge", headers=headers, json={"beneficiary_id": person.id})
    assert locked.status_code == 423 and locked.json()["error"]["code"] == "self_service_locked"
    assert "服务站" in locked.json()["error"]["message"]
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    needs = (await client.get(f"/api/campaigns/{campaign.id}/needs-contact", headers=clerk)).json()["items"]
    assert [n["beneficiary_id"] for n in needs] == [person.id]


async def test_no_id_photo_goes_to_review(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin, with_photo=False)
    challenge = await _challenge(client, headers, person.id)
    body = (await _submit(client, headers, challenge["nonce"], face_kit(app).frames_for(challenge["actions"]))).json()
    assert body["decision"] == "review" and body["reasons"] == ["no_reference_photo"]
    assert (await Confirmation.get(beneficiary_id=person.id)).status == ConfirmationStatus.IN_REVIEW
