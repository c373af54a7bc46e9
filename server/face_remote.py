"""Face verification as its own service, and the client web workers use to call it.

The face engine (numpy, OpenCV, onnxruntime and ~80 MB of models per copy, plus its inference
threads) is the heaviest thing in a web worker. With ``VETS_FACE__SERVICE_URL`` set, web workers
load none of it: :class:`RemoteFaceEngine` offers the same entry points the confirmation service
calls on :class:`face.FaceEngine` (``verify_challenge``, ``embed_reference``, ``check_image``)
and sends the work to the face service (``python -m server face-service``), which owns one engine
copy and its executor. Scale it by running more face-service processes or containers behind one
address. Without the setting the engine runs in-process as before.

Back-pressure: the service admits at most ``max_pending`` verifications at once (running on the
executor plus queued for it); beyond that it answers 503 ``face_busy`` at once instead of queueing
without bound. The client retries a few times with a short back-off (another replica may be free)
and then gives the person a clear 503.

Wire format (internal, versioned by path): ``POST /v1/verify`` multipart with a ``meta`` JSON field
(``challenge``: action names, ``references``: ``{"embedding": [...]}`` or ``{"image": i}``,
``earlier``: fingerprint dicts) and files ``frame`` (in order) and ``reference_image``;
``POST /v1/embed`` and ``POST /v1/check`` take one image as the raw body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from server.errors import ApiError

if TYPE_CHECKING:
    from face import FaceConfig
    from server.config import Settings

log = logging.getLogger("server.face_remote")


class FaceServiceUnavailable(ApiError):
    status, code, message = 503, "face_unavailable", "人脸核验服务繁忙，请稍后重新开始认证"


# -- client ---------------------------------------------------------------------------------------


class RemoteVerification:
    """What ``FaceEngine.verify_challenge`` returns, as far as callers use it: ``to_dict()``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self.decision: str = data["decision"]
        self.reasons: list[str] = list(data.get("reasons", []))

    def to_dict(self) -> dict[str, Any]:
        return self._data


class RemoteReference:
    """What ``FaceEngine.embed_reference`` returns: the unit-length embedding and the face summary."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.embedding: list[float] = data["embedding"]
        self.face: dict[str, Any] = data.get("face") or {}
        self.model_pack: str | None = data.get("model_pack")

    def to_dict(self) -> dict[str, Any]:
        return {"embedding": self.embedding, "face": self.face, "model_pack": self.model_pack}


def _raise_face_error(status: int, body: dict[str, Any]) -> None:
    """Re-raise the engine's own error type so callers handle remote and in-process alike."""
    from face.engine import InvalidRequestError
    from face.errors import FaceError, ImageError

    error = body.get("error", {})
    code = str(error.get("code", "face_error"))
    message = str(error.get("message", code))
    if code == "invalid_request":
        raise InvalidRequestError(message)
    if error.get("kind") == "image":
        raise ImageError(message, code=code)
    raise FaceError(message, code=code)


