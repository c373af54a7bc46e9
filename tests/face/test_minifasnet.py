"""The MiniFASNet converter against the Silent-Face samples (skipped where ../shared is not available)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import onnxruntime as ort
import pytest

from face import FaceEngine

ROOT = Path(__file__).resolve().parents[2]
# ../shared next to the checkout (or next to the worktrees' parent directory).
SHARED = next(
    (c for c in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if (c / "testdata" / "faces" / "silent-face").is_dir()), ROOT.parent / "shared"
) / "testdata" / "faces" / "silent-face"
SCRIPT = ROOT / "scripts" / "minifasnet_to_onnx.py"

pytestmark = pytest.mark.skipif(not (SHARED / "anti_spoof_models").is_dir(), reason="Silent-Face weights are only in the shared test data")


def test_converted_models_tell_a_real_face_from_a_print_and_a_screen(engine: FaceEngine, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("minifasnet_to_onnx", SCRIPT)
    assert spec is not None and spec.loader is not None
    converter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(converter)
    sessions = []
    for file_name, scale in converter.MODELS.items():
        target = tmp_path / file_name.replace(".pth", ".onnx")
        converter.onnx.save(converter.build_onnx(converter.load_legacy_state_dict(SHARED / "anti_spoof_models" / file_name)), target)
        sessions.append((ort.InferenceSession(str(target), providers=["CPUExecutionProvider"]), scale))
    scores = {}
    for name in ("image_T1.jpg", "image_F1.jpg", "image_F2.jpg"):
        image = cv2.imread(str(SHARED / "images" / name))
        bbox = max(engine.analyzer.detector.predict(image), key=lambda f: f.width).bbox
        scores[name] = converter.live_probability(sessions, image, bbox)
    assert scores["image_T1.jpg"] > 0.9, scores
    assert scores["image_F1.jpg"] < 0.5 and scores["image_F2.jpg"] < 0.5, scores
