"""The Sanic application factory: settings in, a wired app out (a blueprint per domain)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from server.auth.guard import prefetch
from server.background import background_loop
from server.calendar import service as calendar_service
from server.config import Settings
from server.db import drop_leaked_transaction
from server.errors import register_error_handlers
from server.http.openapi import configure_offline_docs
from server.http.openapi import install as install_contract
from server.http.validation import install_input_guards
from server.logging_setup import configure_logging, request_id_var
from server.miniapp import guard as mini_guard
from server.miniapp import sessions as mini_sessions
from server.notifications.startup import check_templates
from server.security.headers import install_security_headers
from server.services import build_services, configure_process

log = logging.getLogger("server.access")

APP_NAME = "vets_affairs"


def create_app(settings: Settings | None = None) -> Sanic:
    settings = settings or Settings()
    settings.check_production_secrets()
    configure_logging(json_logs=settings.log_json)
    # Here as well as in each worker's build_services: code run before the server starts needs them too.
    configure_process(settings)

    app = Sanic(APP_NAME)
    app.config.REQUEST_MAX_SIZE = settings.uploads.max_request_bytes
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.OAS_UI_DEFAULT = "swagger"
    app.config.OAS_URL_PREFIX = "/docs"
    configure_offline_docs(app)  # before app.ext is first used: it builds /docs from this config
    app.config.ACCESS_LOG = False
    app.config.KEEP_ALIVE_TIMEOUT = 15
    # sanic-ext's automatic HEAD/OPTIONS routes re-finalise the router once per route at every
    # worker start (23 s per worker on a busy 2-core host). Nothing here needs them: no CORS
    # preflights, health checks use GET; HEAD/OPTIONS now answer 405.
    app.config.HTTP_AUTO_HEAD = False
    app.config.HTTP_AUTO_OPTIONS = False
    app.config.CORS_AUTOMATIC_OPTIONS = False
    # SIGTERM: stop accepting, let in-flight requests finish for this long, then exit.
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = settings.shutdown_grace_seconds
    app.ext.openapi.describe(
        "退役军人事务 年度确认与优待证 API",
        version="0.1.0",
        description="Annual confirmation of beneficiaries and preferential-card issuance: mini-program and staff APIs.",
    )
    app.ctx.settings = settings

    register_error_handlers(app)
    install_input_guards(app)
    install_security_headers(app)
    _register_middleware(app)
    _register_listeners(app, settings)
    _register_blueprints(app)
    check_templates(settings)
    install_contract(app)
    return app


def create_app_from_environment() -> Sanic:
    """Factory for Sanic worker processes: each builds its app from the same environment.

    A forked worker already holds the app the main process built (nothing started on it yet):
    it serves that one instead of building a second.
    """
    if APP_NAME in Sanic._app_registry:
        return Sanic.get_app(APP_NAME)
    return create_app(Settings())


def _register_blueprints(app: Sanic) -> None:
    from server.audit.routes import bp as audit_bp
    from server.auth.routes import bp as auth_bp
    from server.calendar.routes import bp as calendar_bp
    from server.cards.mp_plan_routes import mp_plan_bp as cards_mp_plan_bp
    from server.cards.mp_routes import mp_bp as cards_mp_bp
    from server.cards.routes import bp as cards_bp
    from server.confirmation.admin_routes import bp as confirmation_admin_bp
    from server.confirmation.mp_routes import mp_bp as confirmation_mp_bp
    from server.confirmation.routes import bp as confirmation_bp
    from server.console.routes import bp as console_bp
    from server.health import bp as health_bp
    from server.miniapp.routes import bp as miniapp_bp
    from server.miniapp.routes import staff_bp as miniapp_staff_bp
    from server.notifications.routes import bp as notifications_bp
    from server.org.routes import bp as org_bp
    from server.payments.routes import bp as payments_bp
    from server.registry.routes import bp as registry_bp

    for bp in (health_bp, auth_bp, org_bp, registry_bp, audit_bp, miniapp_bp, miniapp_staff_bp, notifications_bp, confirmation_bp, confirmation_mp_bp, confirmation_admin_bp, cards_bp, cards_mp_bp, cards_mp_plan_bp, calendar_bp, console_bp, payments_bp):
        app.blueprint(bp)


def _register_middleware(app: Sanic) -> None:
    @app.on_request
    async def assign_request_id(request: Request) -> None:
        incoming = request.headers.get("x-request-id", "")
        request.ctx.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        request.ctx.started = time.perf_counter()
        request_id_var.set(request.ctx.request_id)
        drop_leaked_transaction()

    @app.on_request
    async def refresh_calendar(request: Request) -> None:
        # Another worker may have changed the calendar: one key-value read keeps every worker's deadlines equal.
        # The same round trip also reads the staff session and the org tree's version for the guard.
        # On a mini-program route the bearer token's session is read in the same round trip too.
        if request.path not in ("/healthz", "/readyz"):
            also = [calendar_service.VERSION_KEY]
            mini_token = mini_guard.bearer_token(request) if request.path.startswith("/api/mp/") else None
            if mini_token:
                also.append(mini_sessions.session_key(mini_token))
            try:
                version, *mini = await prefetch(request, also=also, staff=mini_token is None)
            except Exception:  # store trouble: the calendar keeps its copy and the guard answers 503 on its own read
                await calendar_service.refresh_if_stale(kv=request.app.ctx.kv)
            else:
                if mini_token:
                    request.ctx.mini_session_prefetched = (mini_token, mini[0])
                await calendar_service.refresh_if_stale(kv=request.app.ctx.kv, version=version)

    @app.on_response
    async def log_and_tag(request: Request, response: HTTPResponse) -> None:
        request_id = getattr(request.ctx, "request_id", None)
        if request_id:
            response.headers["X-Request-ID"] = request_id
        started = getattr(request.ctx, "started", None)
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            },
        )


def _register_listeners(app: Sanic, settings: Settings) -> None:
    @app.before_server_start
    async def start_services(app: Sanic) -> None:
        # In-process: models load once per worker, on the face executor, before the first request.
        # With face.service_url only an HTTP client is created (no numpy/OpenCV/onnxruntime import).
        services = await build_services(settings, face=True)
        app.ctx.services = services
        # The names handlers use: request.app.ctx.kv / .wechat / .face.
        app.ctx.kv, app.ctx.wechat, app.ctx.face = services.kv, services.wechat, services.face
        app.ctx.background_stop = asyncio.Event()
        app.ctx.background_task = None

    @app.after_server_start
    async def start_background(app: Sanic) -> None:
        if settings.run_background_jobs:
            app.ctx.background_task = asyncio.create_task(
                background_loop(settings=settings, wechat=app.ctx.wechat, kv=app.ctx.kv, stop=app.ctx.background_stop)
            )

    @app.before_server_stop
    async def stop_background(app: Sanic) -> None:
        app.ctx.background_stop.set()
        if app.ctx.background_task is not None:
            await app.ctx.background_task

    @app.after_server_stop
    async def stop_services(app: Sanic) -> None:
        services = getattr(app.ctx, "services", None)
        if services is not None:
            await services.close()
