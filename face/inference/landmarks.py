"""insightface 2d106det: 106 2-D landmarks from a face box."""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import PackError
from .base import InferenceModel, graph_normalises_input
from .session import OnnxSession


class LandmarkModel(InferenceModel):
    role = "landmarks"
    point_count = 106

    def _configure(self, session: OnnxSession) -> None:
        shape = session.input_shapes[0]
        out_shape = session.output_shapes[0]
        if len(shape) != 4 or shape[2] != shape[3] or out_shape[-1] != self.point_count * 2:
            raise PackError(f"{self.model_path.name}: expected a 2d106det-style graph (square input, 212 outputs)")
        self.input_size = int(shape[2])
        embedded = graph_normalises_input(self.model_path)
        self._mean, self._std = (0.0, 1.0) if embedded else (127.5, 128.0)

    def _predict(self, session: OnnxSession, image: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        # The network was trained on crops 1.5x the detector box, centred on it.
        width, height = bbox[2] - bbox[0], bbox[3] - bbox[1]
        center_x, center_y = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
        scale = self.input_size / (max(width, height) * 1.5)
        matrix = np.array(
            [
                [scale, 0.0, self.input_size / 2 - center_x * scale],
                [0.0, scale, self.input_size / 2 - center_y * scale],
            ],
            dtype=np.float64,
        )
        crop = cv2.warpAffine(image, matrix, (self.input_size, self.input_size), borderValue=0.0)
        blob = cv2.dnn.blobFromImage(
            crop, 1.0 / self._std, (self.input_size, self.input_size), (self._mean,) * 3, swapRB=True
        )
        prediction = session.run({session.input_names[0]: blob})[0].reshape(-1, 2)[-self.point_count :]
        points = (prediction + 1.0) * (self.input_size // 2)
        inverse = cv2.invertAffineTransform(matrix)
        return (np.hstack([points, np.ones((points.shape[0], 1))]) @ inverse.T).astype(np.float32)
