"""Frame fingerprints for replay detection within and across attempts.

A fingerprint holds a 64-bit DCT perceptual hash of the aligned face crop, a
compact (float16) copy of the embedding, a 32x32 blurred grey thumbnail of
the whole frame, the five keypoints and a digest of the uploaded bytes.

Looking the same is not a replay: the same person in the same room gives
near-identical embeddings and hashes in every attempt. A replay is the same
*picture*: identical bytes, or a copy whose every pixel (thumbnail) and the
face's exact position (keypoints, to 2 % of the eye distance) are unchanged,
which re-encoding or rescaling preserves and a live camera never repeats.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


def perceptual_hash(aligned_crop: np.ndarray) -> int:
    gray = cv2.cvtColor(aligned_crop, cv2.COLOR_BGR2GRAY) if aligned_crop.ndim == 3 else aligned_crop
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    # The DC term only encodes overall brightness; leave it out of the median.
    bits = low > np.median(low[1:])
    # First coefficient in the most significant bit.
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


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
    # Largest displacement of the five keypoints, in eye distances (None if unknown).
    keypoint_shift: float | None = None


@dataclass(frozen=True)
class FrameFingerprint:
    phash: int
    embedding: np.ndarray  # L2-normalised
    thumbnail: np.ndarray  # uint8 (32, 32)
    # Five detector keypoints in frame pixels; None in fingerprints stored before they existed.
    keypoints: np.ndarray | None = None
    # sha256 of the uploaded bytes (hex); None when unknown.
    digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "phash": f"{self.phash:016x}",
            "embedding": _encode_embedding(self.embedding),
            "thumbnail": base64.b64encode(np.ascontiguousarray(self.thumbnail, dtype=np.uint8).tobytes()).decode("ascii"),
        }
        if self.keypoints is not None:
            data["keypoints"] = [round(float(v), 2) for v in np.asarray(self.keypoints).reshape(-1)]
        if self.digest is not None:
            data["digest"] = self.digest
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FrameFingerprint:
        thumbnail = np.frombuffer(base64.b64decode(str(data["thumbnail"])), dtype=np.uint8)
        keypoints = data.get("keypoints")
        return cls(
            phash=int(str(data["phash"]), 16),
            embedding=_decode_embedding(str(data["embedding"])),
            thumbnail=thumbnail.reshape(THUMBNAIL_SIZE, THUMBNAIL_SIZE),
            keypoints=None if keypoints is None else np.asarray(keypoints, dtype=np.float32).reshape(5, 2),
            digest=data.get("digest"),
        )

    def compare(self, other: FrameFingerprint) -> Comparison:
        if self.embedding.shape != other.embedding.shape:
            # Fingerprints from a different recognition model cannot be compared.
            return Comparison(64, 0.0, 255.0, None)
        difference = float(np.mean(np.abs(self.thumbnail.astype(np.int16) - other.thumbnail.astype(np.int16))))
        shift: float | None = None
        if self.keypoints is not None and other.keypoints is not None:
            eyes = float(np.linalg.norm(other.keypoints[0] - other.keypoints[1]))
            if eyes > 0:
                shift = float(np.max(np.linalg.norm(self.keypoints - other.keypoints, axis=1)) / eyes)
        return Comparison(hamming_distance(self.phash, other.phash), float(np.dot(self.embedding, other.embedding)), difference, shift)

    def is_replay_of(
        self,
        other: FrameFingerprint,
        *,
        max_hash_distance: int,
        min_similarity: float,
        max_frame_difference: float,
        max_keypoint_shift: float,
    ) -> bool:
        if self.digest is not None and self.digest == other.digest:
            return True
        c = self.compare(other)
        if c.hash_distance > max_hash_distance or c.similarity < min_similarity or c.frame_difference > max_frame_difference:
            return False
        if c.keypoint_shift is None:
            # Old fingerprint without keypoints: only an (almost) pixel-identical frame counts.
            return c.frame_difference <= max_frame_difference / 3
        return c.keypoint_shift <= max_keypoint_shift


@dataclass(frozen=True)
class ReplayLimits:
    max_hash_distance: int
    min_similarity: float
    max_frame_difference: float
    max_keypoint_shift: float


class FingerprintSet:
    """Many fingerprints as arrays, so one frame is compared with all of them at once.

    Same rule as :meth:`FrameFingerprint.is_replay_of` (``tests/face`` checks both agree):
    a burst compared with itself and with 20 earlier attempts is thousands of pairs, which
    one at a time cost tens of milliseconds after the inference.
    """

    def __init__(self, fingerprints: Sequence[FrameFingerprint]) -> None:
        self.fingerprints = list(fingerprints)
        count = len(self.fingerprints)
        self.phash = np.array([f.phash for f in self.fingerprints], dtype=np.uint64)
        self.thumbnails = np.stack([np.asarray(f.thumbnail, dtype=np.int16).reshape(-1) for f in self.fingerprints]) if count else np.zeros((0, THUMBNAIL_SIZE * THUMBNAIL_SIZE), np.int16)
        dimension = self.fingerprints[0].embedding.shape[0] if count else 0
        self.embeddings = np.zeros((count, dimension), dtype=np.float32)
        self.keypoints = np.full((count, 5, 2), np.nan, dtype=np.float32)
        for index, fingerprint in enumerate(self.fingerprints):
            if fingerprint.embedding.shape == (dimension,):
                self.embeddings[index] = fingerprint.embedding
            if fingerprint.keypoints is not None:
                self.keypoints[index] = fingerprint.keypoints
        # Embeddings of another recognition model cannot be compared (as in compare()).
        self.comparable = np.array([f.embedding.shape == (dimension,) for f in self.fingerprints], dtype=bool)
        eyes = np.linalg.norm(self.keypoints[:, 0] - self.keypoints[:, 1], axis=1)
        self.eyes = np.where(np.isfinite(eyes) & (eyes > 0), eyes, np.nan)
        self.digests = [f.digest for f in self.fingerprints]

    def __len__(self) -> int:
        return len(self.fingerprints)

    def compare(self, frame: FrameFingerprint) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Hash distances, similarities, thumbnail differences and keypoint shifts (NaN: unknown) to every member."""
        count = len(self.fingerprints)
        if count == 0:
            empty = np.zeros(0)
            return empty.astype(int), empty, empty, empty
        distance = np.bitwise_count(self.phash ^ np.uint64(frame.phash)).astype(int)
        if frame.embedding.shape[0] == self.embeddings.shape[1]:
            similarity = self.embeddings @ np.asarray(frame.embedding, dtype=np.float32)
        else:
            similarity = np.zeros(count, dtype=np.float32)
        comparable = self.comparable & (frame.embedding.shape[0] == self.embeddings.shape[1])
        distance = np.where(comparable, distance, 64)
        similarity = np.where(comparable, similarity, 0.0)
        difference = np.abs(self.thumbnails - np.asarray(frame.thumbnail, dtype=np.int16).reshape(1, -1)).mean(axis=1)
        difference = np.where(comparable, difference, 255.0)
        if frame.keypoints is None:
            shift = np.full(count, np.nan)
        else:
            shift = np.max(np.linalg.norm(self.keypoints - np.asarray(frame.keypoints, dtype=np.float32), axis=2), axis=1) / self.eyes
        return distance, similarity, difference, shift

    def compare_all(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every member against every member: [copy, original] matrices as in :meth:`compare`."""
        distance = np.bitwise_count(self.phash[:, None] ^ self.phash[None, :]).astype(int)
        similarity = self.embeddings @ self.embeddings.T
        difference = np.abs(self.thumbnails[:, None, :] - self.thumbnails[None, :, :]).mean(axis=2)
        comparable = self.comparable[:, None] & self.comparable[None, :]
        shift = np.max(np.linalg.norm(self.keypoints[:, None] - self.keypoints[None, :], axis=3), axis=2) / self.eyes[None, :]
        return np.where(comparable, distance, 64), np.where(comparable, similarity, 0.0), np.where(comparable, difference, 255.0), shift

    def copies_within(self, limits: ReplayLimits) -> np.ndarray:
        """[copy, original] mask: member ``copy`` (later) repeats member ``original`` (earlier)."""
        distance, similarity, difference, shift = self.compare_all()
        mask = self._copies(distance, similarity, difference, shift, limits)
        digests = np.array([d if d is not None else f"\0{i}" for i, d in enumerate(self.digests)], dtype=object)
        mask |= digests[:, None] == digests[None, :]
        return np.tril(mask, k=-1)

    @staticmethod
    def _copies(distance: np.ndarray, similarity: np.ndarray, difference: np.ndarray, shift: np.ndarray, limits: ReplayLimits) -> np.ndarray:
        close = (distance <= limits.max_hash_distance) & (similarity >= limits.min_similarity) & (difference <= limits.max_frame_difference)
        known = np.isfinite(shift)
        copy: np.ndarray = close & np.where(known, np.nan_to_num(shift, nan=np.inf) <= limits.max_keypoint_shift, difference <= limits.max_frame_difference / 3)
        return copy

    def replays(self, frame: FrameFingerprint, limits: ReplayLimits) -> np.ndarray:
        """Mask of the members ``frame`` is a copy of."""
        copy = self._copies(*self.compare(frame), limits)
        if frame.digest is not None:
            copy |= np.array([digest == frame.digest for digest in self.digests], dtype=bool)
        return copy
