"""`python -m server` — serve (default), or run a maintenance command.

    python -m server [--host H] [--port P] [--workers N]
    python -m server migrate
    python -m server seed-demo [--stations 10] [--beneficiaries 3000] [--seed 7]
    python -m server verify-audit
    python -m server anchor-audit
    python -m server check-photos
    python -m server verify-tally [--repair] [--campaign ID]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from server.config import InsecureSettingsError, Settings

T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server", description="Veterans-affairs confirmation and card service")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP server (default)")
    sub.add_parser("migrate", help="apply database migrations")
    seed = sub.add_parser("seed-demo", help="create a realistic demo county")
    seed.add_argument("--stations", type=int, default=10)
    seed.add_argument("--beneficiaries", type=int, default=3000)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--password", default="demo-password-2026", help="password for every demo staff account")
    sub.add_parser("verify-audit", help="verify the audit hash chain against its key and the anchor file (exit 1 if broken)")
    sub.add_parser("anchor-audit", help="append the audit chain's head to the anchor file now")
    sub.add_parser("check-photos", help="quarantine stored reference photos that fail today's decode checks and list them (exit 1 if any)")
    tally = sub.add_parser("verify-tally", help="compare the report counters with the confirmation rows (PostgreSQL); exit 1 on a difference")
    tally.add_argument("--repair", action="store_true", help="also correct the counters (logged)")
    tally.add_argument("--campaign", type=int, default=None, help="only this campaign")
    sub.add_parser("worker", help="run the outbox sender and periodic jobs (a separate process in production)")
    face = sub.add_parser("face-service", help="run face verification as its own service (web workers call it via VETS_FACE__SERVICE_URL)")
    face.add_argument("--unix", default=None, help="listen on this Unix socket instead of host:port")
    face.add_argument("--face-workers", type=int, default=1, help="processes, each with its own model copy")
    return parser


async def _prepare(settings: Settings) -> None:
    """Migrations and the first admin: once, in the main process, before any worker starts."""
    from server.bootstrap import ensure_first_admin

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    admin = await _with_services(
        settings,
        lambda: ensure_first_admin(
            username=settings.admin_username,
            password=settings.admin_password.get_secret_value() if settings.admin_password else None,
        ),
    )
    if admin is not None and admin.password:
        # Printed once: the hash is all that is kept.
        print(f"\n  First admin created: username={admin.username} one-time password={admin.password}\n  (change it after logging in: POST /api/staff/password)\n", flush=True)


async def _with_services(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """A maintenance command: migrations applied, the same services as the app (server/services.py)."""
    from server import db
    from server.services import build_services

    await db.apply_migrations(settings.database.url)
    services = await build_services(settings, pool_max_size=2)
    try:
        return await work()
    finally:
        await services.close()


def _templates_usable(settings: Settings) -> bool:
    """The subscribe-message templates, checked before anything starts: a broken file is named at once
    instead of failing inside the first business transaction that sends a message."""
    from server.notifications.startup import TemplateConfigurationError, check_templates
    from server.notifications.templates import TemplateError

    try:
        check_templates(settings)
    except (TemplateError, TemplateConfigurationError) as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "workers": args.workers}.items() if v is not None}
    settings = Settings(**overrides)
    try:
        settings.check_production_secrets()
        settings.check_workers(settings.workers)
    except InsecureSettingsError as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 2

    command = args.command or "serve"
    if command in ("serve", "worker") and not _templates_usable(settings):
        return 2
    if command == "migrate":
        asyncio.run(_with_services(settings, lambda: asyncio.sleep(0)))
        print("migrations applied")
        return 0
    if command == "verify-audit":
        from server.audit.service import verify_chain

        report = asyncio.run(_with_services(settings, verify_chain))
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return 0 if report.ok else 1
    if command == "anchor-audit":
        from server.audit.service import anchor_head

        line = asyncio.run(_with_services(settings, anchor_head))
        print(json.dumps(line or {"anchored": False}, ensure_ascii=False))
        return 0
    if command == "check-photos":
        from server.registry.photo_checks import quarantine_undecodable_photos

        checked, quarantined = asyncio.run(_with_services(settings, lambda: quarantine_undecodable_photos(media_dir=settings.media_dir, max_pixels=settings.uploads.max_image_pixels)))
        # One line per photo (masked ID number): the stations ask these people for a new photo.
        for photo in quarantined:
            print(json.dumps(photo.to_dict(), ensure_ascii=False))
        print(json.dumps({"checked": checked, "quarantined": len(quarantined)}, ensure_ascii=False))
        return 1 if quarantined else 0
    if command == "verify-tally":
        from server.confirmation.tally import verify

        checks = asyncio.run(_with_services(settings, lambda: verify(campaign_id=args.campaign, repair=args.repair)))
        for check in checks:
            print(json.dumps(check, ensure_ascii=False))
        print(json.dumps({"campaigns": len(checks), "differing": sum(1 for c in checks if not c["ok"]), "repaired": sum(1 for c in checks if c["repaired"])}, ensure_ascii=False))
        return 0 if all(c["ok"] or c["repaired"] for c in checks) else 1
    if command == "worker":
        from server.background import run_worker_process
        from server.logging_setup import configure_logging

        configure_logging(json_logs=settings.log_json)
        asyncio.run(run_worker_process(settings))
        return 0
    if command == "face-service":
        from server.face_remote import serve_face_service

        # Its own port by default (8100) so it can run beside the web server on one host.
        serve_face_service(settings, host=settings.host, port=args.port or 8100, unix=args.unix, workers=args.face_workers)
        return 0
    if command == "seed-demo":
        from server.seed import seed_demo_county

        summary = asyncio.run(_with_services(settings, lambda: seed_demo_county(stations=args.stations, beneficiaries=args.beneficiaries, seed=args.seed, password=args.password)))
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0

    asyncio.run(_prepare(settings))
    _serve(settings)
    return 0


def _serve(settings: Settings) -> None:
    import os

    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    # Workers build their own app from the same environment; pass CLI overrides through it.
    os.environ["VETS_HOST"] = settings.host
    os.environ["VETS_PORT"] = str(settings.port)
    os.environ["VETS_WORKERS"] = str(settings.workers)
    # Sanic kills every worker if one has not acknowledged its start within 30 s; on a busy
    # host four workers importing the app and opening pools took longer, so every start failed.
    from sanic.worker.manager import WorkerManager
    from sanic.worker.process import WorkerProcess

    from server.app import create_app_from_environment

    WorkerManager.THRESHOLD = WorkerProcess.THRESHOLD = int(settings.worker_start_timeout_seconds * 10)  # tenths of a second
    # Forked workers inherit the imported application instead of importing it again each (spawn):
    # they start in about a second and share the interpreter's pages with the main process.
    Sanic.start_method = settings.worker_start_method

    loader = AppLoader(factory=create_app_from_environment)
    app = loader.load()
    if settings.workers == 1:
        app.prepare(host=settings.host, port=settings.port, single_process=True, motd=False)
        Sanic.serve_single(primary=app)
    else:
        app.prepare(host=settings.host, port=settings.port, workers=settings.workers, motd=False)

        @app.main_process_ready
        async def watch_workers(app: Sanic) -> None:
            _start_worker_watchdog(app.manager)

        Sanic.serve(primary=app, app_loader=loader)


def _start_worker_watchdog(manager: Any, *, interval: float = 0.5) -> threading.Thread:
    """Replace any server worker that dies (OOM kill, segfault, kill -9) instead of serving on with fewer.

    Sanic's manager only marks a dead worker FAILED. This thread asks the manager's own monitor
    loop to restart it, through the same channel a worker uses to request its own restart, so
    the manager stays the only thing that touches its process table.
    """
    from sanic.worker.constants import ProcessState

    log = logging.getLogger("server.watchdog")
    settle = (ProcessState.NONE, ProcessState.IDLE, ProcessState.RESTARTING, ProcessState.STARTING, ProcessState.TERMINATED)
    last_restart: dict[str, float] = {}

    def watch() -> None:
        while not manager._shutting_down:
            time.sleep(interval)
            for process in list(manager.transient_processes):
                if manager._shutting_down:
                    return
                if process.state in settle or process.is_alive():
                    continue
                # A worker that crashes at start-up would loop; at most one restart per 5 s each.
                if time.monotonic() - last_restart.get(process.name, 0.0) < 5.0:
                    continue
                last_restart[process.name] = time.monotonic()
                log.warning("worker died; starting a replacement", extra={"worker": process.name, "pid": process.pid, "exitcode": process.exitcode})
                try:
                    manager.monitor_publisher.send(f"{process.name}:")
                except (BrokenPipeError, EOFError, OSError):
                    return

    thread = threading.Thread(target=watch, name="worker-watchdog", daemon=True)
    thread.start()
    return thread


if __name__ == "__main__":
    sys.exit(main())
