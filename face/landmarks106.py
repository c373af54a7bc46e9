"""Signals read from insightface's 106-point markup: eye/mouth openness, head pose.

Index layout (verified by plotting the 2d106det output on a frontal face;
"A" is the eye on the image's left, "B" on the image's right):

* contour 0..32 (0 = chin; 1 and 17 = upper ends at temple height)
* eye A 33..42: corners 35 (outer) / 39 (inner), upper lid 41 40 42, lower lid 36 33 37
* eye B 87..96: corners 89 (inner) / 93 (outer), upper lid 95 94 96, lower lid 90 87 91
* mouth 52..71: outer corners 52 / 61, inner upper lip 66 62 70, inner lower lip 54 60 57
* nose 72..86: bridge 72 73 74, tip 86
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EYE_A_CORNERS = (35, 39)
EYE_A_LIDS = ((41, 36), (40, 33), (42, 37))
EYE_B_CORNERS = (89, 93)
EYE_B_LIDS = ((95, 90), (94, 87), (96, 91))
MOUTH_CORNERS = (52, 61)
MOUTH_INNER_LIPS = ((66, 54), (62, 60), (70, 57))
NOSE_TIP = 86
CHIN = 0

# Points used for pose, with a generic adult head in millimetres
# (x to the image right, y down, z away from the camera; nose tip at origin).
# Scaled from the widely used OpenCV head-pose model.
POSE_INDEXES = np.array([NOSE_TIP, CHIN, EYE_A_CORNERS[0], EYE_B_CORNERS[1], MOUTH_CORNERS[0], MOUTH_CORNERS[1]])
POSE_MODEL_MM = np.array(
    [
        [0.0, 0.0, 0.0],
        [0.0, 66.0, 13.0],
        [-45.0, -34.0, 27.0],
        [45.0, -34.0, 27.0],
        [-30.0, 30.0, 25.0],
        [30.0, 30.0, 25.0],
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class HeadPose:
    # Positive yaw: the nose points towards the image's right edge.
    yaw: float
    # Positive pitch: the face points up (chin raised).
    pitch: float
    # Positive roll: the eye line rises towards the image's right.
    roll: float


def _openness(points: np.ndarray, corners: tuple[int, int], lids: tuple[tuple[int, int], ...]) -> float:
    width = float(np.linalg.norm(points[corners[0]] - points[corners[1]]))
    if width <= 1e-6:
        return 0.0
    gaps = [float(np.linalg.norm(points[upper] - points[lower])) for upper, lower in lids]
    return float(np.mean(gaps) / width)


def openness_batch(points: np.ndarray, corners: tuple[int, int], lids: tuple[tuple[int, int], ...]) -> np.ndarray:
    """:func:`_openness` for many frames at once ((N, 106, 2) -> (N,))."""
    width = np.linalg.norm(points[:, corners[0]] - points[:, corners[1]], axis=1)
    upper, lower = [u for u, _ in lids], [v for _, v in lids]
    gaps = np.linalg.norm(points[:, upper] - points[:, lower], axis=2).mean(axis=1)
    result: np.ndarray = np.where(width > 1e-6, gaps / np.maximum(width, 1e-6), 0.0)
    return result


def eye_aspect_ratio(points: np.ndarray) -> float:
    """Mean lid gap / eye width over both eyes (drops sharply during a blink)."""
    return 0.5 * (_openness(points, EYE_A_CORNERS, EYE_A_LIDS) + _openness(points, EYE_B_CORNERS, EYE_B_LIDS))


def mouth_aspect_ratio(points: np.ndarray) -> float:
    """Inner-lip gap / mouth width (near 0 closed, ~0.5+ wide open)."""
    return _openness(points, MOUTH_CORNERS, MOUTH_INNER_LIPS)


def head_pose(points: np.ndarray) -> HeadPose:
    """Yaw/pitch/roll in degrees from a weak-perspective fit of a generic head.

    A phone front camera at arm's length is close to weak perspective, and the
    affine fit needs no camera intrinsics, which we do not know per device.
    """
    image_points = np.asarray(points, dtype=np.float64)[POSE_INDEXES]
    design = np.hstack([POSE_MODEL_MM, np.ones((len(POSE_MODEL_MM), 1))])
    projection, *_ = np.linalg.lstsq(design, image_points, rcond=None)  # (4, 2)
    row_x, row_y = projection[:3, 0], projection[:3, 1]
    # Closest proper rotation to the fitted (scaled) rows.
    stacked = np.vstack([row_x, row_y, np.cross(row_x, row_y)])
    u, _, vt = np.linalg.svd(stacked)
    rotation = u @ vt
    if np.linalg.det(rotation) < 0:
        rotation = u @ np.diag([1.0, 1.0, -1.0]) @ vt
    # The face's forward direction (model -z) in camera coordinates.
    forward = -rotation[:, 2]
    yaw = float(np.degrees(np.arctan2(forward[0], -forward[2])))
    pitch = float(np.degrees(np.arctan2(-forward[1], np.hypot(forward[0], forward[2]))))
    eye_vector = image_points[3] - image_points[2]
    roll = float(np.degrees(np.arctan2(-eye_vector[1], eye_vector[0])))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)
