"""Real recordings vendored under tests/data/faces (see LICENCES.md there) and flat-picture attacks built from them.

* ``wolf_burst``: 20 frames (every 11th of a 24 fps Pexels clip, 640x360) of a woman who
  laughs, turns her head to her left (image right) and then lowers it (nod).
* ``carphone_burst``: 23 frames (every 3rd, 176x144) of the standard "carphone" sequence: a man
  turns to his right, blinks, opens his mouth wide. Upscaled x3 as a low phone camera would deliver.
* ``*_id_photo.jpg``: 102x126 JPEG q30 crops of *other* moments of the same clips (ID-chip-like).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from face.decode import decode_image, encode_jpeg

DATA = Path(__file__).resolve().parents[1] / "data" / "faces"

# What each burst shows, in order, as challenge actions (user's own directions, unmirrored frames).
WOLF_ACTIONS = ["turn_left", "nod"]
CARPHONE_ACTIONS = ["turn_right", "blink", "open_mouth"]
# One frame per action for the sparse form: neutral start, then each action's frame.
CARPHONE_SPARSE = [0, 10, 14, 19]


@cache
def burst(name: str) -> tuple[bytes, ...]:
    frames = []
    for path in sorted((DATA / name).glob("*.jpg")):
        data = path.read_bytes()
        if name == "carphone_burst":
            image = decode_image(data)
            data = encode_jpeg(cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC), 90)
        frames.append(data)
    return tuple(frames)


def id_photo(name: str) -> bytes:
    return (DATA / f"{name}_id_photo.jpg").read_bytes()


def plane_warp(image: np.ndarray, yaw: float, pitch: float, roll: float = 0.0, focal: float = 1.2, bend: float = 0.0) -> np.ndarray:
    """A flat picture held in front of a camera, rotated by yaw/pitch/roll (degrees).

    ``bend`` > 0 curves the picture around its vertical axis first (a printed
    photo held by its edges), radius = width / bend.
    """
    height, width = image.shape[:2]
    f = focal * width
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    X, Y = xs - width / 2, ys - height / 2
    Z = np.zeros_like(X)
    if bend > 0:
        radius = width / bend
        angle = X / radius
        X, Z = radius * np.sin(angle), radius * (1 - np.cos(angle))
    ry, rp, rr = (math.radians(v) for v in (yaw, pitch, roll))
    ry_m = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    rx_m = np.array([[1, 0, 0], [0, math.cos(rp), -math.sin(rp)], [0, math.sin(rp), math.cos(rp)]])
    rz_m = np.array([[math.cos(rr), -math.sin(rr), 0], [math.sin(rr), math.cos(rr), 0], [0, 0, 1]])
    rotation = rz_m @ rx_m @ ry_m
    points = np.stack([X, Y, Z], axis=-1) @ rotation.T
    depth = points[..., 2] + f
    u = f * points[..., 0] / depth + width / 2
    v = f * points[..., 1] / depth + height / 2
    # Forward map -> inverse map by scattering into the output grid (dense enough for a smooth warp).
    map_x = np.full((height, width), -1, dtype=np.float32)
    map_y = np.full((height, width), -1, dtype=np.float32)
    ui, vi = np.round(u).astype(int), np.round(v).astype(int)
    ok = (ui >= 0) & (ui < width) & (vi >= 0) & (vi < height)
    map_x[vi[ok], ui[ok]] = xs[ok]
    map_y[vi[ok], ui[ok]] = ys[ok]
    holes = map_x < 0
    if holes.any():
        # Fill the few unhit pixels from their neighbours.
        map_x = cv2.inpaint(np.clip(map_x, 0, None), holes.astype(np.uint8), 1, cv2.INPAINT_NS)
        map_y = cv2.inpaint(np.clip(map_y, 0, None), holes.astype(np.uint8), 1, cv2.INPAINT_NS)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def flat_picture_attack(picture: bytes, *, frames: int = 16, bend: float = 0.0) -> list[bytes]:
    """A printed photo turned to one side, tilted back and rotated, as a burst."""
    image = decode_image(picture)
    rng = np.random.default_rng(11)
    out = []
    for k in range(frames):
        t = k / max(1, frames - 1)
        yaw = 35.0 * math.sin(math.pi * min(1.0, 2 * t))  # turn and back
        pitch = 30.0 * max(0.0, math.sin(math.pi * (2 * t - 1))) if t > 0.5 else 0.0  # then tilt
        roll = 8.0 * math.sin(2 * math.pi * t)
        warped = plane_warp(image, yaw, pitch, roll, bend=bend)
        # The hand holding the picture shakes a little: a couple of pixels, never twice the same frame.
        shift = np.float32([[1, 0, rng.uniform(-3, 3)], [0, 1, rng.uniform(-3, 3)]])
        warped = cv2.warpAffine(warped, shift, (warped.shape[1], warped.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        out.append(encode_jpeg(warped, 85))
    return out
