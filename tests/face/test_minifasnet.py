"""The shipped MiniFASNet pair on real recordings, and the converter against the Silent-Face samples
(the latter skipped where ../shared is not available)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import onnxruntime as ort
import pytest

from face import Challenge, FaceConfig, FaceEngine
from face.decode import decode_image
from face.inference import SessionSettings
from face.inference.minifasnet import MiniFASNet
from tests.face.recordings import WOLF_ACTIONS, burst, id_photo

ROOT = Path(__file__).resolve().parents[2]
# ../shared next to the checkout (or next to the worktrees' parent directory).
SHARED = next(
    (c for c in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if (c / "testdata" / "faces" / "silent-face").is_dir()), ROOT.parent / "shared"
) / "testdata" / "faces" / "silent-face"
SCRIPT = ROOT / "scripts" / "minifasnet_to_onnx.py"

needs_shared = pytest.mark.skipif(not (SHARED / "anti_spoof_models").is_dir(), reason="Silent-Face weights are only in the shared test data")


def test_shipped_pair_passes_real_people_and_is_the_default(engine: FaceEngine) -> None:
    model = MiniFASNet(SessionSettings(intra_op_threads=1))
    for name in ("wolf_burst", "carphone_burst"):
        scores = []
        for frame in burst(name)[::4]:
            image = decode_image(frame)
            face = engine.analyzer.detector.predict(image)
            scores.append(model.predict(image, max(face, key=lambda f: f.width).bbox))
        assert min(scores) > 0.8, (name, scores)
    assert FaceConfig().passive_model == "minifasnet"
    default = FaceEngine(FaceConfig())
    try:
        default.load()
        result = default.verify_challenge_sync(list(burst("wolf_burst")), Challenge.from_list(WOLF_ACTIONS), [id_photo("wolf")])
        assert result.decision.value == "pass" and result.scores.passive_score is not None and result.scores.passive_score > 0.8
    finally:
        default.close()
    if (SHARED / "images").is_dir():
        for sample, live in (("image_T1.jpg", True), ("image_F1.jpg", False), ("image_F2.jpg", False)):
            image = cv2.imread(str(SHARED / "images" / sample))
            score = model.predict(image, max(engine.analyzer.detector.predict(image), key=lambda f: f.width).bbox)
            assert (score > 0.9) if live else (score < 0.5), (sample, score)


@needs_shared

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
