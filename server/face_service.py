"""The server's face engine: server settings mapped onto face/'s own config, loaded once per worker."""

from __future__ import annotations

from face import FaceConfig, FaceEngine
from server.config import Settings


def face_config(settings: Settings) -> FaceConfig:
    face = settings.face
    values: dict[str, object] = {
        "pack_dir": face.pack_dir,
        "antispoof_path": face.antispoof_model,
        "executor_workers": face.executor_workers,
        "onnx_intra_op_threads": face.onnx_intra_op_threads,
        "frames_mirrored": face.mirror_front_camera,
        "max_image_bytes": settings.uploads.max_image_bytes,
        "max_image_pixels": settings.uploads.max_image_pixels,
        "min_frames": settings.uploads.min_frames,
        "max_frames": settings.uploads.max_frames,
        "passive_model": face.passive_model,
    }
    if face.threshold_pass is not None:
        values["match_pass_threshold"] = face.threshold_pass
    if face.threshold_fail is not None:
        values["match_fail_threshold"] = face.threshold_fail
    return FaceConfig(**values)


async def start_face_engine(settings: Settings) -> FaceEngine:
    engine = FaceEngine(face_config(settings))
    await engine.start()
    return engine
