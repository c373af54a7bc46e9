"""Synthetic action evidence for calibration and tests (not used in production).

We have no recorded challenge videos, so actions are simulated in two ways:

* landmark level: :func:`action_landmarks` moves a real frontal 106-point set
  as a blink / open mouth / head rotation would (rotation via a crude depth
  lift: cylinder-shaped face plus a protruding nose);
* image level: :func:`render_action` warps the real photo so that its
  landmarks move to those targets (piecewise-affine warp, mouth interior
  painted dark), and the real detector/landmark models then read the result.

Requires scikit-image (a test/calibration dependency), imported lazily.
"""

from __future__ import annotations

import cv2
import numpy as np

from .challenge import Action
from .landmarks106 import EYE_A_LIDS, EYE_B_LIDS, NOSE_TIP

_NOSE_POINTS = list(range(72, 87))
_LOWER_INNER_LIP = [54, 60, 57]
_LOWER_OUTER_LIP = [55, 56, 53, 59, 58]
_INNER_MOUTH_POLYGON = [65, 66, 62, 70, 69, 57, 60, 54]
_LOWER_CONTOUR = [0, 2, 3, 4, 5, 6, 7, 8, 18, 19, 20, 21, 22, 23, 24]


def _face_frame(points: np.ndarray) -> tuple[float, float, float, float]:
    center_x = float((points[1, 0] + points[17, 0]) / 2)
    half_width = float(abs(points[17, 0] - points[1, 0]) / 2)
    center_y = float((points[1, 1] + points[17, 1]) / 2)
    half_height = float(points[0, 1] - center_y)
    return center_x, center_y, half_width, max(half_height, 1.0)


def rotate_landmarks(points: np.ndarray, yaw_deg: float = 0.0, pitch_deg: float = 0.0) -> np.ndarray:
    """Positive yaw moves the nose towards image-right, positive pitch moves it up."""
    center_x, center_y, half_width, _ = _face_frame(points)
    u = (points[:, 0] - center_x) / half_width
    v = (points[:, 1] - center_y) / half_width
    depth = 0.9 * np.sqrt(np.clip(1.0 - np.clip(u, -1, 1) ** 2, 0.0, 1.0))
    nose = np.zeros(len(points))
    nose[_NOSE_POINTS] = 0.25
    nose[NOSE_TIP] = 0.45
    depth = depth + nose
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    x1 = u * np.cos(yaw) + depth * np.sin(yaw)
    z1 = -u * np.sin(yaw) + depth * np.cos(yaw)
    y2 = v * np.cos(pitch) - z1 * np.sin(pitch)
    return np.stack([center_x + x1 * half_width, center_y + y2 * half_width], axis=1).astype(np.float32)


def action_landmarks(points: np.ndarray, action: Action | None, strength: float = 1.0, *, mirrored: bool = False) -> np.ndarray:
    """Where the 106 points would be while performing ``action`` (None = neutral)."""
    target = np.array(points, dtype=np.float32, copy=True)
    if action is None:
        return target
    if action is Action.BLINK:
        for lids in (EYE_A_LIDS, EYE_B_LIDS):
            for upper, lower in lids:
                target[upper] = points[upper] + (points[lower] - points[upper]) * 0.85 * strength
        return target
    if action is Action.OPEN_MOUTH:
        width = float(np.linalg.norm(points[52] - points[61]))
        drop = 0.5 * width * strength
        for index in _LOWER_INNER_LIP + _LOWER_OUTER_LIP:
            target[index, 1] += drop
        for index in _LOWER_CONTOUR:
            target[index, 1] += drop * 0.8
        return target
    sign = -1.0 if mirrored else 1.0
    if action is Action.TURN_LEFT:
        return rotate_landmarks(points, yaw_deg=sign * 25.0 * strength)
    if action is Action.TURN_RIGHT:
        return rotate_landmarks(points, yaw_deg=-sign * 25.0 * strength)
    if action is Action.NOD:
        return rotate_landmarks(points, pitch_deg=-18.0 * strength)
    raise ValueError(action)


