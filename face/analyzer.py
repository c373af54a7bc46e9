"""Synchronous per-image pipeline: detect, landmarks, quality, embedding.

Everything here is blocking and CPU-bound; :class:`face.engine.FaceEngine`
runs it on its executor. The CLI, calibration and benchmark call the same
functions, so what they measure is what the server runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .config import FaceConfig
from .fingerprint import FrameFingerprint, frame_thumbnail, perceptual_hash
from .geometry import align_face, box_size
from .inference import AntiSpoofModel, DetectedFace, FaceDetector, FaceRecognizer, LandmarkModel, SessionSettings
from .inference.minifasnet import MiniFASNet
from .landmarks106 import HeadPose, eye_aspect_ratio, head_pose, mouth_aspect_ratio
from .packs import ModelPack, load_pack, verify_file
from .quality import brightness, sharpness

# Quality issue codes (finer than the ReasonCode low_quality, for UI hints).
FACE_TOO_SMALL = "face_too_small"
BLURRY = "blurry"
TOO_DARK = "too_dark"
TOO_BRIGHT = "too_bright"
POSE_OUT_OF_RANGE = "pose_out_of_range"
# The face was found only after padding the frame: the phone is too close.
TOO_CLOSE = "too_close"

STATUS_OK = "ok"
STATUS_NO_FACE = "no_face"
STATUS_MULTIPLE_FACES = "multiple_faces"
STATUS_LOW_QUALITY = "low_quality"


@dataclass
class FaceObservation:
    bbox: np.ndarray
    detection_score: float
    keypoints: np.ndarray
    landmarks: np.ndarray | None
    pose: HeadPose | None
    eye_aspect_ratio: float | None
    mouth_aspect_ratio: float | None
    face_size: float
    sharpness: float
    brightness: float
    embedding: np.ndarray
    fingerprint: FrameFingerprint
    antispoof_score: float | None = None
    issues: list[str] = field(default_factory=list)

    def is_frontal(self, config: FaceConfig) -> bool:
        if self.pose is None:
            return True
        return abs(self.pose.yaw) <= config.evidence_max_abs_yaw_deg and abs(self.pose.pitch) <= config.evidence_max_abs_pitch_deg

    def quality_score(self, config: FaceConfig) -> float:
        """0..1 ranking score: sharp, large, frontal faces make the best evidence."""
        sharp = min(1.0, self.sharpness / (4.0 * config.min_sharpness)) if config.min_sharpness > 0 else 1.0
        size = min(1.0, self.face_size / (2.0 * config.min_face_size_px))
        frontal = 1.0
        if self.pose is not None:
            frontal = max(0.0, 1.0 - abs(self.pose.yaw) / 90.0) * max(0.0, 1.0 - abs(self.pose.pitch) / 90.0)
        return float(sharp * size * frontal)

    def summary(self, config: FaceConfig) -> dict[str, object]:
        return {
            "bbox": [round(float(v), 1) for v in self.bbox],
            "detection_score": round(self.detection_score, 4),
            "face_size": round(self.face_size, 1),
            "sharpness": round(self.sharpness, 1),
            "brightness": round(self.brightness, 1),
            "yaw": None if self.pose is None else round(self.pose.yaw, 1),
            "pitch": None if self.pose is None else round(self.pose.pitch, 1),
            "roll": None if self.pose is None else round(self.pose.roll, 1),
            "eye_aspect_ratio": None if self.eye_aspect_ratio is None else round(self.eye_aspect_ratio, 4),
            "mouth_aspect_ratio": None if self.mouth_aspect_ratio is None else round(self.mouth_aspect_ratio, 4),
            "quality_score": round(self.quality_score(config), 4),
            "antispoof_score": None if self.antispoof_score is None else round(self.antispoof_score, 4),
            "issues": list(self.issues),
        }


@dataclass
class FrameAnalysis:
    status: str
    faces_detected: int
    face: FaceObservation | None

    @property
    def usable(self) -> bool:
        return self.status == STATUS_OK


def prepare_reference_image(image: np.ndarray, min_side: int) -> np.ndarray:
    """Make small, tightly cropped portraits (ID-card chip photos) detectable.

    The chip photo is 102x126 with the face filling most of it: the detector,
    trained on scenes, misses faces that touch the border or are tiny after
    its letterboxing, so upscale first and then pad with neutral grey.
    """
    height, width = image.shape[:2]
    if min(height, width) < min_side:
        scale = min_side / min(height, width)
        image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_CUBIC)
        height, width = image.shape[:2]
    pad_y, pad_x = height // 2, width // 2
    return cv2.copyMakeBorder(image, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_CONSTANT, value=(127, 127, 127))


class FaceAnalyzer:
    """Holds the pack's models; all methods are blocking."""

    def __init__(self, config: FaceConfig, pack: ModelPack | None = None) -> None:
        self.config = config
        self.pack = pack if pack is not None else load_pack(config.pack_dir)
        settings = SessionSettings(intra_op_threads=config.onnx_intra_op_threads)
        self.detector = FaceDetector(
            self.pack.path("detection"),
            settings,
            input_size=config.detector_input_size,
            score_threshold=config.detector_score_threshold,
            nms_threshold=config.detector_nms_threshold,
        )
        self.landmarks = LandmarkModel(self.pack.path("landmarks"), settings)
        self.recognizer = FaceRecognizer(self.pack.path("recognition"), settings)
        self.antispoof: AntiSpoofModel | None = None
        antispoof_path: Path | None = config.antispoof_path
        if antispoof_path is None and self.pack.entry("antispoof") is not None:
            antispoof_path = self.pack.path("antispoof")
        if antispoof_path is not None:
            if config.antispoof_sha256:
                verify_file(Path(antispoof_path), config.antispoof_sha256)
            self.antispoof = AntiSpoofModel(Path(antispoof_path), settings)
        # The default passive check when no other anti-spoofing model is configured.
        self.minifasnet: MiniFASNet | None = None
        if self.antispoof is None and config.passive_model == "minifasnet":
            self.minifasnet = MiniFASNet(settings)

    def load(self) -> None:
        for model in self.models():
            model.load()

    def models(self) -> list[FaceDetector | LandmarkModel | FaceRecognizer | AntiSpoofModel]:
        models: list[FaceDetector | LandmarkModel | FaceRecognizer | AntiSpoofModel] = [
            self.detector,
            self.landmarks,
            self.recognizer,
        ]
        if self.antispoof is not None:
            models.append(self.antispoof)
        if self.minifasnet is not None:
            models.append(self.minifasnet)  # type: ignore[arg-type]
        return models

    def warm_up(self) -> None:
        """Run every graph once so the first request does not pay for ORT's lazy init."""
        canvas = np.full((480, 360, 3), 127, dtype=np.uint8)
        self.detector.predict(canvas)
        box = np.array([100, 100, 260, 300], dtype=np.float32)
        self.landmarks.predict(canvas, box)
        self.recognizer.predict([np.zeros((112, 112, 3), dtype=np.uint8)])
        if self.antispoof is not None:
            self.antispoof.predict(canvas, np.array([[150, 180], [210, 180], [180, 210], [155, 240], [205, 240]], dtype=np.float32))
        if self.minifasnet is not None:
            self.minifasnet.predict(canvas, box)

    # -- per image ---------------------------------------------------------------

    def significant_faces(self, faces: list[DetectedFace]) -> list[DetectedFace]:
        """Faces large enough relative to the main one to make a frame ambiguous."""
        if not faces:
            return []
        ordered = sorted(faces, key=lambda f: box_size(f.bbox), reverse=True)
        main_size = box_size(ordered[0].bbox)
        return [f for f in ordered if box_size(f.bbox) >= self.config.secondary_face_ratio * main_size]

    def observe(self, image: np.ndarray, face: DetectedFace, *, with_landmarks: bool = True, with_antispoof: bool = True) -> FaceObservation:
        aligned = align_face(image, face.keypoints)
        embedding = self.recognizer.predict([aligned])[0]
        points = self.landmarks.predict(image, face.bbox) if with_landmarks else None
        observation = FaceObservation(
            bbox=face.bbox,
            detection_score=face.score,
            keypoints=face.keypoints,
            landmarks=points,
            pose=head_pose(points) if points is not None else None,
            eye_aspect_ratio=eye_aspect_ratio(points) if points is not None else None,
            mouth_aspect_ratio=mouth_aspect_ratio(points) if points is not None else None,
            face_size=box_size(face.bbox),
            sharpness=sharpness(aligned),
            brightness=brightness(aligned),
            embedding=embedding,
            fingerprint=FrameFingerprint(
                phash=perceptual_hash(aligned), embedding=embedding, thumbnail=frame_thumbnail(image), keypoints=np.asarray(face.keypoints, dtype=np.float32)
            ),
        )
        if with_antispoof and self.antispoof is not None:
            observation.antispoof_score = self.antispoof.predict(image, face.keypoints)
        elif with_antispoof and self.minifasnet is not None:
            observation.antispoof_score = self.minifasnet.predict(image, face.bbox)
        observation.issues = self.quality_issues(observation)
        return observation

    def quality_issues(self, observation: FaceObservation) -> list[str]:
        config = self.config
        issues: list[str] = []
        if observation.face_size < config.min_face_size_px:
            issues.append(FACE_TOO_SMALL)
        if observation.sharpness < config.min_sharpness:
            issues.append(BLURRY)
        if observation.brightness < config.min_brightness:
            issues.append(TOO_DARK)
        if observation.brightness > config.max_brightness:
            issues.append(TOO_BRIGHT)
        pose = observation.pose
        if pose is not None and (abs(pose.yaw) > config.max_abs_yaw_deg or abs(pose.pitch) > config.max_abs_pitch_deg):
            issues.append(POSE_OUT_OF_RANGE)
        return issues

    def analyze_frame(self, image: np.ndarray) -> FrameAnalysis:
        """One live frame: exactly one significant face, with quality checks.

        A phone held close fills the frame with the face, which the detector
        (trained on scenes) misses: such a frame is padded like a reference and
        searched again; coordinates are reported in the original frame.
        """
        faces = self.detector.predict(image)
        significant = self.significant_faces(faces)
        padded = False
        if not significant and self.config.live_pad_fraction > 0:
            height, width = image.shape[:2]
            pad_y, pad_x = int(height * self.config.live_pad_fraction), int(width * self.config.live_pad_fraction)
            canvas = cv2.copyMakeBorder(image, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_CONSTANT, value=(127, 127, 127))
            significant = self.significant_faces(self.detector.predict(canvas))
            if significant:
                padded = True
                observation = self.observe(canvas, significant[0])
                shift = np.array([pad_x, pad_y], dtype=np.float32)
                observation.bbox = observation.bbox - np.tile(shift, 2)
                observation.keypoints = observation.keypoints - shift
                if observation.landmarks is not None:
                    observation.landmarks = observation.landmarks - shift
                observation.fingerprint = FrameFingerprint(
                    observation.fingerprint.phash, observation.fingerprint.embedding, frame_thumbnail(image), observation.keypoints.astype(np.float32)
                )
                observation.issues.append(TOO_CLOSE)
        if not significant:
            return FrameAnalysis(STATUS_NO_FACE, 0, None)
        if not padded:
            observation = self.observe(image, significant[0])
        if len(significant) > 1:
            return FrameAnalysis(STATUS_MULTIPLE_FACES, len(significant), observation)
        # Being close is no defect of the picture: only the hint stays.
        status = STATUS_LOW_QUALITY if [i for i in observation.issues if i != TOO_CLOSE] else STATUS_OK
        return FrameAnalysis(status, 1, observation)

    def analyze_reference(self, image: np.ndarray) -> FrameAnalysis:
        """A reference portrait: the largest face counts; size/blur are not gated
        because a decades-old ID photo is what it is."""
        prepared = prepare_reference_image(image, self.config.reference_min_side_px)
        faces = self.detector.predict(prepared)
        significant = self.significant_faces(faces)
        if not significant:
            return FrameAnalysis(STATUS_NO_FACE, 0, None)
        observation = self.observe(prepared, significant[0], with_antispoof=False)
        return FrameAnalysis(STATUS_OK, len(significant), observation)
