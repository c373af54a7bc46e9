"""Landmark motion across a sequence: face-plane rectification and nose parallax.

A flat picture (print or screen) moved, tilted or bent in front of the camera
moves as a plane: every landmark of frame j is the baseline frame's landmark
under one homography. A real head turning or nodding does not: the nose tip
stands ~3 cm in front of the cheeks and shifts against them (parallax).

For every frame we fit the homography that maps the frame's *plane points*
(cheek contour above the jaw, eye corners) onto the baseline frame's, then

* map the eye and mouth landmarks through it before measuring the eye and
  mouth ratios, so tilting a picture (which squashes the eyes) is not a blink;
* map the nose through it and measure how far it lands from the baseline
  nose, in eye distances: parallax. A real 15-20 degree turn gives 0.08-0.16
  (measured on real video), a picture turned by up to 45 degrees at most 0.04.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .landmarks106 import EYE_A_CORNERS, EYE_B_CORNERS, MOUTH_CORNERS, eye_aspect_ratio, mouth_aspect_ratio

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


def eye_distance(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[EYE_A_CORNERS[0]] - points[EYE_B_CORNERS[1]]))


def frame_motion(baseline: np.ndarray, points: np.ndarray) -> FrameMotion | None:
    """Signals of one frame's 106 landmarks relative to the baseline frame's."""
    source = np.asarray(points, dtype=np.float64)[PLANE_POINTS].astype(np.float32)
    target = np.asarray(baseline, dtype=np.float64)[PLANE_POINTS].astype(np.float32)
    homography, _ = cv2.findHomography(source, target, 0)
    distance = eye_distance(baseline)
    if homography is None or distance <= 1e-6 or not np.all(np.isfinite(homography)):
        return None
    rectified = cv2.perspectiveTransform(np.asarray(points, dtype=np.float32)[None], homography)[0]
    offset = np.mean(rectified[NOSE_POINTS] - np.asarray(baseline, dtype=np.float32)[NOSE_POINTS], axis=0) / distance
    return FrameMotion(
        eye_aspect_ratio=eye_aspect_ratio(rectified),
        mouth_aspect_ratio=mouth_aspect_ratio(rectified),
        parallax_x=float(offset[0]),
        parallax_y=float(offset[1]),
        mouth_width=float(np.linalg.norm(rectified[MOUTH_CORNERS[0]] - rectified[MOUTH_CORNERS[1]]) / distance),
    )


def sequence_motion(landmarks: Sequence[np.ndarray], baseline_index: int = 0) -> list[FrameMotion | None]:
    base = landmarks[baseline_index]
    return [frame_motion(base, points) for points in landmarks]


__all__ = ["FrameMotion", "frame_motion", "sequence_motion", "eye_distance", "PLANE_POINTS", "NOSE_POINTS"]
