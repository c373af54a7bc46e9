"""In-process profile of a 20-frame burst: CPU time of the model graphs vs everything else.

On a shared machine wall-clock ratios move with the load; the CPU time a thread spends in each
step does not (much). This prints, per frame and for the whole burst, the thread CPU time of

* inference: the graphs the server runs (detection, landmarks, recognition incl. the 5-point
  alignment, passive MiniFASNet pair), i.e. what ``scripts/bench_face_http.py`` calls raw inference;
* everything else the engine does per frame (decode, byte digest, pose, ratios, quality, fingerprints);
* the sequence evaluation after the frames (motion, actions, replay comparison against this
  attempt's frames and ``--earlier`` earlier attempts' stored fingerprints, evidence, report).

    python scripts/face_profile.py [--repeats 5] [--earlier 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from face import Challenge, FaceConfig, FaceEngine  # noqa: E402
from face import analyzer as analyzer_module  # noqa: E402
from tests.face.recordings import WOLF_ACTIONS, burst, id_photo  # noqa: E402

INFERENCE = ("detector", "landmarks", "recognizer", "minifasnet", "antispoof")


class CpuClock:
    """Accumulates thread CPU time spent inside wrapped callables."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.thread_time() - start

        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--earlier", type=int, default=5, help="earlier attempts whose fingerprints are compared (20 frames each)")
    args = parser.parse_args()
    engine = FaceEngine(FaceConfig())
    engine.load()
    analyzer = engine.analyzer
    clock = CpuClock()
    for name in INFERENCE:
        model = getattr(analyzer, name, None)
        if model is not None:
            model.predict = clock.wrap(name, model.predict)
    # The alignment feeding recognition is part of raw inference (face/bench.py times it there too).
    analyzer_module.align_face = clock.wrap("align", analyzer_module.align_face)  # type: ignore[attr-defined]
    frames = list(burst("wolf_burst"))
    challenge = Challenge.from_list(WOLF_ACTIONS)
    reference = engine.reference_embedding_sync(id_photo("wolf"))
    warm = [engine.analyze_frame_bytes(f, i) for i, f in enumerate(frames)]
    earlier_attempts = [f.to_dict() for f in (a.face.fingerprint for a in warm) if f is not None]
    earlier = [dict(fp, digest=f"{n}{fp.get('digest', '')}") for n in range(args.earlier) for fp in earlier_attempts]
    for fp in earlier:
        # Earlier attempts are other live frames, not copies: shift their keypoints.
        fp["keypoints"] = [v + 40.0 for v in fp["keypoints"]]
    per_frame_total: list[float] = []
    per_frame_inference: list[float] = []
    evaluation: list[float] = []
    evaluation_earlier: list[float] = []
    for _ in range(args.repeats):
        clock.spent.clear()
        start = time.thread_time()
        analyses = [engine.analyze_frame_bytes(f, i) for i, f in enumerate(frames)]
        per_frame_total.append((time.thread_time() - start) * 1000 / len(frames))
        per_frame_inference.append(sum(clock.spent.values()) * 1000 / len(frames))
        start = time.thread_time()
        result = engine._evaluate(analyses, challenge, [reference], [])
        evaluation.append((time.thread_time() - start) * 1000)
        start = time.thread_time()
        engine._evaluate(analyses, challenge, [reference], earlier)
        evaluation_earlier.append((time.thread_time() - start) * 1000)
        assert result.decision.value == "pass", result.reasons
        stages = {k: round(v * 1000 / len(frames), 2) for k, v in clock.spent.items()}
    inference = statistics.median(per_frame_inference)
    total = statistics.median(per_frame_total)
    other = total - inference
    ev, ev_earlier = statistics.median(evaluation), statistics.median(evaluation_earlier)
    n = len(frames)
    print(f"thread CPU time, median of {args.repeats} runs, {n}-frame burst (wolf_burst)")
    print(f"per frame: inference {inference:.2f} ms {stages}, everything else {other:.2f} ms ({other / inference:.1%} of inference)")
    print(f"sequence evaluation after the frames: {ev:.2f} ms; with {len(earlier)} earlier fingerprints: {ev_earlier:.2f} ms")
    ideal = inference * n / engine.config.executor_workers
    after = ideal + other * n / engine.config.executor_workers + ev
    print(
        f"burst: inference {inference * n:.1f} ms (÷{engine.config.executor_workers} workers = {ideal:.1f} ms); "
        f"engine CPU beyond it: per-frame {other * n:.1f} ms + evaluation {ev:.1f} ms; "
        f"ideal-parallel engine time {after:.1f} ms = {after / ideal:.3f}x the ideal"
    )
    engine.close()


if __name__ == "__main__":
    main()
