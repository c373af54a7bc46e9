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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

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
    def from_list(cls, values: Sequence[str]) -> Challenge:
        return cls(tuple(Action(value) for value in values))


class RandomSource(Protocol):
    def randint(self, a: int, b: int) -> int: ...
    def sample(self, population: Sequence[Action], k: int) -> list[Action]: ...


# A flat picture moved in front of the camera cannot produce these: the nose
# moves against the cheeks (parallax) only when a real head turns or nods.
DEPTH_ACTIONS = frozenset({Action.TURN_LEFT, Action.TURN_RIGHT, Action.NOD})


def new_challenge(rng: RandomSource | None = None, *, min_actions: int = 2, max_actions: int = 3) -> Challenge:
    """Random sequence of distinct actions with at least one depth action.

    Pass ``random.SystemRandom()`` in production so sequences are not predictable
    from earlier ones; a seeded ``random.Random`` makes tests reproducible.
    turn_left and turn_right are never both drawn (confusing for the person),
    and every challenge holds a turn or a nod, which a flat photo cannot fake.
    """
    source: RandomSource = rng if rng is not None else random.SystemRandom()
    count = source.randint(min_actions, max_actions)
    while True:
        actions = source.sample(list(Action), count)
        if Action.TURN_LEFT in actions and Action.TURN_RIGHT in actions:
            continue
        if DEPTH_ACTIONS.isdisjoint(actions):
            continue
        return Challenge(tuple(actions))


@dataclass(frozen=True)
class FrameSignals:
    """Per-frame measurements the action detector works on.

    Eye and mouth ratios are best measured on landmarks rectified onto the
    baseline frame's face plane (so tilting a picture does not look like a
    blink). ``parallax_x``/``parallax_y`` is how far the nose sits off the
    plane through cheeks and eye corners, relative to the baseline frame, in
    eye distances; None when unknown (then depth actions need only the pose).
    """

    eye_aspect_ratio: float
    mouth_aspect_ratio: float
    yaw: float
    pitch: float
    parallax_x: float | None = None
    parallax_y: float | None = None
    # Mouth-corner spread in baseline eye distances (None when unknown).
    mouth_width: float | None = None
    # Inner-lip gap in baseline eye distances (None when unknown).
    lip_gap: float | None = None