def warp_to_landmarks(image: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Piecewise-affine warp moving ``source`` points to ``target``; far pixels stay put."""
    from skimage.transform import PiecewiseAffineTransform, warp

    height, width = image.shape[:2]
    center = source.mean(axis=0)
    radius = float(np.max(np.linalg.norm(source - center, axis=1)))
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = center + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radius * 1.6
    border = np.array(
        [[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1], [width / 2, 0], [width / 2, height - 1], [0, height / 2], [width - 1, height / 2]],
        dtype=np.float64,
    )
    fixed = np.vstack([ring, border])
    # warp() wants the map from output coordinates to input coordinates.
    # scikit-image ships no type information.
    transform = PiecewiseAffineTransform.from_estimate(np.vstack([target, fixed]), np.vstack([source, fixed]))  # type: ignore[no-untyped-call]
    warped = np.asarray(warp(image, transform, output_shape=image.shape[:2], preserve_range=True, mode="edge"))  # type: ignore[no-untyped-call]
    result: np.ndarray = np.clip(warped, 0, 255).astype(np.uint8)
    return result


def render_action(image: np.ndarray, points: np.ndarray, action: Action | None, strength: float = 1.0, *, mirrored: bool = False) -> np.ndarray:
    target = action_landmarks(points, action, strength, mirrored=mirrored)
    if action is None:
        return image.copy()
    frame = warp_to_landmarks(image, points, target)
    if action is Action.OPEN_MOUTH:
        polygon = np.round(target[_INNER_MOUTH_POLYGON]).astype(np.int32)
        cv2.fillPoly(frame, [polygon], (30, 20, 35))
    if action is Action.BLINK:
        frame = _paint_closed_eyes(frame, points)
    return frame


def _paint_closed_eyes(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Cover each eye with eyelid-coloured skin and draw the lash line."""
    result = frame.copy()
    for outline in ([35, 41, 40, 42, 39, 37, 33, 36], [89, 95, 94, 96, 93, 91, 87, 90]):
        eye = points[outline]
        center = eye.mean(axis=0)
        width = float(np.ptp(eye[:, 0]))
        # Skin just below the eye stands in for the closed lid.
        patch_y = int(center[1] + 0.6 * width)
        patch = frame[max(0, patch_y - 3) : patch_y + 3, int(center[0] - width / 4) : int(center[0] + width / 4)]
        colour = tuple(float(c) for c in patch.reshape(-1, 3).mean(axis=0)) if patch.size else (150.0, 150.0, 170.0)
        polygon = np.round(center + (eye - center) * 1.35).astype(np.int32)
        mask = np.zeros(frame.shape[:2], dtype=np.uint8)
        cv2.fillPoly(mask, [polygon], 255)
        weight = cv2.GaussianBlur(mask, (0, 0), max(1.0, width / 12)).astype(np.float32)[..., None] / 255.0
        result = (result * (1 - weight) + np.array(colour, dtype=np.float32) * weight).astype(np.uint8)
        lash = np.round(np.vstack([points[outline[0]], points[outline[6]], points[outline[4]]])).astype(np.int32)
        cv2.polylines(result, [lash], False, (40, 35, 40), max(1, int(width / 14)), cv2.LINE_AA)
    return result


def hand_jitter(image: np.ndarray, rng: np.random.Generator, pixels: float = 4.0) -> np.ndarray:
    """A small random shift/rotation plus sensor noise, as between two hand-held frames."""
    height, width = image.shape[:2]
    matrix = np.asarray(cv2.getRotationMatrix2D((width / 2, height / 2), float(rng.uniform(-1.5, 1.5)), float(rng.uniform(0.98, 1.02))), dtype=np.float64)
    matrix[:, 2] = matrix[:, 2] + rng.uniform(-pixels, pixels, size=2)
    moved = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
    noisy = moved.astype(np.float32) + rng.normal(0.0, 2.0, moved.shape)
    jittered: np.ndarray = np.clip(noisy, 0, 255).astype(np.uint8)
    return jittered
