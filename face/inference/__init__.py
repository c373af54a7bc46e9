"""ONNX models behind a small load()/predict() interface (immich ML-service style)."""

from .antispoof import AntiSpoofModel
from .base import InferenceModel
from .detector import DetectedFace, FaceDetector
from .landmarks import LandmarkModel
from .recognizer import FaceRecognizer
from .session import OnnxSession, SessionSettings

__all__ = [
    "AntiSpoofModel",
    "DetectedFace",
    "FaceDetector",
    "FaceRecognizer",
    "InferenceModel",
    "LandmarkModel",
    "OnnxSession",
    "SessionSettings",
]
