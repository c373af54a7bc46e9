"""Action detector at the landmark level (synthetic landmark motion from a real face)."""

from __future__ import annotations

import random

import numpy as np

from face import Action, Challenge, FaceConfig, new_challenge
from face.challenge import FrameSignals, detect_actions
from face.landmarks106 import eye_aspect_ratio, head_pose, mouth_aspect_ratio
from face.synthetic import action_landmarks


def _signals(points: np.ndarray, actions: list[Action | None], mirrored: bool = False) -> list[FrameSignals]:
    out = []
    for action in actions:
        moved = action_landmarks(points, action, mirrored=mirrored)
        pose = head_pose(moved)
        out.append(FrameSignals(eye_aspect_ratio(moved), mouth_aspect_ratio(moved), pose.yaw, pose.pitch))
    return out


def test_new_challenge_is_random_distinct_and_sized() -> None:
    rng = random.Random(3)
    seen = set()
    for _ in range(50):
        challenge = new_challenge(rng)
        assert 2 <= len(challenge.actions) <= 3
        assert len(set(challenge.actions)) == len(challenge.actions)
        seen.add(challenge.actions)
    assert len(seen) > 10


def test_each_action_detected_in_order(subject: dict) -> None:
    points = subject["points"]
    config = FaceConfig()
    for action in Action:
        challenge = Challenge((action,))
        report = detect_actions(_signals(points, [None, action, None]), challenge, config)
        assert report.ok, (action, report)


def test_order_and_missing(subject: dict) -> None:
    points = subject["points"]
    config = FaceConfig()
    challenge = Challenge((Action.BLINK, Action.TURN_LEFT, Action.OPEN_MOUTH))
    assert detect_actions(_signals(points, [None, Action.BLINK, Action.TURN_LEFT, Action.OPEN_MOUTH]), challenge, config).ok
    wrong = detect_actions(_signals(points, [None, Action.OPEN_MOUTH, Action.TURN_LEFT, Action.BLINK]), challenge, config)
    assert wrong.out_of_order and not wrong.missing
    missing = detect_actions(_signals(points, [None, Action.BLINK, None, Action.OPEN_MOUTH]), challenge, config)
    assert missing.missing == ["turn_left"]
    # Turning right is not turning left.
    right = detect_actions(_signals(points, [None, Action.BLINK, Action.TURN_RIGHT, Action.OPEN_MOUTH]), challenge, config)
    assert "turn_left" in right.missing


def test_mirrored_frames_flip_turn_direction(subject: dict) -> None:
    points = subject["points"]
    challenge = Challenge((Action.TURN_LEFT,))
    # The user turns left, the front camera shows it mirrored.
    frames = _signals(points, [None, Action.TURN_LEFT, None], mirrored=True)
    assert detect_actions(frames, challenge, FaceConfig(frames_mirrored=True)).ok
    assert not detect_actions(frames, challenge, FaceConfig(frames_mirrored=False)).ok


def _track(yaw: list[float], pitch: list[float], parallax_x: list[float], parallax_y: list[float]) -> list[FrameSignals]:
    return [FrameSignals(0.3, 0.1, y, p, px, py) for y, p, px, py in zip(yaw, pitch, parallax_x, parallax_y, strict=False)]


def test_turn_and_nod_are_movements_read_from_where_they_began() -> None:
    """The per-frame values of a real turn (the Pexels clip of tests/data/faces, frames 226-322 every 4th:
    yaw, pitch and the nose parallax relative to the calmest start frame, as the verifier measures them).
    She is a little turned while the capture starts (the start's median yaw is 5.3), looks back, then turns
    to 16 degrees: against the start frame the nose moved 0.037 eye distances, over the movement 0.061."""
    config = FaceConfig()
    yaw = [-2.9, 4.7, 5.9, 6.1, 6.4, 6.5, 6.4, 3.7, 1.4, 2.6, 2.0, 1.4, -0.2, 1.1, 2.0, 5.1, 6.4, 6.9, 10.4, 13.1, 15.5, 16.0, 15.3, 12.4, 10.8]
    pitch = [20.8, 16.0, 16.9, 16.7, 16.4, 15.4, 11.9, 9.9, 9.3, 10.0, 10.3, 13.1, 19.2, 20.6, 19.2, 19.1, 16.5, 13.2, 14.4, 15.2, 16.7, 16.5, 14.9, 13.8, 13.2]
    par_x = [-0.024, -0.005, 0.0, 0.002, 0.003, 0.003, -0.002, -0.014, -0.023, -0.018, -0.021, -0.023, -0.028, -0.024, -0.02, -0.005, -0.001, 0.001, 0.014, 0.024, 0.034, 0.037, 0.033, 0.022, 0.014]
    par_y = [-0.01, 0.003, 0.0, -0.0, 0.002, 0.005, 0.004, 0.008, 0.011, 0.008, 0.009, 0.003, -0.019, -0.023, -0.016, -0.013, -0.01, -0.003, -0.014, -0.021, -0.032, -0.035, -0.024, -0.015, -0.01]
    report = detect_actions(_track(yaw, pitch, par_x, par_y), Challenge((Action.TURN_LEFT,)), config)
    assert report.ok and report.matched_frames["turn_left"] == 20, report
    # Coming back from a turn to the right is no turn to the left.
    back = detect_actions(_track([0, 0, -15, -16, -15, 0, 0], [10] * 7, [0, 0, -0.07, -0.08, -0.07, 0, 0], [0] * 7), Challenge((Action.TURN_RIGHT, Action.TURN_LEFT)), config)
    assert back.matched_frames["turn_right"] == 2 and back.missing == ["turn_left"]
    # A nod down while turning and a nod up afterwards are two events: the second one follows the turn.
    pitch = [20, 20, 20, 12, 7, 7, 13, 17, 28, 34, 31]
    yaw2 = [0, 0, 0, -7, -14, -15, -12, -8, -9, -10, -7]
    px = [0, 0, 0, -0.04, -0.09, -0.1, -0.08, -0.06, -0.06, -0.07, -0.06]
    py = [0, 0, 0, 0.03, 0.06, 0.07, 0.02, -0.01, -0.1, -0.15, -0.13]
    nod = detect_actions(_track(yaw2, pitch, px, py), Challenge((Action.TURN_RIGHT, Action.NOD)), config)
    assert nod.ok and nod.matched_frames["nod"] == 8, nod
    # A picture: the pose moves, the nose does not move against the cheeks.
    flat = detect_actions(_track(yaw, pitch, [0.0] * len(yaw), [0.0] * len(yaw)), Challenge((Action.TURN_LEFT,)), config)
    assert flat.missing == ["turn_left"]