@dataclass
class ActionReport:
    # action -> index of the frame where it was seen (in challenge order), or None
    matched_frames: dict[str, int | None] = field(default_factory=dict)
    # action -> frames where it was active at all, in any order
    active_frames: dict[str, list[int]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    baseline: dict[str, float] = field(default_factory=dict)
    # Frames whose pose changed enough for a turn/nod but without any parallax.
    flat_motion_frames: list[int] = field(default_factory=list)
    # Largest pose change from the baseline (degrees) and largest parallax seen.
    max_pose_change: float = 0.0
    max_parallax: float | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and not self.out_of_order


def baseline_window(count: int) -> int:
    """How many leading frames form the neutral baseline.

    The capture protocol starts with the person looking at the camera for
    about half a second: one frame in the sparse form, up to four in a burst
    (people start moving early; a longer window would take in the action).
    """
    return max(1, min(4, count // 6))


def sequence_baseline(signals: Sequence[FrameSignals]) -> dict[str, float]:
    window = signals[: baseline_window(len(signals))]
    widths = [s.mouth_width for s in window if s.mouth_width is not None]
    return {
        "eye_aspect_ratio": float(np.median([s.eye_aspect_ratio for s in window])),
        "mouth_aspect_ratio": float(np.median([s.mouth_aspect_ratio for s in window])),
        **({"mouth_width": float(np.median(widths))} if widths else {}),
        **({"lip_gap": float(np.median(gaps))} if (gaps := [s.lip_gap for s in window if s.lip_gap is not None]) else {}),
        "yaw": float(np.median([s.yaw for s in window])),
        "pitch": float(np.median([s.pitch for s in window])),
    }


def active_frames(
    signals: Sequence[FrameSignals], config: FaceConfig
) -> tuple[dict[Action, list[int]], dict[str, float], np.ndarray, dict[Action, list[int]]]:
    """Frames where each action is visible, judged against the person's own neutral start."""
    ear = np.array([s.eye_aspect_ratio for s in signals])
    mar = np.array([s.mouth_aspect_ratio for s in signals])
    yaw = np.array([s.yaw for s in signals])
    pitch = np.array([s.pitch for s in signals])
    baseline = sequence_baseline(signals)
    # Yaw sign for the user's left: nose to image-right unless frames are mirrored.
    left_sign = -1.0 if config.frames_mirrored else 1.0
    yaw_delta = (yaw - baseline["yaw"]) * left_sign
    pitch_delta = pitch - baseline["pitch"]
    known = np.array([s.parallax_x is not None for s in signals])
    parallax_x = np.array([s.parallax_x if s.parallax_x is not None else 0.0 for s in signals]) * left_sign
    parallax_y = np.array([s.parallax_y if s.parallax_y is not None else 0.0 for s in signals])
    parallax = np.hypot(parallax_x, parallax_y)
    need = config.min_parallax
    # A turn or nod is a movement: the head moves by the threshold and ends clearly
    # on the asked side of its neutral start (coming back from a turn the other way
    # is no turn), and the nose moved against the cheek plane in the same direction over
    # the movement - measured from where the movement began (the furthest the other
    # way since the start), not from the start's median: people begin to move while
    # the capture starts, and the parallax of a head that was already a little
    # turned then turns fully is the whole movement's.
    turn_left, depth_left = _movement(yaw_delta, parallax_x, config.turn_yaw_deg, need, config.max_nose_depth, rising=True)
    turn_right, depth_right = _movement(yaw_delta, parallax_x, config.turn_yaw_deg, need, config.max_nose_depth, rising=False)
    # A nod is read in either vertical direction (whether the estimator sees "down"
    # or "up" first depends on how the phone is held); the nose moves the other way
    # in the image than the pitch reads (pitch down: nose lower against the cheeks).
    nod_down, depth_down = _movement(pitch_delta, -parallax_y, config.nod_pitch_deg, need, config.max_nose_depth, rising=False)
    nod_up, depth_up = _movement(pitch_delta, -parallax_y, config.nod_pitch_deg, need, config.max_nose_depth, rising=True)
    depth_left, depth_right = ~known | depth_left, ~known | depth_right
    depth_nod_down, depth_nod_up = ~known | depth_down, ~known | depth_up
    # Weaker versions of each signal: an event lasts until the signal is back
    # within half its threshold of the neutral start (hysteresis), so a head that
    # stays turned, or dips just under the threshold, is one event, not two.
    eyes = ear / baseline["eye_aspect_ratio"] if baseline["eye_aspect_ratio"] > 0 else np.ones_like(ear)
    if "mouth_width" in baseline and baseline["mouth_width"] > 0:
        # A smile narrows the eyes too (the cheeks push the lower lids up) but it also
        # spreads the mouth corners; a blink does not. Eye closing explained by the
        # smile does not count: real smiles narrow the eyes to 0.81-0.90 of the start
        # while the mouth widens by 18-40 %.
        widths = np.array([s.mouth_width if s.mouth_width is not None else baseline["mouth_width"] for s in signals])
        eyes = eyes + config.smile_eye_compensation * np.maximum(0.0, widths / baseline["mouth_width"] - 1.0)
    lips_apart = np.ones(len(signals), dtype=bool)
    if "lip_gap" in baseline:
        gaps = np.array([s.lip_gap if s.lip_gap is not None else np.inf for s in signals])
        lips_apart = gaps - baseline["lip_gap"] >= config.open_mouth_gap_delta
    closing = 1.0 - config.blink_ear_ratio
    ongoing = {
        Action.BLINK: eyes <= 1.0 - closing / 2,
        Action.OPEN_MOUTH: mar - baseline["mouth_aspect_ratio"] >= config.open_mouth_mar_delta / 2,
        Action.TURN_LEFT: yaw_delta >= config.turn_yaw_deg / 2,
        Action.TURN_RIGHT: yaw_delta <= -config.turn_yaw_deg / 2,
        Action.NOD: np.abs(pitch_delta) >= config.nod_pitch_deg / 2,
    }
    active = {
        Action.BLINK: eyes <= config.blink_ear_ratio,
        Action.OPEN_MOUTH: (mar - baseline["mouth_aspect_ratio"] >= config.open_mouth_mar_delta) & lips_apart,
        Action.TURN_LEFT: turn_left & depth_left,
        Action.TURN_RIGHT: turn_right & depth_right,
        Action.NOD: (nod_down & depth_nod_down) | (nod_up & depth_nod_up),
    }
    flat = ((turn_left & ~depth_left) | (turn_right & ~depth_right) | (nod_down & ~depth_nod_down) | (nod_up & ~depth_nod_up)) & known
    info = np.vstack([np.maximum(np.abs(yaw_delta), np.abs(pitch_delta)), np.where(known, parallax, np.nan), flat.astype(float)])
    frames = {action: [int(i) for i in np.flatnonzero(mask)] for action, mask in active.items()}
    onsets = {action: event_onsets(active[action], ongoing[action] | active[action]) for action in Action}
    # Down and up are separate movements: a head that drops while turning and then
    # tips back for the nod has nodded after the turn, not during it.
    down, up = nod_down & depth_nod_down, nod_up & depth_nod_up
    onsets[Action.NOD] = sorted(
        event_onsets(down, down | (pitch_delta <= -config.nod_pitch_deg / 2)) + event_onsets(up, up | (pitch_delta >= config.nod_pitch_deg / 2))
    )
    return frames, baseline, info, onsets


def _movement(delta: np.ndarray, parallax: np.ndarray, threshold: float, need: float, max_depth: float, *, rising: bool) -> tuple[np.ndarray, np.ndarray]:
    """Frames where ``delta`` (signal minus the neutral start) has moved by at least
    ``threshold`` from the furthest-opposite value held before and is at least half of
    it on the asked side of the start; with whether ``parallax`` moved the same way by
    ``need`` (and by no more than ``max_depth`` x sin(rotation)) over that same
    movement (from that earlier frame, not from the start: a head already a little
    turned at the start then turning fully shows its whole parallax only against
    where it really began)."""
    sign = 1.0 if rising else -1.0
    signed, signed_parallax = sign * delta, sign * parallax
    # Index of the lowest signed value up to and including each frame.
    reference = np.zeros(len(signed), dtype=int)
    for index in range(1, len(signed)):
        previous = reference[index - 1]
        reference[index] = index if signed[index] < signed[previous] else previous
    rotation = signed - signed[reference]
    shift = signed_parallax - signed_parallax[reference]
    # The movement is what counts; where it ends only has to be clearly on the asked
    # side of the neutral start (beyond the hysteresis band), not a whole threshold
    # past it: a person already turned 6 degrees when the capture starts, who then
    # turns by 10-15 degrees, has turned (docs/face.md, the woman clip).
    moved = (rotation >= threshold) & (signed >= threshold / 2)
    # The nose shifts against the cheek plane by its protrusion times sin(rotation): at
    # least ``need`` (a flat picture: none), and no more than a real nose can give
    # (``max_depth`` eye distances in front of the plane): a bent photo's curvature
    # shifts the painted nose by more than its apparent rotation explains.
    depth = (shift >= need) & (shift <= max_depth * np.sin(np.radians(np.maximum(rotation, 0.0))))
    return moved, depth


def event_onsets(strong: np.ndarray, weak: np.ndarray) -> list[int]:
    """First frame of each event: starts where the signal is strong, lasts while it is at least weak."""
    onsets: list[int] = []
    inside = False
    for index in range(len(strong)):
        if inside and not weak[index]:
            inside = False
        if not inside and strong[index]:
            onsets.append(index)
            inside = True
    return onsets


def detect_actions(signals: Sequence[FrameSignals], challenge: Challenge, config: FaceConfig) -> ActionReport:
    """Check that the challenge actions occur as events in order.

    Each action must *begin* (an event onset, see :func:`event_onsets`) after
    the previous one began; greedy earliest matching is optimal for "is this an
    ordered subsequence". The first frame cannot hold an action. A head turned
    before the mouth opened and still turned afterwards is "turn, then mouth".
    """
    report = ActionReport()
    if not signals:
        report.missing = challenge.to_list()
        return report
    active, report.baseline, info, onsets = active_frames(signals, config)
    report.active_frames = {action.value: frames for action, frames in active.items()}
    report.flat_motion_frames = [int(i) for i in np.flatnonzero(info[2] > 0)]
    report.max_pose_change = float(np.max(info[0]))
    parallax = info[1][~np.isnan(info[1])]
    report.max_parallax = float(np.max(parallax)) if parallax.size else None
    previous = 0 if len(signals) > 1 else -1
    for action in challenge.actions:
        frames = onsets[action]
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
