"""The server's face engine: in-process (the default) or the separate face service.

Nothing here imports ``face`` (numpy, OpenCV, onnxruntime) at module level: a web worker that
sends face checks to the face service (``VETS_FACE__SERVICE_URL``) never loads the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.config import Settings

if TYPE_CHECKING:
    from face import FaceConfig


def face_config(settings: Settings) -> "FaceConfig":
    from face import FaceConfig

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


async def start_face_engine(settings: Settings) -> Any:
    """A started engine: the face service's client when one is configured, else models in-process."""
    face = settings.face
    if face.service_url:
        from server.face_remote import RemoteFaceEngine

        return RemoteFaceEngine(face.service_url, timeout=face.service_timeout_seconds, retries=face.service_retries)
    from face import FaceEngine

    engine = FaceEngine(face_config(settings))
    await engine.start()
    return engine


async def close_face_engine(engine: Any) -> None:
    if hasattr(engine, "aclose"):
        await engine.aclose()
    else:
        engine.close()