class RemoteFaceEngine:
    """Calls the face service over HTTP (``http://host:port``) or a Unix socket (``unix:/path``)."""

    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 2, backoff: float = 0.25) -> None:
        if url.startswith("unix:"):
            transport = httpx.AsyncHTTPTransport(uds=url.removeprefix("unix:").removeprefix("//"))
            base_url = "http://face-service"
        else:
            transport = httpx.AsyncHTTPTransport()
            base_url = url.rstrip("/")
        self.url = url
        self._client = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)
        self._retries = retries
        self._backoff = backoff

    async def _post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                response = await self._client.post(path, **kwargs)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}"
                response = None
            if response is not None:
                if response.status_code == 200:
                    return response.json()
                if response.status_code in (400, 413, 422):
                    _raise_face_error(response.status_code, response.json())
                reason = f"HTTP {response.status_code}"
            if attempt >= self._retries:
                log.warning("face service unavailable", extra={"path": path, "reason": reason, "attempts": attempt + 1})
                busy = response is not None and response.status_code == 503
                raise FaceServiceUnavailable(code="face_busy" if busy else "face_unavailable")
            attempt += 1
            # Jittered back-off: concurrent callers do not come back in lock-step.
            await asyncio.sleep(self._backoff * attempt * (0.5 + random.random()))

    async def verify_challenge(self, frames: Sequence[bytes], challenge: Any, references: Sequence[Any], earlier_fingerprints: Sequence[Any] = ()) -> RemoteVerification:
        meta_references: list[dict[str, Any]] = []
        files: list[tuple[str, tuple[str, bytes, str]]] = []
        for index, frame in enumerate(frames):
            files.append(("frame", (f"frame{index}.jpg", bytes(frame), "application/octet-stream")))
        images = 0
        for reference in references:
            if isinstance(reference, (bytes, bytearray, memoryview)):
                files.append(("reference_image", (f"reference{images}.jpg", bytes(reference), "application/octet-stream")))
                meta_references.append({"image": images})
                images += 1
            else:
                vector = getattr(reference, "embedding", reference)  # ReferenceEmbedding or a vector
                meta_references.append({"embedding": [float(x) for x in vector]})
        meta = {
            "challenge": list(challenge.to_list() if hasattr(challenge, "to_list") else challenge),
            "references": meta_references,
            "earlier": [fp.to_dict() if hasattr(fp, "to_dict") else dict(fp) for fp in earlier_fingerprints],
        }
        data = await self._post("/v1/verify", data={"meta": json.dumps(meta)}, files=files)
        return RemoteVerification(data)

    async def embed_reference(self, image_bytes: bytes) -> RemoteReference | None:
        data = await self._post("/v1/embed", content=bytes(image_bytes), headers={"Content-Type": "application/octet-stream"})
        return RemoteReference(data) if data.get("embedding") is not None else None

    async def check_image(self, image_bytes: bytes) -> dict[str, Any]:
        return await self._post("/v1/check", content=bytes(image_bytes), headers={"Content-Type": "application/octet-stream"})

    async def stats(self) -> dict[str, Any]:
        response = await self._client.get("/v1/stats")
        response.raise_for_status()
        return response.json()

    async def aclose(self) -> None:
        await self._client.aclose()

    def close(self) -> None:
        """Sync close for callers written for FaceEngine; prefer ``aclose`` in async code."""
        try:
            asyncio.get_running_loop().create_task(self._client.aclose())
        except RuntimeError:
            asyncio.run(self._client.aclose())


# -- service --------------------------------------------------------------------------------------


