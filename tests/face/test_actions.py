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
