"""Passive anti-spoofing with Silent-Face's MiniFASNet pair (shipped in face/packs/minifasnet).

Each model takes float32 [N, 3, 80, 80] BGR 0..255 (no scaling): the detected face box enlarged by the
model's scale (2.7 / 4.0, clamped to the image and shifted inside it), resized to 80x80. Output: softmax
over (spoof-2D, live, spoof-3D); class 1 is live. The live probabilities of the models are averaged,
as Silent-Face does.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..errors import PackError
from ..packs import verify_file
from .session import OnnxSession, SessionSettings

MINIFASNET_DIR = Path(__file__).resolve().parents[1] / "packs" / "minifasnet"
INPUT_SIZE = 80
LIVE_CLASS = 1


def face_crop(image: np.ndarray, bbox: np.ndarray, scale: float) -> np.ndarray:
    """Silent-Face's crop (src/generate_patches.py): enlarged box, clamped and shifted into the image."""
    height, width = image.shape[:2]
    box_w, box_h = max(1.0, float(bbox[2] - bbox[0])), max(1.0, float(bbox[3] - bbox[1]))
    scale = min((height - 1) / box_h, (width - 1) / box_w, scale)
    new_w, new_h = box_w * scale, box_h * scale
    cx, cy = float(bbox[0]) + box_w / 2, float(bbox[1]) + box_h / 2
    left, top, right, bottom = cx - new_w / 2, cy - new_h / 2, cx + new_w / 2, cy + new_h / 2
    if left < 0:
        right, left = right - left, 0.0
    if top < 0:
        bottom, top = bottom - top, 0.0
    if right > width - 1:
        left, right = left - (right - width + 1), width - 1.0
    if bottom > height - 1:
        top, bottom = top - (bottom - height + 1), height - 1.0
    crop = image[max(0, int(top)) : int(bottom) + 1, max(0, int(left)) : int(right) + 1]
    return cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE))


def model_input(image: np.ndarray, bbox: np.ndarray, scale: float) -> np.ndarray:
    """The float32 [1, 3, 80, 80] batch one model of the pair takes (BGR 0..255, no scaling)."""
    return np.ascontiguousarray(face_crop(image, bbox, scale).transpose(2, 0, 1)[None], dtype=np.float32)


def live_score(output: np.ndarray) -> float:
    """The live-class probability from one model's softmax output."""
    return float(np.asarray(output).reshape(-1)[LIVE_CLASS])


class MiniFASNet:
    """The model pair; ``predict(image, bbox)`` -> live probability 0..1."""

    role = "antispoof"

    def __init__(self, settings: SessionSettings, directory: Path = MINIFASNET_DIR) -> None:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        self.entries = [(directory / entry["file"], float(entry["scale"]), str(entry["sha256"])) for entry in manifest["entries"]]
        self.settings = settings
        self.model_path = directory
        self._sessions: list[tuple[OnnxSession, float]] | None = None

    @property
    def loaded(self) -> bool:
        return self._sessions is not None

    def load(self) -> None:
        if self._sessions is not None:
            return
        sessions = []
        for path, scale, sha256 in self.entries:
            verify_file(path, sha256)
            session = OnnxSession(path, self.settings)
            if session.input_shapes[0][1:] != [3, INPUT_SIZE, INPUT_SIZE]:
                raise PackError(f"{path.name}: MiniFASNet must take [N,3,80,80]")
            sessions.append((session, scale))
        self._sessions = sessions

    def predict(self, image: np.ndarray, bbox: np.ndarray) -> float:
        if self._sessions is None:
            self.load()
        assert self._sessions is not None
        total = 0.0
        for session, scale in self._sessions:
            total += live_score(session.run({session.input_names[0]: model_input(image, bbox, scale)})[0])
        score = total / len(self._sessions)
        if not np.isfinite(score):
            raise PackError("MiniFASNet returned a non-finite score")
        return float(np.clip(score, 0.0, 1.0))
