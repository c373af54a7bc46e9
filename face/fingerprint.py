"""Frame fingerprints for replay detection within and across attempts.

A fingerprint holds a 64-bit DCT perceptual hash of the aligned face crop, a
compact (float16) copy of the embedding and a 32x32 blurred grey thumbnail of
the whole frame. Two frames are the same picture when the face crop hashes
agree and either the embeddings are near-identical (>= ~0.995) or the whole
frame is near-identical (a re-encoded JPEG keeps every pixel in place but can
move the embedding to ~0.96 at quality 30; a hand-held phone never produces
two live frames whose thumbnails agree to within a couple of grey levels).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Mapping

import cv2
import numpy as np


def perceptual_hash(aligned_crop: np.ndarray) -> int:
    gray = cv2.cvtColor(aligned_crop, cv2.COLOR_BGR2GRAY) if aligned_crop.ndim == 3 else aligned_crop
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    # The DC term only encodes overall brightness; leave it out of the median.
    bits = low > np.median(low[1:])
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def hamming_distance(a: int, b: int) -> int:
    return int((a ^ b).bit_count())


def _encode_embedding(embedding: np.ndarray) -> str:
    return base64.b64encode(np.asarray(embedding, dtype="<f2").tobytes()).decode("ascii")


def _decode_embedding(text: str) -> np.ndarray:
    values = np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32)
    norm = float(np.linalg.norm(values))
    return values / norm if norm > 0 else values


THUMBNAIL_SIZE = 32


def frame_thumbnail(image: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(gray, (THUMBNAIL_SIZE, THUMBNAIL_SIZE), interpolation=cv2.INTER_AREA)
    # Blur so JPEG block artefacts do not count as a difference.
    return cv2.GaussianBlur(small, (3, 3), 0)


@dataclass(frozen=True)
class Comparison:
    hash_distance: int
    similarity: float
    # Mean absolute grey-level difference of the frame thumbnails (0..255).
    frame_difference: float


@dataclass(frozen=True)
class FrameFingerprint:
    phash: int
    embedding: np.ndarray  # L2-normalised
    thumbnail: np.ndarray  # uint8 (32, 32)

    def to_dict(self) -> dict[str, str]:
        return {
            "phash": f"{self.phash:016x}",
            "embedding": _encode_embedding(self.embedding),
            "thumbnail": base64.b64encode(np.ascontiguousarray(self.thumbnail, dtype=np.uint8).tobytes()).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FrameFingerprint":
        thumbnail = np.frombuffer(base64.b64decode(str(data["thumbnail"])), dtype=np.uint8)
        return cls(
            phash=int(str(data["phash"]), 16),
            embedding=_decode_embedding(str(data["embedding"])),
            thumbnail=thumbnail.reshape(THUMBNAIL_SIZE, THUMBNAIL_SIZE),
        )

    def compare(self, other: "FrameFingerprint") -> Comparison:
        if self.embedding.shape != other.embedding.shape:
            # Fingerprints from a different recognition model cannot be compared.
            return Comparison(64, 0.0, 255.0)
        difference = float(np.mean(np.abs(self.thumbnail.astype(np.int16) - other.thumbnail.astype(np.int16))))
        return Comparison(hamming_distance(self.phash, other.phash), float(np.dot(self.embedding, other.embedding)), difference)

    def is_replay_of(
        self,
        other: "FrameFingerprint",
        *,
        max_hash_distance: int,
        near_identical_similarity: float,
        same_frame_similarity: float,
        same_frame_max_difference: float,
    ) -> bool:
        c = self.compare(other)
        if c.hash_distance > max_hash_distance:
            return False
        if c.similarity >= near_identical_similarity:
            return True
        return c.similarity >= same_frame_similarity and c.frame_difference <= same_frame_max_difference