class Admission:
    """At most ``limit`` verifications admitted (running or queued for the executor) at a time."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending = 0
        self.served = 0
        self.rejected = 0

    def try_enter(self) -> bool:
        if self.pending >= self.limit:
            self.rejected += 1
            return False
        self.pending += 1
        return True

    def leave(self) -> None:
        self.pending -= 1
        self.served += 1


def _error(status: int, code: str, message: str, **extra: Any) -> HTTPResponse:
    headers = {"Retry-After": "1"} if status == 503 else None
    return json_response({"error": {"code": code, "message": message, **extra}}, status=status, headers=headers)


def _face_error_response(exc: Exception) -> Any:
    from face.errors import ImageError

    code = getattr(exc, "code", "face_error")
    extra: dict[str, Any] = {"kind": "image" if isinstance(exc, ImageError) else "request"}
    if hasattr(exc, "frame_index"):
        extra["frame_index"] = exc.frame_index
    return _error(422, code, str(exc), **extra)


def face_config(settings: Settings) -> FaceConfig:
    """The face library's configuration from the server's settings (imports ``face``: call only to run it)."""
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


def create_face_app(settings: Settings, *, name: str = "vets_face") -> Sanic:
    """The face service: one engine (models loaded once per process), admission-limited."""
    from face import Challenge, FaceEngine, FaceError
    from server.logging_setup import configure_logging

    configure_logging(json_logs=settings.log_json)
    app = Sanic(name)
    uploads = settings.uploads
    # Frames plus reference photos, with room for the multipart framing.
    app.config.REQUEST_MAX_SIZE = (uploads.max_frames + settings.face.max_reference_photos + 1) * uploads.max_image_bytes + 1024 * 1024
    app.config.ACCESS_LOG = False
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = settings.shutdown_grace_seconds
    app.ctx.admission = Admission(settings.face.service_max_pending)

    @app.before_server_start
    async def load_engine(app: Sanic) -> None:
        app.ctx.engine = FaceEngine(face_config(settings))
        await app.ctx.engine.start()

    @app.after_server_stop
    async def close_engine(app: Sanic) -> None:
        app.ctx.engine.close()

    async def admitted(work: Any) -> Any:
        admission: Admission = app.ctx.admission
        if not admission.try_enter():
            return _error(503, "face_busy", "face service at its queue limit")
        try:
            return json_response(await work())
        except FaceError as exc:
            return _face_error_response(exc)
        finally:
            admission.leave()

    @app.get("/healthz")
    async def healthz(request: Request) -> Any:
        return json_response({"status": "ok"})

    @app.get("/v1/stats")
    async def stats(request: Request) -> Any:
        admission: Admission = app.ctx.admission
        return json_response({"pending": admission.pending, "limit": admission.limit, "served": admission.served, "rejected": admission.rejected, "executor_workers": settings.face.executor_workers})

    @app.post("/v1/verify")
    async def verify(request: Request) -> Any:
        try:
            meta = json.loads(request.form.get("meta") or "{}")
            frames = [f.body for f in request.files.getlist("frame") or []]
            images = [f.body for f in request.files.getlist("reference_image") or []]
            references: list[Any] = [images[int(r["image"])] if "image" in r else r["embedding"] for r in meta.get("references", [])]
            challenge = Challenge.from_list(meta["challenge"])
            earlier = list(meta.get("earlier", []))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return _error(400, "invalid_request", f"malformed verify request: {type(exc).__name__}")
        engine = app.ctx.engine

        async def work() -> dict[str, Any]:
            return (await engine.verify_challenge(frames, challenge, references, earlier)).to_dict()

        return await admitted(work)

    @app.post("/v1/embed")
    async def embed(request: Request) -> Any:
        engine = app.ctx.engine

        async def work() -> dict[str, Any]:
            reference = await engine.embed_reference(request.body)
            return {"embedding": None} if reference is None else reference.to_dict()

        return await admitted(work)

    @app.post("/v1/check")
    async def check(request: Request) -> Any:
        engine = app.ctx.engine

        async def work() -> dict[str, Any]:
            return await engine.check_image(request.body)

        return await admitted(work)

    return app


FACE_APP_NAME = "vets_face"


def create_face_app_from_environment() -> Sanic:
    from server.config import Settings

    if FACE_APP_NAME in Sanic._app_registry:  # a forked worker: the app the main process built
        return Sanic.get_app(FACE_APP_NAME)
    return create_face_app(Settings(), name=FACE_APP_NAME)


def serve_face_service(settings: Settings, *, host: str, port: int, unix: str | None, workers: int) -> None:
    """``python -m server face-service``: each worker process loads its own engine copy."""
    from sanic.worker.loader import AppLoader

    Sanic.start_method = settings.worker_start_method
    loader = AppLoader(factory=create_face_app_from_environment)
    app = loader.load()
    options: dict[str, Any] = {"unix": unix} if unix else {"host": host, "port": port}
    if workers == 1:
        app.prepare(single_process=True, motd=False, **options)
        Sanic.serve_single(primary=app)
    else:
        app.prepare(workers=workers, motd=False, **options)
        Sanic.serve(primary=app, app_loader=loader)
