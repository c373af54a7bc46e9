"""Raw ONNX inference timing (detection + landmarks + recognition + passive model) per frame.

Lets an HTTP benchmark print the model-only cost next to endpoint latency.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .analyzer import FaceAnalyzer
from .geometry import align_face


@dataclass
class RawTiming:
    frames: int
    repeats: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    stage_p50_ms: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        return {
            "frames": self.frames,
            "repeats": self.repeats,
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "mean_ms": round(self.mean_ms, 2),
            "stage_p50_ms": {k: round(v, 2) for k, v in self.stage_p50_ms.items()},
        }


def time_raw_inference(analyzer: FaceAnalyzer, images: Sequence[np.ndarray], repeats: int = 5, warm_up: bool = True) -> RawTiming:
    """Per-frame wall time of the graphs the server runs (no decoding, no decision logic)."""
    totals: list[float] = []
    stages: dict[str, list[float]] = {"detection": [], "landmarks": [], "recognition": [], "passive": []}
    if warm_up:
        analyzer.warm_up()
    for _ in range(repeats):
        for image in images:
            start = time.perf_counter()
            faces = analyzer.detector.predict(image)
            detected = time.perf_counter()
            stages["detection"].append((detected - start) * 1000)
            if faces:
                face = max(faces, key=lambda f: f.width * f.height)
                analyzer.landmarks.predict(image, face.bbox)
                landmarked = time.perf_counter()
                stages["landmarks"].append((landmarked - detected) * 1000)
                analyzer.recognizer.predict([align_face(image, face.keypoints)])
                recognised = time.perf_counter()
                stages["recognition"].append((recognised - landmarked) * 1000)
                if analyzer.antispoof is not None:
                    analyzer.antispoof.predict(image, face.keypoints)
                elif analyzer.minifasnet is not None:
                    analyzer.minifasnet.predict(image, face.bbox)
                if analyzer.antispoof is not None or analyzer.minifasnet is not None:
                    stages["passive"].append((time.perf_counter() - recognised) * 1000)
            totals.append((time.perf_counter() - start) * 1000)
    values = np.array(totals)
    return RawTiming(
        frames=len(images),
        repeats=repeats,
        p50_ms=float(np.percentile(values, 50)),
        p95_ms=float(np.percentile(values, 95)),
        mean_ms=float(values.mean()),
        stage_p50_ms={k: float(np.percentile(v, 50)) for k, v in stages.items() if v},
    )
