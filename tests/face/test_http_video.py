"""A short clip (CameraContext.startRecord, MP4) instead of frames, on the same attempt endpoint.

The clip is the real "carphone" recording vendored in tests/data/faces/carphone_clip.mp4 (BSD, see
LICENCES.md there): a man turns to his right, blinks and opens his mouth, 2.2 s at 10 fps.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from sanic import Sanic

from face.decode import decode_image
from face.video import VideoLimits, decode_video
from models.confirmation import Confirmation, ConfirmationStatus, FaceAttempt
from server.wechat.standin import StandinControl
from tests.confirmation.test_self_service import _analyse_each_recorded_frame_once, _bound_person, _challenge  # noqa: F401 (fixture)
from tests.face.recordings import CARPHONE_ACTIONS, DATA, burst

CLIP = DATA / "carphone_clip.mp4"


def _write_clip(path, frames: list[np.ndarray], fps: float) -> bytes:  # type: ignore[no-untyped-def]
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path.read_bytes()


async def _submit_video(client: httpx.AsyncClient, headers: dict[str, str], nonce: str, video: bytes, frames: list[bytes] | None = None) -> httpx.Response:
    files = [("video", ("clip.mp4", video, "video/mp4"))] + [("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames or [])]
    return await client.post("/api/mp/confirmation/attempts", headers=headers, data={"nonce": nonce}, files=files)


def test_clip_becomes_a_burst_in_capture_order() -> None:
    decoded = decode_video(CLIP.read_bytes())
    assert len(decoded.frames) == 23 and decoded.decoded_frames == 23
    assert decoded.times == sorted(decoded.times) and decoded.duration == pytest.approx(2.2, abs=0.05)
    assert decode_image(decoded.frames[0]).shape[:2] == (432, 528)
    # A longer clip is thinned to about 10 frames a second, never more than 30.
    thinned = decode_video(CLIP.read_bytes(), VideoLimits(target_fps=5.0))
    assert len(thinned.frames) == 12 and thinned.times[0] == 0.0 and thinned.times[-1] == pytest.approx(2.2, abs=0.05)


async def test_genuine_clip_passes_through_the_attempt_endpoint(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    _, person, _, headers = await _bound_person(client, app, wechat_standin, recording="carphone")
    challenge = await _challenge(client, headers, person.id, app, CARPHONE_ACTIONS)
    response = await _submit_video(client, headers, challenge["nonce"], CLIP.read_bytes())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["decision"] == "pass", body
    assert (await Confirmation.get(beneficiary_id=person.id)).status == ConfirmationStatus.CONFIRMED
    attempt = await FaceAttempt.get(id=body["attempt_id"])
    assert len(attempt.frame_paths) == 23  # the decoded frames are the evidence, like a burst


async def test_clip_bounds_are_refused_before_the_nonce_is_spent(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, person, _, headers = await _bound_person(client, app, wechat_standin, recording="carphone")
    challenge = await _challenge(client, headers, person.id, app, CARPHONE_ACTIONS)
    clip = CLIP.read_bytes()
    real = [decode_image(f) for f in burst("carphone_burst")]
    # 7 s of the real recording at 10 fps: longer than the 6 s allowed.
    too_long = _write_clip(tmp_path / "long.mp4", (real * 4)[:70], 10.0)
    cases = {
        "video_too_long": (too_long, None),
        "not_a_video": (b"\x89PNG\r\n\x1a\n not a video at all", None),
        "corrupt_video": (clip[: len(clip) // 4], None),
        "frames_and_video": (clip, list(burst("carphone_burst")[:3])),
    }
    for code, (video, frames) in cases.items():
        response = await _submit_video(client, headers, challenge["nonce"], video, frames)
        assert response.status_code == 400, (code, response.text)
        assert response.json()["error"]["code"] == code, (code, response.json())
    app.ctx.settings.uploads.max_video_bytes, saved = 1000, app.ctx.settings.uploads.max_video_bytes
    try:
        response = await _submit_video(client, headers, challenge["nonce"], clip)
    finally:
        app.ctx.settings.uploads.max_video_bytes = saved
    assert response.status_code == 413 and response.json()["error"]["code"] == "video_too_large"
    assert await FaceAttempt.all().count() == 0
    # The nonce survived every refusal.
    assert (await _submit_video(client, headers, challenge["nonce"], clip)).status_code == 201
