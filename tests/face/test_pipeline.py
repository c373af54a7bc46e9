"""Full pipeline on real photos with image-level synthetic action evidence."""

from __future__ import annotations

import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from face import Action, Challenge, Decision, FaceConfig, FaceEngine, FrameFingerprint, ReasonCode
from face.decode import decode_image, encode_jpeg
from face.engine import EXECUTOR_THREAD_PREFIX
from face.samples import load_sample
from face.synthetic import hand_jitter, render_action

CHALLENGE = Challenge((Action.BLINK, Action.TURN_LEFT, Action.OPEN_MOUTH))


@pytest.fixture(scope="session")
def genuine_frames(subject: dict) -> list[bytes]:
    rng = np.random.default_rng(5)
    actions = [None, *CHALLENGE.actions]
    return [encode_jpeg(hand_jitter(render_action(subject["frame"], subject["points"], a), rng), 90) for a in actions]


async def test_genuine_sequence_passes(engine: FaceEngine, subject: dict, genuine_frames: list[bytes]) -> None:
    result = await engine.verify_challenge(genuine_frames, CHALLENGE, [subject["id_photo"]])
    assert result.decision is Decision.PASS, result.to_dict()["reasons"]
    data = result.to_dict()
    assert data["scores"]["best_similarity"] >= engine.config.match_pass_threshold
    assert data["evidence_frames"] and len(data["evidence_embeddings"][0]) == 512
    assert all(f is not None for f in data["fingerprints"])
    # Earlier embeddings work as references too.
    again = await engine.verify_challenge(genuine_frames, CHALLENGE, [result.evidence_embeddings[0]])
    assert again.scores.best_similarity is not None and again.scores.best_similarity > 0.9


async def test_wrong_order_fails(engine: FaceEngine, subject: dict, genuine_frames: list[bytes]) -> None:
    reordered = Challenge((Action.OPEN_MOUTH, Action.TURN_LEFT, Action.BLINK))
    result = await engine.verify_challenge(genuine_frames, reordered, [subject["id_photo"]])
    assert result.decision is Decision.FAIL
    assert ReasonCode.ACTION_ORDER in result.reasons


async def test_repeated_still_is_replay(engine: FaceEngine, subject: dict, genuine_frames: list[bytes]) -> None:
    result = await engine.verify_challenge([genuine_frames[0]] * 3, CHALLENGE, [subject["id_photo"]])
    assert result.decision is Decision.FAIL
    assert ReasonCode.REPLAY in result.reasons


async def test_reencoded_copy_is_replay(engine: FaceEngine, subject: dict, genuine_frames: list[bytes]) -> None:
    copy = encode_jpeg(decode_image(genuine_frames[0]), 60)
    frames = genuine_frames[:-1] + [copy]
    result = await engine.verify_challenge(frames, CHALLENGE, [subject["id_photo"]])
    assert ReasonCode.REPLAY in result.reasons
    assert result.decision is Decision.FAIL


async def test_replay_of_earlier_attempt(engine: FaceEngine, subject: dict, genuine_frames: list[bytes]) -> None:
    first = await engine.verify_challenge(genuine_frames, CHALLENGE, [subject["id_photo"]])
    stored = [f.to_dict() for f in first.fingerprints if f is not None]  # what the server keeps (JSON)
    replay = [encode_jpeg(decode_image(frame), 80) for frame in genuine_frames]
    result = await engine.verify_challenge(replay, CHALLENGE, [subject["id_photo"]], stored)
    assert ReasonCode.REPLAY in result.reasons
    assert FrameFingerprint.from_dict(stored[0]).phash == first.fingerprints[0].phash  # type: ignore[union-attr]


async def test_other_person_no_match(engine: FaceEngine, subject: dict, other_person_frame: np.ndarray) -> None:
    analysis = engine.analyzer.analyze_frame(other_person_frame)
    assert analysis.face is not None
    rng = np.random.default_rng(9)
    frames = [
        encode_jpeg(hand_jitter(render_action(other_person_frame, analysis.face.landmarks, a), rng), 90)
        for a in [None, *CHALLENGE.actions]
    ]
    result = await engine.verify_challenge(frames, CHALLENGE, [subject["id_photo"]])
    assert ReasonCode.NO_MATCH in result.reasons
    assert result.decision is Decision.FAIL


async def test_id_photo_detected_after_padding(engine: FaceEngine, subject: dict) -> None:
    photo = decode_image(subject["id_photo"])
    assert photo.shape[:2] == (126, 102)
    reference = await engine.embed_reference(subject["id_photo"])
    assert reference is not None and reference.embedding.shape == (512,)
    hanks = encode_jpeg(load_sample("Tom_Hanks_54745.png"))
    assert engine.analyzer.detector.predict(decode_image(hanks)) == []  # a tight 112x112 crop
    assert await engine.embed_reference(hanks) is not None


async def test_bad_frame_raises_with_code(engine: FaceEngine, genuine_frames: list[bytes], subject: dict) -> None:
    with pytest.raises(Exception) as error:
        await engine.verify_challenge([b"", *genuine_frames[1:]], CHALLENGE, [subject["id_photo"]])
    assert error.value.code == "empty_image"  # type: ignore[attr-defined]
    with pytest.raises(Exception) as error:
        await engine.verify_challenge(genuine_frames[:1], CHALLENGE, [subject["id_photo"]])
    assert error.value.code == "invalid_request"  # type: ignore[attr-defined]


async def test_inference_runs_off_event_loop(engine: FaceEngine, subject: dict) -> None:
    seen: list[str] = []
    detector = engine.analyzer.detector
    original = detector.predict

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return original(*args, **kwargs)

    detector.predict = spy  # type: ignore[method-assign]
    try:
        await engine.check_image(encode_jpeg(subject["frame"]))
    finally:
        del detector.predict
    assert seen and all(name.startswith(EXECUTOR_THREAD_PREFIX) for name in seen)
    assert threading.current_thread().name not in seen


def _constant_antispoof(path, value: float) -> None:  # type: ignore[no-untyped-def]
    """Tiny ONNX with the liveness-addon signature: [N,3,80,80] -> [N] probability."""
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),
            helper.make_node("Mul", ["mean", "zero"], ["zeroed"]),
            helper.make_node("Add", ["zeroed", "score"], ["live"]),
        ],
        "antispoof",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 80, 80])],
        [helper.make_tensor_value_info("live", TensorProto.FLOAT, ["N"])],
        [
            helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("score", TensorProto.FLOAT, [], [value]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@pytest.mark.parametrize(("live_probability", "spoof_expected"), [(0.05, True), (0.97, False)])
async def test_antispoof_score_joins_decision(tmp_path, subject: dict, genuine_frames: list[bytes], live_probability: float, spoof_expected: bool) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "antispoof.onnx"
    _constant_antispoof(path, live_probability)
    engine = FaceEngine(FaceConfig(antispoof_path=path))
    await engine.start()
    try:
        result = await engine.verify_challenge(genuine_frames, CHALLENGE, [subject["id_photo"]])
    finally:
        engine.close()
    assert result.scores.passive_score == pytest.approx(live_probability, abs=1e-5)
    assert (ReasonCode.SPOOF_SUSPECTED in result.reasons) is spoof_expected
    assert result.decision is (Decision.FAIL if spoof_expected else Decision.PASS)
