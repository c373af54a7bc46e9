"""Decision, reason codes and the JSON-serialisable verification result."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .fingerprint import FrameFingerprint


class Decision(str, enum.Enum):
    PASS = "pass"
    REVIEW = "review"
    FAIL = "fail"


class ReasonCode(str, enum.Enum):
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    LOW_QUALITY = "low_quality"
    ACTION_MISSING = "action_missing"
    ACTION_ORDER = "action_order"
    IDENTITY_CHANGED = "identity_changed"
    REPLAY = "replay"
    # Issued by the server (challenge nonce too old); never produced here.
    NONCE_EXPIRED = "nonce_expired"
    SPOOF_SUSPECTED = "spoof_suspected"
    NO_MATCH = "no_match"
    WEAK_MATCH = "weak_match"
    # No reference yielded a face (e.g. unreadable ID photo): staff must look.
    REFERENCE_UNUSABLE = "reference_unusable"


# Reasons that only lower a pass to review; every other reason fails.
REVIEW_REASONS = frozenset({ReasonCode.WEAK_MATCH, ReasonCode.REFERENCE_UNUSABLE})


def decide(reasons: list[ReasonCode]) -> Decision:
    if any(reason not in REVIEW_REASONS for reason in reasons):
        return Decision.FAIL
    if reasons:
        return Decision.REVIEW
    return Decision.PASS


def match_decision(similarity: float | None, pass_threshold: float, fail_threshold: float) -> tuple[Decision, ReasonCode | None]:
    if similarity is None:
        return Decision.REVIEW, ReasonCode.REFERENCE_UNUSABLE
    if similarity >= pass_threshold:
        return Decision.PASS, None
    if similarity < fail_threshold:
        return Decision.FAIL, ReasonCode.NO_MATCH
    return Decision.REVIEW, ReasonCode.WEAK_MATCH


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass
class Scores:
    frame_quality: list[float | None] = field(default_factory=list)
    # Lowest similarity of any usable frame to the best evidence frame.
    consistency: float | None = None
    best_similarity: float | None = None
    reference_similarities: list[float | None] = field(default_factory=list)
    # Lowest live probability over usable frames; None without an anti-spoof model.
    passive_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame_quality": [_round(v) for v in self.frame_quality],
            "consistency": _round(self.consistency),
            "best_similarity": _round(self.best_similarity),
            "reference_similarities": [_round(v) for v in self.reference_similarities],
            "passive_score": _round(self.passive_score),
        }


@dataclass
class VerificationResult:
    decision: Decision
    reasons: list[ReasonCode]
    scores: Scores
    # Indexes into the submitted frames that were compared with the references.
    evidence_frames: list[int]
    # Embeddings of those frames; store them as future references on a pass.
    evidence_embeddings: list[np.ndarray]
    # One per submitted frame (None where no face was found); store them all so
    # a later attempt that replays these frames is caught.
    fingerprints: list[FrameFingerprint | None]
    frames: list[dict[str, Any]] = field(default_factory=list)
    actions: dict[str, Any] = field(default_factory=dict)
    model_pack: str = ""
    # What the person should do next (codes such as "move_closer", "eye_level",
    # "do_blink"); the server turns them into words.
    guidance: list[str] = field(default_factory=list)
    # Per reference: its embedding when it was given as an image and a face was found
    # (None otherwise). Store it so the next attempt skips the reference's inference.
    reference_embeddings: list[np.ndarray | None] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.decision is Decision.PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "reasons": [reason.value for reason in self.reasons],
            "scores": self.scores.to_dict(),
            "evidence_frames": list(self.evidence_frames),
            "evidence_embeddings": [[round(float(x), 6) for x in e] for e in self.evidence_embeddings],
            "fingerprints": [None if f is None else f.to_dict() for f in self.fingerprints],
            "frames": self.frames,
            "actions": self.actions,
            "model_pack": self.model_pack,
            "guidance": list(self.guidance),
            "reference_embeddings": [None if e is None else [round(float(x), 6) for x in e] for e in self.reference_embeddings],
        }


@dataclass
class ReferenceEmbedding:
    """A reference face ready for matching; store ``embedding`` to skip re-detection."""

    embedding: np.ndarray
    face: dict[str, Any]
    model_pack: str

    def to_dict(self) -> dict[str, Any]:
        return {"embedding": [round(float(x), 6) for x in self.embedding], "face": self.face, "model_pack": self.model_pack}


@dataclass
class MatchResult:
    similarity: float | None
    decision: Decision
    reasons: list[ReasonCode]
    reference_face: dict[str, Any] | None
    probe_face: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "similarity": _round(self.similarity),
            "decision": self.decision.value,
            "reasons": [r.value for r in self.reasons],
            "reference_face": self.reference_face,
            "probe_face": self.probe_face,
        }
