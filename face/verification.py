"""Combining per-frame analyses into a challenge verdict (pure logic, no models).

The frames are read as one sequence: the first frames are the person's own
neutral start (baseline), actions are events against it, the landmark motion
must not be that of a flat picture, the frames compared with the ID photo are
the ones closest to the person's neutral pose, and what the person is told
names the real cause (``guidance`` codes, mapped to words by the server).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .analyzer import (
    BLURRY,
    FACE_TOO_SMALL,
    STATUS_MULTIPLE_FACES,
    TOO_BRIGHT,
    TOO_CLOSE,
    TOO_DARK,
    FaceObservation,
    FrameAnalysis,
)
from .challenge import DEPTH_ACTIONS, Action, Challenge, FrameSignals, baseline_window, detect_actions
from .config import FaceConfig
from .fingerprint import FingerprintSet, FrameFingerprint, ReplayLimits
from .motion import sequence_motion
from .result import Decision, ReasonCode, Scores, VerificationResult, decide, match_decision

# Guidance codes (what the person should do), most useful first.
GUIDE_FACE_IN_FRAME = "face_in_frame"
GUIDE_ONE_PERSON = "one_person"
GUIDE_MOVE_CLOSER = "move_closer"
GUIDE_MOVE_BACK = "move_back"
GUIDE_MORE_LIGHT = "more_light"
GUIDE_LESS_LIGHT = "less_light"
GUIDE_HOLD_STEADY = "hold_steady"
GUIDE_EYE_LEVEL = "eye_level"
GUIDE_FACE_CAMERA = "face_camera"
GUIDE_REAL_FACE = "real_face"
GUIDE_ACTION_PREFIX = "do_"

_ISSUE_GUIDANCE = {
    FACE_TOO_SMALL: GUIDE_MOVE_CLOSER,
    TOO_CLOSE: GUIDE_MOVE_BACK,
    TOO_DARK: GUIDE_MORE_LIGHT,
    TOO_BRIGHT: GUIDE_LESS_LIGHT,
    BLURRY: GUIDE_HOLD_STEADY,
}


def _pose(face: FaceObservation) -> tuple[float, float]:
    return (face.pose.yaw, face.pose.pitch) if face.pose is not None else (0.0, 0.0)


def select_evidence(
    analyses: Sequence[FrameAnalysis],
    config: FaceConfig,
    avoid: set[int] | None = None,
    neutral_pose: tuple[float, float] | None = None,
) -> list[int]:
    """Best frames to compare with the references.

    Pose is judged relative to the person's own neutral pose: a phone held
    below the eyes reads 20-25 degrees of pitch for someone looking straight
    at it, and their ID photo was taken the same way as anyone else's. Frames
    showing an action only as a last resort.
    """
    avoid = avoid or set()
    usable = [i for i, a in enumerate(analyses) if a.usable and a.face is not None]
    if not usable:
        return []

    def change(index: int) -> float:
        if neutral_pose is None:
            return 0.0
        yaw, pitch = _pose(analyses[index].face)  # type: ignore[arg-type]
        return max(abs(yaw - neutral_pose[0]), abs(pitch - neutral_pose[1]))

    def within_limits(index: int) -> bool:
        yaw, pitch = _pose(analyses[index].face)  # type: ignore[arg-type]
        return abs(yaw) <= config.evidence_max_abs_yaw_deg and abs(pitch) <= config.evidence_max_abs_pitch_deg

    candidates = [i for i in usable if change(i) <= config.evidence_max_pose_change_deg and within_limits(i)]
    preferred = [i for i in candidates if i not in avoid] or candidates
    ranked = sorted(preferred, key=lambda i: analyses[i].face.quality_score(config) * (1.0 - change(i) / 90.0), reverse=True)  # type: ignore[union-attr]
    return ranked[: config.evidence_frames]


def find_replays(
    observations: dict[int, FaceObservation],
    earlier: Sequence[FrameFingerprint] | FingerprintSet,
    config: FaceConfig,
) -> list[dict[str, object]]:
    """Frames that are copies of another frame of this attempt or of an earlier attempt.

    Every frame is compared with all others (and with every earlier fingerprint) at once,
    as arrays (:class:`face.fingerprint.FingerprintSet`).
    """
    hits: list[dict[str, object]] = []
    within = ReplayLimits(config.replay_phash_max_distance, config.replay_min_similarity, config.replay_within_max_difference, config.replay_max_keypoint_shift)
    across = ReplayLimits(config.replay_phash_max_distance, config.replay_min_similarity, config.replay_across_max_difference, config.replay_max_keypoint_shift)
    indexes = sorted(observations)
    frames = FingerprintSet([observations[i].fingerprint for i in indexes])
    previous = earlier if isinstance(earlier, FingerprintSet) else FingerprintSet(earlier)

    def describe(compared: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], at: int) -> dict[str, object]:
        distance, similarity, difference, shift = compared
        return {
            "hash_distance": int(distance[at]),
            "similarity": round(float(similarity[at]), 5),
            "frame_difference": round(float(difference[at]), 2),
            "keypoint_shift": None if not np.isfinite(shift[at]) else round(float(shift[at]), 4),
        }

    if len(frames) > 1:
        # Copies of an earlier frame of this attempt (the first occurrence is the original).
        within_copies = frames.copies_within(within)
        if within_copies.any():
            compared = frames.compare_all()
            for copy, original in zip(*(axis.tolist() for axis in np.nonzero(within_copies)), strict=True):
                hits.append({"frame": indexes[copy], "duplicate_of_frame": indexes[original], **describe((compared[0][copy], compared[1][copy], compared[2][copy], compared[3][copy]), original)})
    if len(previous):
        for index in indexes:
            fingerprint = observations[index].fingerprint
            mask = previous.replays(fingerprint, across)
            if mask.any():
                compared = previous.compare(fingerprint)
                hits.extend({"frame": index, "duplicate_of_earlier": int(at), **describe(compared, at)} for at in (int(i) for i in np.flatnonzero(mask)))
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
    earlier_fingerprints: Sequence[FrameFingerprint] | FingerprintSet,
    config: FaceConfig,
    model_pack: str = "",
) -> VerificationResult:
    reasons: list[ReasonCode] = []
    guidance: list[str] = []

    def add(reason: ReasonCode) -> None:
        if reason not in reasons:
            reasons.append(reason)

    def guide(code: str) -> None:
        if code not in guidance:
            guidance.append(code)

    with_face = {i: a.face for i, a in enumerate(analyses) if a.face is not None}
    usable = {i: a.face for i, a in enumerate(analyses) if a.usable and a.face is not None}
    # A burst may lose a frame or two to a blink-time blur or a hand passing
    # by; the attempt needs a face in most frames, not in every one.
    if len(with_face) * 2 < len(analyses) or not with_face:
        add(ReasonCode.NO_FACE)
        guide(GUIDE_FACE_IN_FRAME)
    if any(a.status == STATUS_MULTIPLE_FACES for a in analyses):
        add(ReasonCode.MULTIPLE_FACES)
        guide(GUIDE_ONE_PERSON)
    issue_counts: dict[str, int] = {}
    for face in with_face.values():
        for issue in face.issues:
            issue_counts[issue] = issue_counts.get(issue, 0) + 1

    # Actions: every frame with landmarks counts (a blink is often a blurred frame).
    tracked = [i for i in sorted(with_face) if with_face[i].landmarks is not None]
    signals: list[FrameSignals] = []
    if tracked:
        window = baseline_window(len(tracked))
        # The plane reference is the calmest start frame: the one closest to the
        # start's median pose (the person may already be moving in the last one).
        start_poses = np.array([_pose(with_face[tracked[p]]) for p in range(window)])
        median_pose = np.median(start_poses, axis=0)
        base_position = int(np.argmin(np.abs(start_poses - median_pose).sum(axis=1)))
        motions = sequence_motion([with_face[i].landmarks for i in tracked], base_position)  # type: ignore[misc]
        for i, motion in zip(tracked, motions):
            face = with_face[i]
            yaw, pitch = _pose(face)
            if motion is None:
                signals.append(FrameSignals(float(face.eye_aspect_ratio or 0.0), float(face.mouth_aspect_ratio or 0.0), yaw, pitch))
            else:
                signals.append(FrameSignals(motion.eye_aspect_ratio, motion.mouth_aspect_ratio, yaw, pitch, motion.parallax_x, motion.parallax_y, motion.mouth_width, motion.lip_gap))
    report = detect_actions(signals, challenge, config)
    # Translate positions among tracked frames back to submitted frame indexes.
    matched = {k: (tracked[v] if v is not None else None) for k, v in report.matched_frames.items()}
    active = {k: [tracked[v] for v in frames] for k, frames in report.active_frames.items()}
    if report.missing:
        add(ReasonCode.ACTION_MISSING)
        for action in report.missing:
            guide(GUIDE_ACTION_PREFIX + action)
    if report.out_of_order:
        add(ReasonCode.ACTION_ORDER)
        for action in report.out_of_order:
            guide(GUIDE_ACTION_PREFIX + action)
    # The head "turned" or "nodded" but nothing stood out of the face plane:
    # a picture moved in front of the camera.
    depth_requested = any(a in DEPTH_ACTIONS for a in challenge.actions)
    depth_missing = any(Action(a) in DEPTH_ACTIONS for a in report.missing + report.out_of_order)
    # Only a clear pose change (1.5x the action threshold) with hardly any parallax
    # counts: a person who turned too little is told to turn, not called a fake.
    flat = (
        bool(report.flat_motion_frames)
        and report.max_pose_change >= 1.5 * min(config.turn_yaw_deg, config.nod_pitch_deg)
        and (report.max_parallax or 0.0) < 0.5 * config.min_parallax
    )
    if depth_requested and depth_missing and flat:
        add(ReasonCode.SPOOF_SUSPECTED)
        guide(GUIDE_REAL_FACE)

    # Evidence: frames near the person's own neutral pose.
    neutral = (report.baseline["yaw"], report.baseline["pitch"]) if report.baseline else None
    avoid = {i for frames in active.values() for i in frames}
    evidence = select_evidence(analyses, config, avoid, neutral)
    consistency: float | None = None
    if evidence and len(usable) > 1:
        anchor = usable[evidence[0]].embedding
        consistency = min(float(np.dot(anchor, face.embedding)) for face in usable.values())
        if consistency < config.min_identity_consistency:
            add(ReasonCode.IDENTITY_CHANGED)
    if not evidence and with_face:
        add(ReasonCode.LOW_QUALITY)
    if not evidence or ReasonCode.NO_FACE in reasons:
        # Name the real cause: the most frequent defect of the frames.
        for issue, _ in sorted(issue_counts.items(), key=lambda item: -item[1]):
            if issue in _ISSUE_GUIDANCE:
                guide(_ISSUE_GUIDANCE[issue])
    if neutral is not None and (abs(neutral[1]) > config.evidence_max_abs_pitch_deg * 0.75):
        guide(GUIDE_EYE_LEVEL)
    if neutral is not None and (abs(neutral[0]) > config.evidence_max_abs_yaw_deg * 0.75):
        guide(GUIDE_FACE_CAMERA)
    if not evidence and with_face and not guidance:
        guide(GUIDE_FACE_CAMERA)

    replays = find_replays(with_face, earlier_fingerprints, config)
    if replays:
        add(ReasonCode.REPLAY)

    passive: float | None = None
    spoof_scores = [face.antispoof_score for face in usable.values() if face.antispoof_score is not None]
    if spoof_scores:
        passive = float(np.median(spoof_scores))
        if passive < config.antispoof_threshold:
            add(ReasonCode.SPOOF_SUSPECTED)
            guide(GUIDE_REAL_FACE)

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
    for position, i in enumerate(tracked):
        signal = signals[position]
        frames[i]["parallax"] = None if signal.parallax_x is None else [round(signal.parallax_x, 4), round(signal.parallax_y or 0.0, 4)]
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
            "flat_motion_frames": [tracked[i] for i in report.flat_motion_frames],
            "max_parallax": None if report.max_parallax is None else round(report.max_parallax, 4),
            "replays": replays,
        },
        model_pack=model_pack,
        guidance=guidance,
    )


__all__ = ["Decision", "evaluate_challenge", "select_evidence", "find_replays", "best_similarities"]
