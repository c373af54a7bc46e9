"""Sequence signals on real recordings: parallax of a real turn vs a flat picture, replay rules, close-up padding."""

from __future__ import annotations

import dataclasses

import cv2
import pytest

from face import FaceEngine
from face.analyzer import TOO_CLOSE
from face.challenge import DEPTH_ACTIONS
from face.decode import decode_image, encode_jpeg
from face.motion import frame_motion
from face.verification import find_replays
from tests.face.recordings import burst, plane_warp


@pytest.fixture(scope="module")
def wolf(engine: FaceEngine) -> list:
    return [engine.analyze_frame_bytes(frame, i) for i, frame in enumerate(burst("wolf_burst")[:11])]


def test_real_turn_shows_parallax_and_a_tilted_picture_does_not(engine: FaceEngine, wolf: list) -> None:
    start, turned = wolf[0].face, wolf[9].face  # frame 9: head turned ~20 degrees to her left
    real = frame_motion(start.landmarks, turned.landmarks)
    assert real is not None and real.parallax_x >= engine.config.min_parallax
    picture = decode_image(burst("wolf_burst")[0])
    for yaw, pitch in ((35, 0), (-35, 0), (0, 35), (20, 25)):
        moved = engine.analyzer.analyze_frame(plane_warp(picture, yaw, pitch)).face
        flat = frame_motion(start.landmarks, moved.landmarks)
        assert flat is not None and abs(flat.parallax_x) < engine.config.min_parallax and abs(flat.parallax_y) < engine.config.min_parallax, (yaw, pitch, flat)
        # Tilting a picture squashes the eyes; on the rectified landmarks that is no blink.
        assert flat.eye_aspect_ratio > 0.85 * frame_motion(start.landmarks, start.landmarks).eye_aspect_ratio  # type: ignore[union-attr]


def test_live_frames_are_never_replays_but_copies_are(engine: FaceEngine, wolf: list) -> None:
    faces = {i: a.face for i, a in enumerate(wolf)}
    assert find_replays(faces, [], engine.config) == []
    # The same person again, a new attempt: looking the same is not a replay.
    later = [engine.analyze_frame_bytes(f).face.fingerprint for f in burst("wolf_burst")[11:]]
    assert find_replays(faces, later, engine.config) == []
    # A re-encoded copy of an earlier frame (q40) and the same bytes are.
    copy = engine.analyze_frame_bytes(encode_jpeg(decode_image(burst("wolf_burst")[3]), 40)).face
    hits = find_replays({0: copy}, [faces[3].fingerprint], engine.config)
    assert hits and hits[0]["duplicate_of_earlier"] == 0
    same = engine.analyze_frame_bytes(burst("wolf_burst")[3]).face
    assert find_replays({0: faces[3], 1: same}, [], engine.config)


def test_phone_held_close_is_found_and_named(engine: FaceEngine, wolf: list) -> None:
    image = decode_image(burst("wolf_burst")[0])
    x1, y1, x2, y2 = (int(v) for v in wolf[0].face.bbox)
    # The face fills the whole frame (cut at brow and chin) so the plain detector misses it.
    close = next(
        candidate
        for inset in (10, 20, 30, 40)
        if not engine.analyzer.detector.predict(candidate := cv2.resize(image[y1 + inset : y2 - inset // 2, x1 + inset : x2 - inset], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC))
    )
    analysis = engine.analyzer.analyze_frame(close)
    assert analysis.face is not None and analysis.status != "no_face"
    # Found on the padded frame: the person is told to move back, coordinates stay in the original frame.
    assert TOO_CLOSE in analysis.face.issues and analysis.usable
    assert -0.1 * close.shape[1] < analysis.face.bbox[0] < analysis.face.bbox[2] < 1.1 * close.shape[1]


def test_every_challenge_has_a_depth_action() -> None:
    import random

    from face import new_challenge

    rng = random.Random(1)
    assert all(DEPTH_ACTIONS & set(new_challenge(rng).actions) for _ in range(200))


def _every_challenge() -> list:
    import itertools

    from face import Action, Challenge

    return [
        Challenge(combo)
        for count in (2, 3)
        for combo in itertools.permutations(list(Action), count)
        if not (Action.TURN_LEFT in combo and Action.TURN_RIGHT in combo) and DEPTH_ACTIONS & set(combo)
    ]


def test_a_flat_picture_fails_every_challenge_the_server_can_draw(engine: FaceEngine) -> None:
    """An attacker fishing for an easy challenge: a real photo of her, moved and tilted, flat and bent,
    matched against her own face (the attacker's best case), against every drawable challenge."""
    from tests.face.recordings import flat_picture_attack

    challenges = _every_challenge()
    assert len(challenges) == 58
    picture = burst("wolf_burst")[1]
    for bend in (0.0, 1.0):
        frames = [engine.analyze_frame_bytes(f, i) for i, f in enumerate(flat_picture_attack(picture, bend=bend))]
        own = [frames[0].face.embedding]
        decisions = {_decide(engine, frames, c, own) for c in challenges}
        assert decisions == {"fail"}, (bend, decisions)


def _decide(engine: FaceEngine, frames: list, challenge, references: list) -> str:  # type: ignore[no-untyped-def]
    from face.verification import evaluate_challenge

    return evaluate_challenge(frames, challenge, references, [], engine.config).decision.value



def test_array_replay_rule_agrees_with_the_pairwise_rule(engine: FaceEngine, wolf: list) -> None:
    """FingerprintSet (one frame against many at once) decides exactly like FrameFingerprint.is_replay_of."""
    from face.fingerprint import FingerprintSet, ReplayLimits

    config = engine.config
    copies = [engine.analyze_frame_bytes(encode_jpeg(decode_image(burst("wolf_burst")[i]), q)).face.fingerprint for i, q in ((3, 40), (5, 90))]
    same = engine.analyze_frame_bytes(burst("wolf_burst")[7]).face.fingerprint
    old = dataclasses.replace(wolf[2].face.fingerprint, keypoints=None, digest=None)
    members = [a.face.fingerprint for a in wolf] + [old]
    probes = [*copies, same, old, *members[:4]]
    for limit in (config.replay_within_max_difference, config.replay_across_max_difference):
        limits = ReplayLimits(config.replay_phash_max_distance, config.replay_min_similarity, limit, config.replay_max_keypoint_shift)
        stacked = FingerprintSet(members)
        for probe in probes:
            expected = [probe.is_replay_of(m, max_hash_distance=limits.max_hash_distance, min_similarity=limits.min_similarity, max_frame_difference=limit, max_keypoint_shift=limits.max_keypoint_shift) for m in members]
            assert stacked.replays(probe, limits).tolist() == expected
        # Within an attempt, all pairs at once: [copy, original] for every later frame repeating an earlier one.
        burst_set = FingerprintSet(probes)
        expected_pairs = [[j < i and probes[i].is_replay_of(probes[j], max_hash_distance=limits.max_hash_distance, min_similarity=limits.min_similarity, max_frame_difference=limit, max_keypoint_shift=limits.max_keypoint_shift) for j in range(len(probes))] for i in range(len(probes))]
        assert burst_set.copies_within(limits).tolist() == expected_pairs
        # Both re-encoded copies are found across attempts.
        assert limit < config.replay_across_max_difference or all(stacked.replays(copy, limits).any() for copy in copies)
