"""The server's face engine: in-process (the default) or the separate face service.

Nothing here imports ``face`` (numpy, OpenCV, onnxruntime) at module level: a web worker that
sends face checks to the face service (``VETS_FACE__SERVICE_URL``) never loads the engine.
"""

from __future__ import annotations

from typing import Any

from server.config import Settings

# The settings-to-FaceConfig translation lives with the face service, which needs it too; named here
# for the console and the in-process engine.
from server.face_remote import RemoteFaceEngine, face_config

__all__ = ["close_face_engine", "face_config", "start_face_engine"]


async def start_face_engine(settings: Settings) -> Any:
    """A started engine: the face service's client when one is configured, else models in-process."""
    face = settings.face
    if face.service_url:
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
