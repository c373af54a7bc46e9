"""Async facade: one executor for all inference, so the event loop never blocks."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from .analyzer import FaceAnalyzer, FrameAnalysis
from .challenge import Challenge
from .config import FaceConfig
from .decode import decode_image
from .errors import EngineClosedError, FaceError, ImageError
from .fingerprint import FingerprintSet, FrameFingerprint
from .packs import ModelPack
from .result import Decision, MatchResult, ReasonCode, ReferenceEmbedding, VerificationResult, match_decision
from .verification import evaluate_challenge

T = TypeVar("T")
EXECUTOR_THREAD_PREFIX = "face-inference"
Reference = bytes | np.ndarray | Sequence[float] | ReferenceEmbedding


class InvalidRequestError(FaceError):
    code = "invalid_request"


class FrameImageError(ImageError):
    """An image error tagged with the position of the offending frame."""

    def __init__(self, error: ImageError, frame_index: int) -> None:
        super().__init__(f"frame {frame_index}: {error}", code=error.code)
        self.frame_index = frame_index


def _with_reference_embeddings(result: VerificationResult, references: Sequence[Reference], embeddings: Sequence[ReferenceEmbedding | None]) -> VerificationResult:
    """References given as images were analysed with the frames (in parallel): hand their embeddings back."""
    result.reference_embeddings = [
        embedding.embedding if embedding is not None and isinstance(reference, (bytes, bytearray, memoryview)) else None
        for reference, embedding in zip(references, embeddings, strict=True)
    ]
    return result


class FaceEngine:
    """Owns the models and the inference executor.

    Create once per process, call :meth:`start` (or :meth:`load`) at start-up,
    :meth:`close` at shutdown. All ``async`` methods are safe to call
    concurrently; concurrency is bounded by ``config.executor_workers``.
    """

    def __init__(self, config: FaceConfig | None = None, pack: ModelPack | None = None) -> None:
        self.config = config or FaceConfig()
        self._pack = pack
        self._analyzer: FaceAnalyzer | None = None
        self._executor = ThreadPoolExecutor(max_workers=self.config.executor_workers, thread_name_prefix=EXECUTOR_THREAD_PREFIX)
        self._load_lock = threading.Lock()
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------

    @property
    def executor(self) -> ThreadPoolExecutor:
        return self._executor

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            self.load()
        assert self._analyzer is not None
        return self._analyzer

    @property
    def pack_name(self) -> str:
        return self.analyzer.pack.name

    def load(self, warm_up: bool = True) -> None:
        """Verify the pack hashes, build the sessions, run each graph once (blocking)."""
        with self._load_lock:
            if self._analyzer is not None:
                return
            analyzer = FaceAnalyzer(self.config, self._pack)
            analyzer.load()
            if warm_up:
                analyzer.warm_up()
            self._analyzer = analyzer

    async def start(self) -> None:
        """Async start-up hook: loading takes ~1 s, so it runs on the executor too."""
        await self.run(self.load)

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work on the inference executor."""
        if self._closed:
            raise EngineClosedError("face engine is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs))

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)

    # -- blocking building blocks (also used by CLI, calibration, benchmark) --------------

    def decode(self, data: bytes) -> np.ndarray:
        return decode_image(data, max_pixels=self.config.max_image_pixels, max_bytes=self.config.max_image_bytes)

    def analyze_frame_bytes(self, data: bytes, index: int = 0) -> FrameAnalysis:
        try:
            image = self.decode(data)
        except ImageError as error:
            raise FrameImageError(error, index) from error
        analysis = self.analyzer.analyze_frame(image)
        if analysis.face is not None:
            # The exact bytes: the same upload sent again is a replay whatever it shows.
            analysis.face.fingerprint = dataclasses.replace(analysis.face.fingerprint, digest=hashlib.sha256(data).hexdigest())
        return analysis

    def reference_embedding_sync(self, reference: Reference) -> ReferenceEmbedding | None:
        if isinstance(reference, ReferenceEmbedding):
            return reference
        if isinstance(reference, (bytes, bytearray, memoryview)):
            analysis = self.analyzer.analyze_reference(self.decode(bytes(reference)))
            if analysis.face is None:
                return None
            return ReferenceEmbedding(analysis.face.embedding, analysis.face.summary(self.config), self.pack_name)
        vector = np.asarray(reference, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.analyzer.recognizer.embedding_size:
            raise InvalidRequestError(
                f"reference embedding has {vector.shape[0]} values, the recognition model produces "
                f"{self.analyzer.recognizer.embedding_size}"
            )
        norm = float(np.linalg.norm(vector))
        if norm == 0.0 or not np.isfinite(norm):
            raise InvalidRequestError("reference embedding is zero or not finite")
        return ReferenceEmbedding(vector / norm, {}, self.pack_name)

    def check_frames(self, frames: Sequence[bytes]) -> None:
        if not self.config.min_frames <= len(frames) <= self.config.max_frames:
            raise InvalidRequestError(f"expected {self.config.min_frames}-{self.config.max_frames} frames, got {len(frames)}")

    def verify_challenge_sync(
        self,
        frames: Sequence[bytes],
        challenge: Challenge,
        references: Sequence[Reference],
        earlier_fingerprints: Sequence[FrameFingerprint | Mapping[str, Any]] = (),
    ) -> VerificationResult:
        self.check_frames(frames)
        if not references:
            raise InvalidRequestError("at least one reference is required")
        analyses = [self.analyze_frame_bytes(frame, index) for index, frame in enumerate(frames)]
        embeddings = [self.reference_embedding_sync(reference) for reference in references]
        return _with_reference_embeddings(self._evaluate(analyses, challenge, embeddings, earlier_fingerprints), references, embeddings)

    @staticmethod
    def earlier_set(earlier_fingerprints: Sequence[FrameFingerprint | Mapping[str, Any]]) -> FingerprintSet:
        """Stored fingerprints of earlier attempts, parsed and stacked for comparison."""
        return FingerprintSet([f if isinstance(f, FrameFingerprint) else FrameFingerprint.from_dict(f) for f in earlier_fingerprints])

    def _evaluate(
        self,
        analyses: Sequence[FrameAnalysis],
        challenge: Challenge,
        references: Sequence[ReferenceEmbedding | None],
        earlier_fingerprints: Sequence[FrameFingerprint | Mapping[str, Any]] | FingerprintSet,
    ) -> VerificationResult:
        earlier = earlier_fingerprints if isinstance(earlier_fingerprints, FingerprintSet) else self.earlier_set(earlier_fingerprints)
        return evaluate_challenge(
            analyses,
            challenge,
            [r.embedding if r is not None else None for r in references],
            earlier,
            self.config,
            model_pack=self.pack_name,
        )

    def match_sync(self, reference: bytes, probe: bytes) -> MatchResult:
        """1:1 comparison of a reference portrait with one probe photo."""
        reference_embedding = self.reference_embedding_sync(reference)
        probe_analysis = self.analyzer.analyze_frame(self.decode(probe))
        if probe_analysis.face is None:
            return MatchResult(None, Decision.FAIL, [ReasonCode.NO_FACE], None if reference_embedding is None else reference_embedding.face, None)
        reasons: list[ReasonCode] = []
        similarity: float | None = None
        if reference_embedding is not None:
            similarity = float(np.dot(reference_embedding.embedding, probe_analysis.face.embedding))
        decision, reason = match_decision(similarity, self.config.match_pass_threshold, self.config.match_fail_threshold)
        if reason is not None:
            reasons.append(reason)
        if probe_analysis.status == "multiple_faces":
            reasons.append(ReasonCode.MULTIPLE_FACES)
            decision = Decision.FAIL
        return MatchResult(
            similarity,
            decision,
            reasons,
            None if reference_embedding is None else reference_embedding.face,
            probe_analysis.face.summary(self.config),
        )

    def check_image_sync(self, data: bytes) -> dict[str, Any]:
        image = self.decode(data)
        analysis = self.analyzer.analyze_frame(image)
        return {
            "status": analysis.status,
            "faces_detected": analysis.faces_detected,
            "image": {"width": int(image.shape[1]), "height": int(image.shape[0])},
            "face": None if analysis.face is None else analysis.face.summary(self.config),
        }

    # -- async API -------------------------------------------------------------------------

    async def verify_challenge(
        self,
        frames: Sequence[bytes],
        challenge: Challenge,
        references: Sequence[Reference],
        earlier_fingerprints: Sequence[FrameFingerprint | Mapping[str, Any]] = (),
    ) -> VerificationResult:
        """Liveness challenge + identity match. Raises InvalidRequestError, FrameImageError.

        Frames are analysed concurrently on the executor (never a task waiting
        on another task inside the pool, so it cannot deadlock when saturated).
        """
        self.check_frames(frames)
        if not references:
            raise InvalidRequestError("at least one reference is required")
        frame_jobs = [self.run(self.analyze_frame_bytes, frame, index) for index, frame in enumerate(frames)]
        reference_jobs = [self.run(self.reference_embedding_sync, reference) for reference in references]
        # Parsing earlier attempts' fingerprints overlaps with the frames' inference.
        earlier_job = self.run(self.earlier_set, earlier_fingerprints)
        analyses, embeddings, earlier = await asyncio.gather(asyncio.gather(*frame_jobs), asyncio.gather(*reference_jobs), earlier_job)
        result = await self.run(self._evaluate, analyses, challenge, embeddings, earlier)
        return _with_reference_embeddings(result, references, embeddings)

    async def embed_reference(self, image_bytes: bytes) -> ReferenceEmbedding | None:
        """Embedding of a reference portrait (ID photo is upscaled/padded); None if no face."""
        return await self.run(self.reference_embedding_sync, image_bytes)

    async def check_image(self, image_bytes: bytes) -> dict[str, Any]:
        """Detection and quality report for one image (for upload-time feedback)."""
        return await self.run(self.check_image_sync, image_bytes)

    async def match(self, reference: bytes, probe: bytes) -> MatchResult:
        return await self.run(self.match_sync, reference, probe)
