"""Active liveness challenges: random action sequences and their detection.

Directions are from the *user's* perspective: "turn_left" means the person
turns their head to their own left. Seen by an unmirrored camera facing them,
the nose then moves towards the image's right edge (positive yaw in
:mod:`face.landmarks106`). Phone front-camera frames are often mirrored; set
``FaceConfig.frames_mirrored`` and the mapping flips.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from .config import FaceConfig


class Action(str, enum.Enum):
    BLINK = "blink"
    OPEN_MOUTH = "open_mouth"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    NOD = "nod"


@dataclass(frozen=True)
class Challenge:
    actions: tuple[Action, ...]

    def __post_init__(self) -> None:
        actions = tuple(Action(action) for action in self.actions)
        if not 1 <= len(actions) <= len(Action):
            raise ValueError("a challenge needs between 1 and 5 actions")
        if len(set(actions)) != len(actions):
            raise ValueError("challenge actions must be distinct")
        object.__setattr__(self, "actions", actions)

    def to_list(self) -> list[str]:
        return [action.value for action in self.actions]

    @classmethod
    def from_list(cls, values: Sequence[str]) -> "Challenge":
        return cls(tuple(Action(value) for value in values))


class RandomSource(Protocol):
    def randint(self, a: int, b: int) -> int: ...
    def sample(self, population: Sequence[Action], k: int) -> list[Action]: ...


def new_challenge(rng: RandomSource | None = None, *, min_actions: int = 2, max_actions: int = 3) -> Challenge:
    """Random sequence of distinct actions.

    Pass ``random.SystemRandom()`` in production so sequences are not predictable
    from earlier ones; a seeded ``random.Random`` makes tests reproducible.
    turn_left and turn_right are never both drawn: that pair is the easiest to
    mimic by swinging a printed photo, and users find it confusing.
    """
    source: RandomSource = rng if rng is not None else random.SystemRandom()
    count = source.randint(min_actions, max_actions)
    while True:
        actions = source.sample(list(Action), count)
        if not (Action.TURN_LEFT in actions and Action.TURN_RIGHT in actions):
            return Challenge(tuple(actions))


@dataclass(frozen=True)
class FrameSignals:
    """Per-frame measurements the action detector works on."""

    eye_aspect_ratio: float
    mouth_aspect_ratio: float
    yaw: float
    pitch: float


@dataclass
class ActionReport:
    # action -> index of the frame where it was seen (in challenge order), or None
    matched_frames: dict[str, int | None] = field(default_factory=dict)
    # action -> frames where it was active at all, in any order
    active_frames: dict[str, list[int]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    baseline: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.out_of_order


def _robust_baseline(values: np.ndarray, keep: str) -> float:
    """Median of the half of the frames least affected by an action.

    An action may span several frames; using only the calmer half keeps the
    neutral estimate valid as long as actions occupy under half of the frames.
    """
    ordered = np.sort(values)
    half = max(1, (len(ordered) + 1) // 2)
    if keep == "high":
        return float(np.median(ordered[-half:]))
    if keep == "low":
        return float(np.median(ordered[:half]))
    closest = values[np.argsort(np.abs(values - np.median(values)))[:half]]
    return float(np.median(closest))


def active_frames(signals: Sequence[FrameSignals], config: FaceConfig) -> tuple[dict[Action, list[int]], dict[str, float]]:
    ear = np.array([s.eye_aspect_ratio for s in signals])
    mar = np.array([s.mouth_aspect_ratio for s in signals])
    yaw = np.array([s.yaw for s in signals])
    pitch = np.array([s.pitch for s in signals])
    baseline = {
        "eye_aspect_ratio": _robust_baseline(ear, "high"),
        "mouth_aspect_ratio": _robust_baseline(mar, "low"),
        "yaw": _robust_baseline(yaw, "middle"),
        "pitch": _robust_baseline(pitch, "middle"),
    }
    # Yaw sign for the user's left: nose to image-right unless frames are mirrored.
    left_sign = -1.0 if config.frames_mirrored else 1.0
    yaw_delta = (yaw - baseline["yaw"]) * left_sign
    active = {
        Action.BLINK: ear < baseline["eye_aspect_ratio"] * config.blink_ear_ratio,
        Action.OPEN_MOUTH: mar - baseline["mouth_aspect_ratio"] >= config.open_mouth_mar_delta,
        Action.TURN_LEFT: yaw_delta >= config.turn_yaw_deg,
        Action.TURN_RIGHT: yaw_delta <= -config.turn_yaw_deg,
        # A nod is read in either vertical direction: whether the estimator sees
        # "down" or "up" first depends on how the phone is held.
        Action.NOD: np.abs(pitch - baseline["pitch"]) >= config.nod_pitch_deg,
    }
    return {action: [int(i) for i in np.flatnonzero(mask)] for action, mask in active.items()}, baseline


def detect_actions(signals: Sequence[FrameSignals], challenge: Challenge, config: FaceConfig) -> ActionReport:
    """Check that the challenge actions occur in order, each in its own later frame.

    Greedy earliest matching is optimal for "is this an ordered subsequence".
    """
    report = ActionReport()
    if not signals:
        report.missing = challenge.to_list()
        return report
    active, report.baseline = active_frames(signals, config)
    report.active_frames = {action.value: frames for action, frames in active.items()}
    previous = -1
    for action in challenge.actions:
        frames = active[action]
        later = [index for index in frames if index > previous]
        if later:
            previous = later[0]
            report.matched_frames[action.value] = previous
        elif frames:
            report.out_of_order.append(action.value)
            report.matched_frames[action.value] = None
        else:
            report.missing.append(action.value)
            report.matched_frames[action.value] = None
    return report
