"""`python -m server` — serve (default), or run a maintenance command.

    python -m server [--host H] [--port P] [--workers N]
    python -m server migrate
    python -m server seed-demo [--stations 10] [--beneficiaries 3000] [--seed 7]
    python -m server verify-audit
    python -m server anchor-audit
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from server.config import InsecureSettingsError, Settings


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
    sub.add_parser("worker", help="run the outbox sender and periodic jobs (a separate process in production)")
    return parser


async def _prepare(settings: Settings) -> None:
    """Migrations and the first admin: once, in the main process, before any worker starts."""
    from server import db
    from server.audit.service import ensure_audit_head
    from server.bootstrap import ensure_first_admin
    from server.security.fields import configure_cipher

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    configure_cipher(settings.security.field_key.get_secret_value())
    await db.apply_migrations(settings.database.url)
    await db.init_orm(settings.database.url, pool_max_size=2)
    try:
        await ensure_audit_head()
        admin = await ensure_first_admin(
            username=settings.admin_username,
            password=settings.admin_password.get_secret_value() if settings.admin_password else None,
        )
    finally:
        await db.close_orm()
    if admin is not None and admin.password:
        # Printed once: the hash is all that is kept.
        print(f"\n  First admin created: username={admin.username} one-time password={admin.password}\n  (change it after logging in: POST /api/staff/password)\n", flush=True)


async def _with_orm(settings: Settings, work):  # type: ignore[no-untyped-def]
    from server import db
    from server.audit.service import configure as configure_audit
    from server.security.fields import configure_cipher

    configure_cipher(settings.security.field_key.get_secret_value())
    configure_audit(key=settings.audit.key.get_secret_value(), anchor_path=settings.audit_anchor_path)
    await db.apply_migrations(settings.database.url)
    await db.init_orm(settings.database.url, pool_max_size=2)
    try:
        return await work()
    finally:
        await db.close_orm()


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

    # Every command that may append to the audit chain (first admin, seed, worker jobs) uses the real key.
    from server.audit.service import configure as configure_audit

    configure_audit(key=settings.audit.key.get_secret_value(), anchor_path=settings.audit_anchor_path)
    command = args.command or "serve"
    if command == "migrate":
        asyncio.run(_with_orm(settings, lambda: asyncio.sleep(0)))
        print("migrations applied")
        return 0
    if command == "verify-audit":
        from server.audit.service import verify_chain

        report = asyncio.run(_with_orm(settings, verify_chain))
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return 0 if report.ok else 1
    if command == "anchor-audit":
        from server.audit.service import anchor_head

        line = asyncio.run(_with_orm(settings, anchor_head))
        print(json.dumps(line or {"anchored": False}, ensure_ascii=False))
        return 0
    if command == "worker":
        from server.background import run_worker_process
        from server.logging_setup import configure_logging

        configure_logging(json_logs=settings.log_json)
        asyncio.run(run_worker_process(settings))
        return 0
    if command == "seed-demo":
        from server.seed import seed_demo_county

        summary = asyncio.run(_with_orm(settings, lambda: seed_demo_county(stations=args.stations, beneficiaries=args.beneficiaries, seed=args.seed, password=args.password)))
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
    from server.app import create_app_from_environment

    loader = AppLoader(factory=create_app_from_environment)
    app = loader.load()
    if settings.workers == 1:
        app.prepare(host=settings.host, port=settings.port, single_process=True, motd=False)
        Sanic.serve_single(primary=app)
    else:
        from sanic.worker.manager import WorkerManager

        # Sanic gives up on workers that have not acknowledged start-up within 30 s; on a busy two-core
        # machine four workers importing the stack can take longer. Measured in tenths of a second.
        WorkerManager.THRESHOLD = int(settings.worker_start_timeout_seconds * 10)
        app.prepare(host=settings.host, port=settings.port, workers=settings.workers, motd=False)
        Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    sys.exit(main())
