"""Passive anti-spoofing with insightface's liveness-addon signature.

Input float32 [N, 3, 80, 80] RGB in 0..1 after a 5-point alignment onto the
addon's template; output [N] live probability (already a probability: no
softmax). Any ONNX with that contract can be configured.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import PackError
from ..geometry import similarity_transform
from .base import InferenceModel
from .session import OnnxSession

ANTISPOOF_INPUT_SIZE = 80
# Destination keypoints of the insightface liveness addon (addons/liveness.py).
ANTISPOOF_TEMPLATE = np.array(
    [[32.03, 38.06], [47.89, 37.98], [40.01, 47.08], [33.50, 56.36], [46.63, 56.29]],
    dtype=np.float32,
)


class AntiSpoofModel(InferenceModel):
    role = "antispoof"

    def _configure(self, session: OnnxSession) -> None:
        if len(session.input_names) != 1 or len(session.output_names) != 1:
            raise PackError(f"{self.model_path.name}: anti-spoofing model needs one input and one output")
        shape = session.input_shapes[0]
        out_shape = session.output_shapes[0]
        if (
            session.input_types[0] != "tensor(float)"
            or len(shape) != 4
            or shape[1:] != [3, ANTISPOOF_INPUT_SIZE, ANTISPOOF_INPUT_SIZE]
            or session.output_types[0] != "tensor(float)"
            or len(out_shape) != 1
        ):
            raise PackError(
                f"{self.model_path.name}: anti-spoofing model must take float32 [N,3,80,80] "
                "and return [N] live probabilities"
            )

    def _predict(self, session: OnnxSession, image: np.ndarray, keypoints: np.ndarray) -> float:
        matrix = similarity_transform(keypoints, ANTISPOOF_TEMPLATE)
        crop = cv2.warpAffine(
            image, matrix, (ANTISPOOF_INPUT_SIZE, ANTISPOOF_INPUT_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        tensor = np.ascontiguousarray(crop[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        score = float(np.asarray(session.run({session.input_names[0]: tensor})[0]).reshape(-1)[0])
        if not np.isfinite(score):
            raise PackError("anti-spoofing model returned a non-finite score")
        return float(np.clip(score, 0.0, 1.0))
