"""What one web worker costs to start: seconds to import and build the app, seconds for its start-up
listeners (database, key-value store, calendar, face engine), and its resident memory, with face checks
disabled, sent to the face service, or run in-process.

Each case runs in a fresh interpreter (as a spawned worker does), on SQLite and the in-process store.
Compare trees by passing another checkout: ``--tree /path/to/other/checkout``.

    python scripts/bench_worker_start.py [--tree DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import asyncio, json, resource, sys, time
t0 = time.perf_counter()
from server.app import create_app
from server.config import Settings
app = create_app(Settings())
t1 = time.perf_counter()

async def start():
    server = await app.create_server(host="127.0.0.1", port=0, return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    t2 = time.perf_counter()
    await server.after_start()
    await server.before_stop()
    await server.close()
    await server.after_stop()
    return t2

t2 = asyncio.run(start())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
loaded = [m for m in ("cv2", "onnxruntime", "face.engine") if m in sys.modules]
print(json.dumps({"build_s": round(t1 - t0, 2), "listeners_s": round(t2 - t1, 2), "max_rss_mb": round(rss), "loaded": loaded}))
"""

CASES = {
    "face disabled": {"VETS_FACE__ENABLED": "false"},
    "face service (VETS_FACE__SERVICE_URL)": {"VETS_FACE__SERVICE_URL": "http://127.0.0.1:9"},
    "face in-process": {},
}


def run(tree: Path, extra: dict[str, str], workdir: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VETS_")}
    env.update(PYTHONPATH=str(tree), VETS_DATABASE__URL=f"sqlite://{workdir}/bench.sqlite3", VETS_VAR_DIR=str(workdir), VETS_MEDIA_DIR=str(workdir / "media"), VETS_RUN_BACKGROUND_JOBS="false", VETS_LOG_JSON="false", **extra)
    subprocess.run([sys.executable, "-m", "server", "migrate"], cwd=workdir, env=env, check=True, capture_output=True, timeout=600)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=workdir, env=env, check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=ROOT)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"tree {args.tree}  load average {os.getloadavg()[0]:.1f}  cores {os.cpu_count()}")
    print("| case | build app (s) | start-up listeners (s) | worker total (s) | max RSS (MB) | loaded |\n|---|---|---|---|---|---|")
    for name, extra in CASES.items():
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                r = run(args.tree.resolve(), extra, Path(tmp))
            total = float(r["build_s"]) + float(r["listeners_s"])  # type: ignore[arg-type]
            print(f"| {name} | {r['build_s']} | {r['listeners_s']} | {total:.2f} | {r['max_rss_mb']} | {', '.join(r['loaded']) or '-'} |", flush=True)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
