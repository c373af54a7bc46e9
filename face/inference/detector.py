"""SCRFD face detector (insightface *_bnkps graphs: 3 strides, 2 anchors, 5 keypoints)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import PackError
from .base import InferenceModel
from .session import OnnxSession, SessionSettings


@dataclass(frozen=True)
class DetectedFace:
    bbox: np.ndarray  # x1, y1, x2, y2 in image pixels
    score: float
    keypoints: np.ndarray  # (5, 2): eye, eye, nose, mouth corner, mouth corner (image order)

    @property
    def width(self) -> float:
        return float(self.bbox[2] - self.bbox[0])

    @property
    def height(self) -> float:
        return float(self.bbox[3] - self.bbox[1])


class FaceDetector(InferenceModel):
    role = "detection"
    _strides = (8, 16, 32)

    def __init__(
        self,
        model_path: Path,
        settings: SessionSettings,
        *,
        input_size: int = 640,
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
    ) -> None:
        super().__init__(model_path, settings)
        self.input_size = input_size
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self._anchor_cache: dict[tuple[int, int, int], np.ndarray] = {}

    def _configure(self, session: OnnxSession) -> None:
        if len(session.output_names) != 9:
            raise PackError(
                f"{self.model_path.name}: expected an SCRFD graph with 9 outputs "
                f"(scores, boxes, keypoints at 3 strides), got {len(session.output_names)}"
            )
        # Batched exports have rank-3 outputs (N, anchors, C).
        self._batched = len(session.output_shapes[0]) == 3
        fixed = session.input_shapes[0][2:4]
        if all(isinstance(value, int) for value in fixed):
            self.input_size = int(fixed[0])

    def _anchors(self, height: int, width: int, stride: int) -> np.ndarray:
        key = (height, width, stride)
        anchors = self._anchor_cache.get(key)
        if anchors is None:
            grid = np.stack(list(np.mgrid[:height, :width][::-1]), axis=-1).astype(np.float32)
            anchors = np.repeat((grid * stride).reshape(-1, 2), 2, axis=0)
            self._anchor_cache[key] = anchors
        return anchors

    def _predict(self, session: OnnxSession, image: np.ndarray) -> list[DetectedFace]:
        # Letterbox into a square canvas; the same scale maps results back.
        height, width = image.shape[:2]
        scale = self.input_size / max(height, width)
        resized_w, resized_h = max(1, int(round(width * scale))), max(1, int(round(height * scale)))
        canvas = np.zeros((self.input_size, self.input_size, 3), dtype=np.uint8)
        canvas[:resized_h, :resized_w] = cv2.resize(image, (resized_w, resized_h))
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / 128.0, (self.input_size, self.input_size), (127.5, 127.5, 127.5), swapRB=True)
        outputs = session.run({session.input_names[0]: blob})

        scores_all, boxes_all, kps_all = [], [], []
        for level, stride in enumerate(self._strides):
            scores = outputs[level]
            boxes = outputs[level + 3]
            kps = outputs[level + 6]
            if self._batched:
                scores, boxes, kps = scores[0], boxes[0], kps[0]
            scores = scores.reshape(-1)
            anchors = self._anchors(self.input_size // stride, self.input_size // stride, stride)
            keep = np.where(scores >= self.score_threshold)[0]
            if keep.size == 0:
                continue
            distances = boxes[keep] * stride
            centers = anchors[keep]
            decoded_boxes = np.hstack([centers - distances[:, :2], centers + distances[:, 2:]])
            kp_offsets = kps[keep].reshape(-1, 5, 2) * stride
            decoded_kps = centers[:, None, :] + kp_offsets
            scores_all.append(scores[keep])
            boxes_all.append(decoded_boxes)
            kps_all.append(decoded_kps)
        if not scores_all:
            return []
        scores = np.concatenate(scores_all)
        boxes = np.vstack(boxes_all) / scale
        keypoints = np.vstack(kps_all) / scale
        kept = self._nms(boxes, scores)
        return [
            DetectedFace(bbox=boxes[i].astype(np.float32), score=float(scores[i]), keypoints=keypoints[i].astype(np.float32))
            for i in kept
        ]

    def _nms(self, boxes: np.ndarray, scores: np.ndarray) -> list[int]:
        x1, y1, x2, y2 = boxes.T
        areas = (x2 - x1 + 1) * (y2 - y1 + 1)
        order = np.argsort(-scores, kind="stable")
        keep: list[int] = []
        while order.size > 0:
            best = int(order[0])
            keep.append(best)
            rest = order[1:]
            inter_w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
            inter_h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
            intersection = inter_w * inter_h
            overlap = intersection / (areas[best] + areas[rest] - intersection)
            order = rest[overlap <= self.nms_threshold]
        return keep
