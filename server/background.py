"""Background work: the outbox sender and periodic jobs.

In development (one process) they run inside the server; in production a separate
`python -m server worker` process runs them (docker-compose's `worker` service) and the web
workers set VETS_RUN_BACKGROUND_JOBS=false. Running both is safe: notifications are claimed
atomically and each periodic job runs under a key-value lock.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime

from server.config import Settings
from server.kv import KeyValueStore, LockNotAcquired
from server.notifications.worker import OutboxWorker
from server.periodic import PeriodicJob
from server.wechat import WeChatClient

log = logging.getLogger("server.background")


__all__ = ["PeriodicJob", "background_loop", "periodic_jobs", "run_due_jobs", "run_worker_process"]


def periodic_jobs() -> list[PeriodicJob]:
    """Every domain's jobs (its ``jobs.PERIODIC_JOBS``): the domains declare, the worker only collects."""
    from server.audit.jobs import PERIODIC_JOBS as audit_jobs
    from server.calendar.jobs import PERIODIC_JOBS as calendar_jobs
    from server.cards.jobs import PERIODIC_JOBS as card_jobs
    from server.confirmation.jobs import PERIODIC_JOBS as confirmation_jobs
    from server.import_jobs import PERIODIC_JOBS as import_jobs
    from server.registry.jobs import PERIODIC_JOBS as registry_jobs

    return [*calendar_jobs, *registry_jobs, *import_jobs, *audit_jobs, *card_jobs, *confirmation_jobs]


async def run_due_jobs(*, kv: KeyValueStore, settings: Settings, now: datetime | None = None) -> list[str]:
    """Run each job whose interval has passed since its last run, once across all processes."""
    now = now or datetime.now(UTC)
    ran = []
    for job in periodic_jobs():
        last = await kv.get(f"job_last_run:{job.name}")
        if last is not None and now.timestamp() - float(last) < job.interval_seconds:
            continue
        try:
            async with kv.lock(f"job:{job.name}", timeout=600, wait=0.01):
                last = await kv.get(f"job_last_run:{job.name}")
                if last is not None and now.timestamp() - float(last) < job.interval_seconds:
                    continue
                await job.run(now, settings)
                await kv.set(f"job_last_run:{job.name}", str(now.timestamp()))
                ran.append(job.name)
        except LockNotAcquired:
            continue
        except Exception:
            log.exception("periodic job failed", extra={"job": job.name})
    return ran


async def background_loop(*, settings: Settings, wechat: WeChatClient, kv: KeyValueStore, stop: asyncio.Event) -> None:
    outbox = OutboxWorker(wechat=wechat, wechat_settings=settings.wechat, settings=settings.outbox)
    outbox_task = asyncio.create_task(outbox.run_forever(stop))
    while not stop.is_set():
        await run_due_jobs(kv=kv, settings=settings)
        try:
            await asyncio.wait_for(stop.wait(), timeout=30)
        except TimeoutError:
            pass
    await outbox_task


async def run_worker_process(settings: Settings) -> None:
    """`python -m server worker`: the background loop on its own, until SIGTERM/SIGINT."""
    from server.notifications.startup import check_templates
    from server.services import build_services

    # The worker sends the messages: the same template check as the web app's start-up.
    check_templates(settings)
    services = await build_services(settings, pool_max_size=4)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("background worker started")
    try:
        await background_loop(settings=settings, wechat=services.wechat, kv=services.kv, stop=stop)
    finally:
        await services.close()
