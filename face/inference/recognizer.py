"""ArcFace recognition: aligned 112x112 crops to L2-normalised embeddings."""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import PackError
from .base import InferenceModel, graph_normalises_input
from .session import OnnxSession


class FaceRecognizer(InferenceModel):
    role = "recognition"

    def _configure(self, session: OnnxSession) -> None:
        shape = session.input_shapes[0]
        if len(shape) != 4 or shape[2] != shape[3] or not isinstance(shape[2], int):
            raise PackError(f"{self.model_path.name}: expected an ArcFace graph with square NCHW input")
        self.input_size = int(shape[2])
        self.embedding_size = int(session.output_shapes[0][-1])
        embedded = graph_normalises_input(self.model_path)
        self._mean, self._std = (0.0, 1.0) if embedded else (127.5, 127.5)
        # Some exports fix the batch to 1; then crops go through one at a time.
        self._batchable = not isinstance(shape[0], int) or shape[0] != 1

    def _predict(self, session: OnnxSession, aligned_crops: list[np.ndarray]) -> np.ndarray:
        if not aligned_crops:
            return np.zeros((0, self.embedding_size), dtype=np.float32)
        size = (self.input_size, self.input_size)
        if self._batchable:
            blob = cv2.dnn.blobFromImages(aligned_crops, 1.0 / self._std, size, (self._mean,) * 3, swapRB=True)
            raw = session.run({session.input_names[0]: blob})[0]
        else:
            raw = np.vstack(
                [
                    session.run(
                        {session.input_names[0]: cv2.dnn.blobFromImage(crop, 1.0 / self._std, size, (self._mean,) * 3, swapRB=True)}
                    )[0]
                    for crop in aligned_crops
                ]
            )
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        normalised: np.ndarray = (raw / np.maximum(norms, 1e-12)).astype(np.float32)
        return normalised
