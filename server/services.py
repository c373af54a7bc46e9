"""The composition root: settings in, the process's services out, for every kind of process.

The web app (server/app.py), the background worker (``python -m server worker``) and the maintenance
commands (``python -m server migrate|seed-demo|verify-audit|anchor-audit``) all start from
``build_services(settings)`` and end with ``Services.close()``; nothing else opens the database, the
key-value store or the WeChat client.

What each process holds for itself is derived from the settings alone (the field cipher, the audit
key, the template files), so every process computes the same. State that one worker changes and the
others must see is not kept in a process: the working-day calendar lives in the database with a
version token in the key-value store (server/calendar/service.py), sessions and rate limits in the
key-value store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server import db
from server.audit import service as audit_service
from server.auth.scope import attach_store
from server.calendar import service as calendar_service
from server.config import Settings
from server.kv import KeyValueStore, create_store
from server.security.fields import configure_cipher
from server.wechat import WeChatClient


@dataclass
class Services:
    settings: Settings
    kv: KeyValueStore
    wechat: WeChatClient
    # The face engine (in-process, or the face service's client) where this process serves face checks.
    face: Any | None = None

    async def close(self) -> None:
        if self.face is not None:
            from server.face_service import close_face_engine

            await close_face_engine(self.face)
            self.face = None
        await self.wechat.aclose()
        await self.kv.close()
        await db.close_orm()


def configure_process(settings: Settings) -> None:
    """The per-process values that are pure functions of the settings: the same in every process."""
    configure_cipher(settings.security.field_key.get_secret_value())
    audit_service.configure(key=settings.audit.key.get_secret_value(), anchor_path=settings.audit_anchor_path)
    register_import_kinds()


def register_import_kinds() -> None:
    """The background import kinds register when their modules load; a worker resuming jobs needs them all."""
    import server.confirmation.campaigns
    import server.confirmation.deaths
    import server.confirmation.notices
    import server.registry.photo_import  # noqa: F401


def create_kv(settings: Settings) -> KeyValueStore:
    redis = settings.redis
    return create_store(
        redis.url,
        prefix=redis.key_prefix,
        max_connections=redis.max_connections,
        pool_timeout=redis.pool_timeout_seconds,
        socket_timeout=redis.socket_timeout_seconds,
        connect_timeout=redis.connect_timeout_seconds,
    )


async def build_services(settings: Settings, *, pool_max_size: int | None = None, face: bool = False) -> Services:
    """Open what a process needs. ``face``: start the face engine (web workers that serve face checks only).

    The face engine's modules (numpy, OpenCV, onnxruntime) are imported here only when ``face`` is set
    and face checks are enabled; with ``VETS_FACE__SERVICE_URL`` only an HTTP client is made.
    """
    configure_process(settings)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    await db.init_orm(settings.database.url, pool_max_size=pool_max_size or settings.database.pool_max_size)
    kv: KeyValueStore | None = None
    try:
        await audit_service.ensure_audit_head()
        kv = create_kv(settings)
        await calendar_service.load(kv=kv)
        # Org changes made by this process bump the shared version token every worker's tree cache reads.
        attach_store(kv)
    except BaseException:
        if kv is not None:
            await kv.close()
        await db.close_orm()
        raise
    services = Services(settings=settings, kv=kv, wechat=WeChatClient(settings.wechat, kv))
    if face and settings.face.enabled:
        from server.face_service import start_face_engine

        try:
            services.face = await start_face_engine(settings)
        except BaseException:
            await services.close()
            raise
    return services
