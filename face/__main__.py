"""Command line: ``python -m face match REF IMAGE`` / ``check IMAGE`` / ``bench IMAGE...`` / ``manifest DIR``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import FaceConfig
from .engine import FaceEngine
from .errors import FaceError


def _config(args: argparse.Namespace) -> FaceConfig:
    return FaceConfig(pack_dir=args.pack, antispoof_path=args.antispoof)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m face", description="Face matching and quality checks (JSON output).")
    parser.add_argument("--pack", type=Path, default=None, help="model pack directory with manifest.json (default: buffalo_s wheel)")
    parser.add_argument("--antispoof", type=Path, default=None, help="optional anti-spoofing ONNX")
    commands = parser.add_subparsers(dest="command", required=True)
    match = commands.add_parser("match", help="compare a reference portrait (e.g. ID photo) with a photo")
    match.add_argument("reference", type=Path)
    match.add_argument("image", type=Path)
    check = commands.add_parser("check", help="face detection and quality report for one image")
    check.add_argument("image", type=Path)
    bench = commands.add_parser("bench", help="raw ONNX timing (p50/p95) on given images")
    bench.add_argument("images", type=Path, nargs="+")
    bench.add_argument("--repeats", type=int, default=5)
    manifest = commands.add_parser("manifest", help="write manifest.json for a licensed insightface-style pack")
    manifest.add_argument("directory", type=Path)
    manifest.add_argument("--detection", required=True)
    manifest.add_argument("--landmarks", required=True)
    manifest.add_argument("--recognition", required=True)
    manifest.add_argument("--antispoof")
    manifest.add_argument("--licence", required=True)
    manifest.add_argument("--source", required=True)
    args = parser.parse_args(argv)

    try:
        if args.command == "manifest":
            from .packs import write_manifest

            roles = {args.detection: "detection", args.landmarks: "landmarks", args.recognition: "recognition"}
            if args.antispoof:
                roles[args.antispoof] = "antispoof"
            path = write_manifest(args.directory, roles, name=args.directory.name, licence=args.licence, source=args.source)
            print(json.dumps({"manifest": str(path)}))
            return 0
        engine = FaceEngine(_config(args))
        try:
            if args.command == "match":
                output = engine.match_sync(args.reference.read_bytes(), args.image.read_bytes()).to_dict()
            elif args.command == "check":
                output = engine.check_image_sync(args.image.read_bytes())
            else:
                from .bench import time_raw_inference

                engine.load()
                images = [engine.decode(path.read_bytes()) for path in args.images]
                output = time_raw_inference(engine.analyzer, images, repeats=args.repeats).to_dict()
        finally:
            engine.close()
    except FaceError as error:
        print(json.dumps({"error": error.code, "message": str(error)}), file=sys.stderr)
        return 2
    except OSError as error:
        print(json.dumps({"error": "io_error", "message": str(error)}), file=sys.stderr)
        return 2
    print(json.dumps(output, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
