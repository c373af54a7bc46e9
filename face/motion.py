"""Landmark motion across a sequence: face-plane rectification and nose parallax.

A flat picture (print or screen) moved, tilted or bent in front of the camera
moves as a plane: every landmark of frame j is the baseline frame's landmark
under one homography. A real head turning or nodding does not: the nose tip
stands ~3 cm in front of the cheeks and shifts against them (parallax).

For every frame we fit the homography that maps the frame's *plane points*
(cheek contour above the jaw, eye corners) onto the baseline frame's, then

* map the eye and mouth landmarks through it before measuring the eye and
  mouth ratios and the mouth-corner spread (a smile widens it, a blink does not),
  so tilting a picture (which squashes the eyes) is not a blink;
* map the nose through it and measure how far it lands from the baseline
  nose, in eye distances: parallax. A real 15-20 degree turn gives 0.08-0.16
  (measured on real video), a picture turned by up to 45 degrees at most 0.04.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .landmarks106 import (
    EYE_A_CORNERS,
    EYE_A_LIDS,
    EYE_B_CORNERS,
    EYE_B_LIDS,
    MOUTH_CORNERS,
    MOUTH_INNER_LIPS,
    openness_batch,
)

# Upper cheek contour (temple down to the jaw angle, both sides) and eye corners:
# points that lie close to one plane on a real face and exactly on it on a picture.
PLANE_POINTS = np.array([1, *range(9, 17), 17, *range(25, 33), 35, 39, 89, 93])
# Lower nose bridge and tip: the most protruding points.
NOSE_POINTS = np.array([73, 74, 86])


@dataclass(frozen=True)
class FrameMotion:
    eye_aspect_ratio: float
    mouth_aspect_ratio: float
    # Nose offset from the face plane relative to the baseline frame, in eye
    # distances (x: towards the image's right, y: down).
    parallax_x: float
    parallax_y: float
    # Mouth-corner spread over the baseline frame's eye distance (a smile widens it).
    mouth_width: float = 0.0
    # Inner-lip gap over the baseline frame's eye distance (the mouth opening itself).
    lip_gap: float = 0.0


def eye_distance(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[EYE_A_CORNERS[0]] - points[EYE_B_CORNERS[1]]))


def plane_homographies(points: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Least-squares homographies (N, 3, 3) mapping each frame's plane points onto the baseline's.

    Normalised DLT (Hartley) for all frames at once: one batched eigen-decomposition of
    the 9x9 normal matrices instead of one OpenCV call per frame.
    """

    def normalise(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = pts.mean(axis=1, keepdims=True)
        spread = np.sqrt(((pts - mean) ** 2).sum(axis=2)).mean(axis=1)
        scale = np.sqrt(2.0) / np.maximum(spread, 1e-9)
        transform = np.zeros((pts.shape[0], 3, 3))
        transform[:, 0, 0] = transform[:, 1, 1] = scale
        transform[:, 0, 2] = -scale * mean[:, 0, 0]
        transform[:, 1, 2] = -scale * mean[:, 0, 1]
        transform[:, 2, 2] = 1.0
        return (pts - mean) * scale[:, None, None], transform

    source, source_transform = normalise(points[:, PLANE_POINTS].astype(np.float64))
    target, target_transform = normalise(np.broadcast_to(baseline[PLANE_POINTS].astype(np.float64), source.shape).copy())
    x, y = source[..., 0], source[..., 1]
    u, v = target[..., 0], target[..., 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    rows = np.concatenate(
        [np.stack([x, y, one, zero, zero, zero, -u * x, -u * y, -u], axis=2), np.stack([zero, zero, zero, x, y, one, -v * x, -v * y, -v], axis=2)],
        axis=1,
    )
    _, vectors = np.linalg.eigh(np.einsum("npi,npj->nij", rows, rows))
    normalised = vectors[:, :, 0].reshape(-1, 3, 3)
    homographies: np.ndarray = np.linalg.inv(target_transform) @ normalised @ source_transform
    scaled: np.ndarray = homographies / homographies[:, 2:3, 2:3]
    return scaled


def sequence_motion(landmarks: Sequence[np.ndarray], baseline_index: int = 0) -> list[FrameMotion | None]:
    """Signals of every frame's 106 landmarks relative to the baseline frame's (all frames at once)."""
    points = np.asarray(landmarks, dtype=np.float64)
    base = points[baseline_index]
    distance = eye_distance(base)
    if distance <= 1e-6:
        return [None] * len(points)
    homographies = plane_homographies(points, base)
    homogeneous = np.concatenate([points, np.ones(points.shape[:2] + (1,))], axis=2) @ homographies.transpose(0, 2, 1)
    rectified = homogeneous[..., :2] / homogeneous[..., 2:3]
    offsets = np.mean(rectified[:, NOSE_POINTS] - base[NOSE_POINTS], axis=1) / distance
    eyes = 0.5 * (openness_batch(rectified, EYE_A_CORNERS, EYE_A_LIDS) + openness_batch(rectified, EYE_B_CORNERS, EYE_B_LIDS))
    mouths = openness_batch(rectified, MOUTH_CORNERS, MOUTH_INNER_LIPS)
    widths = np.linalg.norm(rectified[:, MOUTH_CORNERS[0]] - rectified[:, MOUTH_CORNERS[1]], axis=1) / distance
    gaps = np.linalg.norm(rectified[:, [u for u, _ in MOUTH_INNER_LIPS]] - rectified[:, [v for _, v in MOUTH_INNER_LIPS]], axis=2).mean(axis=1) / distance
    finite = np.all(np.isfinite(rectified), axis=(1, 2))
    return [
        FrameMotion(float(eyes[i]), float(mouths[i]), float(offsets[i, 0]), float(offsets[i, 1]), float(widths[i]), float(gaps[i])) if finite[i] else None
        for i in range(len(points))
    ]


def frame_motion(baseline: np.ndarray, points: np.ndarray) -> FrameMotion | None:
    """Signals of one frame's 106 landmarks relative to the baseline frame's."""
    return sequence_motion([baseline, points], 0)[1]


__all__ = ["FrameMotion", "frame_motion", "sequence_motion", "plane_homographies", "eye_distance", "PLANE_POINTS", "NOSE_POINTS"]
