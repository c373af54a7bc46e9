"""Combining per-frame analyses into a challenge verdict (pure logic, no models)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .analyzer import STATUS_LOW_QUALITY, STATUS_MULTIPLE_FACES, STATUS_NO_FACE, FaceObservation, FrameAnalysis
from .challenge import Action, Challenge, FrameSignals, detect_actions
from .config import FaceConfig
from .fingerprint import Comparison, FrameFingerprint
from .result import Decision, ReasonCode, Scores, VerificationResult, decide, match_decision

_FRAME_STATUS_REASON = {
    STATUS_NO_FACE: ReasonCode.NO_FACE,
    STATUS_MULTIPLE_FACES: ReasonCode.MULTIPLE_FACES,
    STATUS_LOW_QUALITY: ReasonCode.LOW_QUALITY,
}


def select_evidence(
    analyses: Sequence[FrameAnalysis], config: FaceConfig, avoid: set[int] | None = None
) -> list[int]:
    """Best frontal frames; frames showing a blink or open mouth only as a last resort."""
    avoid = avoid or set()
    candidates = [
        index
        for index, analysis in enumerate(analyses)
        if analysis.usable and analysis.face is not None and analysis.face.is_frontal(config)
    ]
    preferred = [i for i in candidates if i not in avoid] or candidates
    ranked = sorted(preferred, key=lambda i: analyses[i].face.quality_score(config), reverse=True)  # type: ignore[union-attr]
    return ranked[: config.evidence_frames]


def find_replays(
    observations: dict[int, FaceObservation],
    earlier: Sequence[FrameFingerprint],
    config: FaceConfig,
) -> list[dict[str, object]]:
    hits: list[dict[str, object]] = []
    limits = {
        "max_hash_distance": config.replay_phash_max_distance,
        "near_identical_similarity": config.replay_embedding_similarity,
        "same_frame_similarity": config.replay_same_frame_similarity,
        "same_frame_max_difference": config.replay_frame_max_difference,
    }

    def describe(comparison: Comparison) -> dict[str, object]:
        return {
            "hash_distance": comparison.hash_distance,
            "similarity": round(comparison.similarity, 5),
            "frame_difference": round(comparison.frame_difference, 2),
        }

    indexes = sorted(observations)
    for position, first in enumerate(indexes):
        fingerprint = observations[first].fingerprint
        for second in indexes[position + 1 :]:
            other = observations[second].fingerprint
            if other.is_replay_of(fingerprint, **limits):
                hits.append({"frame": second, "duplicate_of_frame": first, **describe(other.compare(fingerprint))})
        for earlier_index, old in enumerate(earlier):
            if fingerprint.is_replay_of(old, **limits):
                hits.append({"frame": first, "duplicate_of_earlier": earlier_index, **describe(fingerprint.compare(old))})
    return hits


def best_similarities(evidence: Sequence[np.ndarray], references: Sequence[np.ndarray | None]) -> list[float | None]:
    """Per reference: the best similarity over all evidence frames."""
    scores: list[float | None] = []
    for reference in references:
        if reference is None or not evidence:
            scores.append(None)
            continue
        scores.append(max(float(np.dot(e, reference)) for e in evidence))
    return scores


def evaluate_challenge(
    analyses: Sequence[FrameAnalysis],
    challenge: Challenge,
    reference_embeddings: Sequence[np.ndarray | None],
    earlier_fingerprints: Sequence[FrameFingerprint],
    config: FaceConfig,
    model_pack: str = "",
) -> VerificationResult:
    reasons: list[ReasonCode] = []

    def add(reason: ReasonCode) -> None:
        if reason not in reasons:
            reasons.append(reason)

    for analysis in analyses:
        if analysis.status in _FRAME_STATUS_REASON:
            add(_FRAME_STATUS_REASON[analysis.status])

    usable = {i: a.face for i, a in enumerate(analyses) if a.usable and a.face is not None}
    with_face = {i: a.face for i, a in enumerate(analyses) if a.face is not None}

    # Actions, read from the usable frames in submission order.
    usable_indexes = sorted(usable)
    signals = [
        FrameSignals(
            eye_aspect_ratio=float(usable[i].eye_aspect_ratio or 0.0),
            mouth_aspect_ratio=float(usable[i].mouth_aspect_ratio or 0.0),
            yaw=usable[i].pose.yaw if usable[i].pose else 0.0,
            pitch=usable[i].pose.pitch if usable[i].pose else 0.0,
        )
        for i in usable_indexes
    ]
    report = detect_actions(signals, challenge, config)
    # Translate positions among usable frames back to submitted frame indexes.
    matched = {k: (usable_indexes[v] if v is not None else None) for k, v in report.matched_frames.items()}
    active = {k: [usable_indexes[v] for v in frames] for k, frames in report.active_frames.items()}
    if report.missing:
        add(ReasonCode.ACTION_MISSING)
    if report.out_of_order:
        add(ReasonCode.ACTION_ORDER)

    # Evidence and identity consistency.
    avoid = set(active.get(Action.BLINK.value, [])) | set(active.get(Action.OPEN_MOUTH.value, []))
    evidence = select_evidence(analyses, config, avoid)
    consistency: float | None = None
    if evidence and len(usable) > 1:
        anchor = usable[evidence[0]].embedding
        consistency = min(float(np.dot(anchor, face.embedding)) for face in usable.values())
        if consistency < config.min_identity_consistency:
            add(ReasonCode.IDENTITY_CHANGED)
    if not evidence and usable:
        # No frame frontal enough to compare with the ID photo.
        add(ReasonCode.LOW_QUALITY)

    replays = find_replays(with_face, earlier_fingerprints, config)
    if replays:
        add(ReasonCode.REPLAY)

    passive: float | None = None
    spoof_scores = [face.antispoof_score for face in usable.values() if face.antispoof_score is not None]
    if spoof_scores:
        passive = min(spoof_scores)
        if passive < config.antispoof_threshold:
            add(ReasonCode.SPOOF_SUSPECTED)

    evidence_embeddings = [usable[i].embedding for i in evidence]
    per_reference = best_similarities(evidence_embeddings, reference_embeddings)
    known = [s for s in per_reference if s is not None]
    best = max(known) if known else None
    if evidence:
        _, match_reason = match_decision(best, config.match_pass_threshold, config.match_fail_threshold)
        if match_reason is not None:
            add(match_reason)

    scores = Scores(
        frame_quality=[a.face.quality_score(config) if a.face is not None else None for a in analyses],
        consistency=consistency,
        best_similarity=best,
        reference_similarities=per_reference,
        passive_score=passive,
    )
    frames = [
        {"index": i, "status": a.status, "faces": a.faces_detected, **(a.face.summary(config) if a.face else {})}
        for i, a in enumerate(analyses)
    ]
    return VerificationResult(
        decision=decide(reasons),
        reasons=reasons,
        scores=scores,
        evidence_frames=evidence,
        evidence_embeddings=evidence_embeddings,
        fingerprints=[a.face.fingerprint if a.face is not None else None for a in analyses],
        frames=frames,
        actions={
            "challenge": challenge.to_list(),
            "matched_frames": matched,
            "active_frames": active,
            "missing": report.missing,
            "out_of_order": report.out_of_order,
            "baseline": {k: round(v, 4) for k, v in report.baseline.items()},
            "replays": replays,
        },
        model_pack=model_pack,
    )


__all__ = ["Decision", "evaluate_challenge", "select_evidence", "find_replays", "best_similarities"]
