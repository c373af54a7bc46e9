"""Imports as background jobs (ID-photo zips, death lists): the registry import's machinery, for any kind.

The upload is checked at once (type, bombs, header; a bad file is refused before a job exists) and kept
under the var directory. A task reads it a chunk of units (rows, zip entries) at a time in a thread and
handles each unit on the event loop; after every chunk the ``ImportBatch`` row gets progress, counts and
the row report (``updated_at`` is the job's heartbeat). A job left ``running`` without a heartbeat (its
process died) is taken over by ``resume_stalled_imports`` and continues after the last unit it finished.
When it ends, one audit entry records the file, its hash and the counts.

A kind plugs in with an ``ImportKind``: how to check and open the file, how to handle one unit, which
outcome statuses count as imported / unchanged / rejected. The registry import (server/registry/jobs.py)
is the same design with its own copy of the loop.

Long writes without a file (filling an opened campaign, sending a published notice's messages) use the
same table, tasks, heartbeat and take-over as a ``TaskKind``: its ``run`` works in chunks that each commit
with the job's progress, so a job taken over continues where the last commit left it.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from tortoise.transactions import in_transaction

from models.org import OrgKind
from models.registry import ImportBatch
from models.staff import Role, Staff
from server.actors import SYSTEM, Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.config import Settings
from server.errors import ApiError, NotFound
from server.periodic import PeriodicJob

log = logging.getLogger("server.import_jobs")

# Row outcomes kept in the report: every unit of a small file; beyond that, the ones that did not succeed.
REPORT_ALL_ROWS = 2000
REPORT_MAX_ROWS = 20_000
STALLED_AFTER = timedelta(minutes=2)
ACTIVE = ("queued", "running")


@dataclass
class JobContext:
    """What a unit handler needs: who started the job (their scope now) and state kept across units."""

    scope: Scope
    actor: Actor
    batch: ImportBatch
    settings: Settings
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportKind:
    kind: str  # ImportBatch.kind
    # Blocking (run in a thread): refuse a bad file now, with an ApiError.
    check_upload: Callable[[str, bytes], None]
    # Blocking and lazy: the units of a stored file; advanced in a thread, a chunk at a time.
    open_units: Callable[[str, bytes], Iterator[Any]]
    # One unit: its outcome for the report (with "row" and "status"), or None for a unit to skip (an empty row).
    handle: Callable[[JobContext, int, Any], Awaitable[dict[str, Any] | None]]
    # Every outcome status, and the ImportBatch column each counts in (imported / unchanged / rejected).
    columns: dict[str, str]
    audit_action: str
    progress_path: str  # formatted with job_id
    authorise: Callable[[Scope], None]
    chunk: int = 200
    # Statuses whose rows are always kept in the report, however many rows the file has.
    success: tuple[str, ...] = ("imported", "unchanged")


@dataclass(frozen=True)
class TaskKind:
    kind: str  # ImportBatch.kind
    # Does (or continues) the work of one job: reads its saved state, commits progress with each chunk, and
    # ends it (status done). Called again after a crash, it must not redo what was committed.
    run: Callable[[ImportBatch], Awaitable[None]]
    failed_message: str = "任务执行中出现系统错误，已完成的部分已保存，请联系管理员"


KINDS: dict[str, ImportKind] = {}
TASKS: dict[str, TaskKind] = {}
_tasks: set[asyncio.Task[None]] = set()


def register(kind: ImportKind) -> ImportKind:
    KINDS[kind.kind] = kind
    return kind


def register_task(kind: TaskKind) -> TaskKind:
    TASKS[kind.kind] = kind
    return kind


async def create_task_job(*, kind: TaskKind, subject_id: int, actor: Actor, total: int = 0) -> ImportBatch:
    """A queued job for ``subject_id``; the caller spawns it once its transaction has committed."""
    return await ImportBatch.create(
        kind=kind.kind, status="queued", file_sha256="", filename="", staff_id=int(actor.id) if actor.type == "staff" and actor.id else None,
        upload_path="", report=[], outcome_counts={}, subject_id=subject_id, total_rows=total,
    )


async def run_to_end(batch_id: int, kind: str) -> ImportBatch:
    """Wait for the job (running here, or started now) to end: the synchronous path for the CLI and tests."""
    task = running_task(batch_id, kind) or spawn(batch_id, kind, None)
    await task
    return await ImportBatch.get(id=batch_id)


def kinds() -> dict[str, ImportKind]:
    """Every kind registered so far (server.services.configure_process imports the modules that register)."""
    return KINDS


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def start_import(*, kind: ImportKind, scope: Scope, actor: Actor, filename: str, data: bytes, settings: Settings) -> ImportBatch:
    kind.authorise(scope)
    await asyncio.to_thread(kind.check_upload, filename, data)
    suffix = Path(filename).suffix.lower()[:8] or ".bin"
    path = settings.var_dir / "imports" / f"{uuid.uuid4().hex}{suffix}"
    await asyncio.to_thread(_write, path, data)
    batch = await ImportBatch.create(
        kind=kind.kind,
        status="queued",
        file_sha256=hashlib.sha256(data).hexdigest(),
        filename=filename[:200],
        staff_id=int(actor.id) if actor.id else None,
        upload_path=str(path),
        report=[],
        outcome_counts={},
    )
    spawn(batch.id, kind.kind, settings)
    return batch


async def start_and_wait(*, kind: ImportKind, scope: Scope, actor: Actor, filename: str, data: bytes, settings: Settings, wait_seconds: float) -> ImportBatch:
    """Start the job and wait (without blocking the event loop) up to ``wait_seconds`` for it to end.

    Small files finish at once and the caller answers with the report; the job continues regardless.
    A file refused while reading raises its ``ApiError`` (with the job id), as an upload check would.
    """
    batch = await wait_for(await start_import(kind=kind, scope=scope, actor=actor, filename=filename, data=data, settings=settings), wait_seconds)
    failed = failure(batch)
    if failed is not None:
        raise ApiError(failed[1], code=failed[0], status=422, job_id=batch.id)
    return batch


async def wait_for(job: ImportBatch, seconds: float) -> ImportBatch:
    """The job as it is after waiting (without blocking the event loop) up to ``seconds`` for it to end
    when it runs in this process."""
    task = running_task(job.id, job.kind)
    if task is not None and seconds > 0:
        await asyncio.wait([task], timeout=seconds)
    return await ImportBatch.get(id=job.id)


def _task_name(kind: str, batch_id: int) -> str:
    return f"{kind}-import-{batch_id}"


def spawn(batch_id: int, kind: str, settings: Settings | None) -> asyncio.Task[None]:
    task = asyncio.create_task(run_import(batch_id, settings), name=_task_name(kind, batch_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


def running_task(batch_id: int, kind: str) -> asyncio.Task[None] | None:
    name = _task_name(kind, batch_id)
    return next((t for t in _tasks if t.get_name() == name and not t.done()), None)


def _take(units: Iterator[Any], count: int) -> list[Any]:
    return list(itertools.islice(units, count))


async def _uploader(batch: ImportBatch) -> tuple[Scope, Actor]:
    staff = await Staff.get(id=batch.staff_id).select_related("org_unit")
    scope = Scope(role=Role(staff.role), org_unit_id=staff.org_unit_id, org_kind=OrgKind(staff.org_unit.kind))
    return scope, Actor(type="staff", id=str(staff.id), role=staff.role.value)


async def run_import(batch_id: int, settings: Settings | None) -> None:
    batch = await ImportBatch.get_or_none(id=batch_id)
    if batch is None or batch.status not in ACTIVE:
        return
    if batch.kind in TASKS:
        await _run_task(TASKS[batch.kind], batch)
        return
    if batch.kind not in kinds() or settings is None:
        return
    try:
        await _run(KINDS[batch.kind], batch, settings)
    except ApiError as exc:
        # "code:message": the code stays machine-readable for the progress endpoint.
        await ImportBatch.filter(id=batch_id).update(status="failed", error=f"{exc.code}:{exc.message}"[:300])
        Path(batch.upload_path).unlink(missing_ok=True)  # a file refused is not kept (it may hold ID numbers)
    except Exception:  # kept on disk for whoever investigates
        log.exception("import failed", extra={"batch_id": batch_id, "kind": batch.kind})
        await ImportBatch.filter(id=batch_id).update(status="failed", error="import_failed:导入过程中出现系统错误，已处理的行已保存，请联系管理员")
    else:
        Path(batch.upload_path).unlink(missing_ok=True)


async def _run_task(kind: TaskKind, batch: ImportBatch) -> None:
    try:
        await ImportBatch.filter(id=batch.id).update(status="running", updated_at=datetime.now(UTC))
        await kind.run(batch)
    except ApiError as exc:
        await ImportBatch.filter(id=batch.id).update(status="failed", error=f"{exc.code}:{exc.message}"[:300])
    except Exception:
        log.exception("job failed", extra={"batch_id": batch.id, "kind": batch.kind})
        await ImportBatch.filter(id=batch.id).update(status="failed", error=f"job_failed:{kind.failed_message}"[:300])


async def job_actor(batch: ImportBatch) -> Actor:
    """Who started the job (the system when no staff member did), for its audit entries."""
    if batch.staff_id is None:
        return SYSTEM
    return (await _uploader(batch))[1]


def _column_counts(kind: ImportKind, counts: dict[str, int]) -> dict[str, int]:
    columns = {"imported": 0, "unchanged": 0, "rejected": 0}
    for status, count in counts.items():
        columns[kind.columns[status]] += count
    return columns


async def _run(kind: ImportKind, batch: ImportBatch, settings: Settings) -> None:
    scope, actor = await _uploader(batch)
    await ImportBatch.filter(id=batch.id).update(status="running")
    data = await asyncio.to_thread(Path(batch.upload_path).read_bytes)
    units = await asyncio.to_thread(kind.open_units, batch.filename, data)
    context = JobContext(scope=scope, actor=actor, batch=batch, settings=settings)
    counts: dict[str, int] = {status: int((batch.outcome_counts or {}).get(status, 0)) for status in kind.columns}
    report: list[dict[str, Any]] = list(batch.report or [])
    done = 0  # units consumed, skipped ones included; a resumed job skips this many
    try:
        while True:
            chunk = await asyncio.to_thread(_take, units, kind.chunk)
            if not chunk:
                break
            for unit in chunk:
                done += 1
                if done <= batch.processed_rows:
                    continue
                outcome = await kind.handle(context, done, unit)
                if outcome is None:
                    continue
                counts[outcome["status"]] += 1
                total = sum(counts.values())
                if len(report) < REPORT_MAX_ROWS and (total <= REPORT_ALL_ROWS or outcome["status"] not in kind.success):
                    report.append(outcome)
            if done > batch.processed_rows:
                await ImportBatch.filter(id=batch.id).update(processed_rows=done, total_rows=sum(counts.values()), report=report, outcome_counts=counts, updated_at=datetime.now(UTC), **_column_counts(kind, counts))
    finally:
        close = getattr(units, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
    total = sum(counts.values())
    # One transaction: whoever sees the job done also finds its audit entry (CI once read "done" in between).
    async with in_transaction():
        await ImportBatch.filter(id=batch.id).update(status="done", processed_rows=done, total_rows=total, report=report, outcome_counts=counts, **_column_counts(kind, counts))
        await audit.record(actor=actor, action=kind.audit_action, entity_type="import_batch", entity_id=batch.id, details={"filename": batch.filename, "file_sha256": batch.file_sha256, "total": total, **counts})


async def resume_stalled_imports(*, settings: Settings, now: datetime | None = None) -> list[int]:
    """Take over jobs of every registered kind (tasks too) whose process died (no heartbeat for a while)."""
    now = now or datetime.now(UTC)
    resumed = []
    for batch in await ImportBatch.filter(kind__in=[*kinds(), *TASKS], status__in=list(ACTIVE), updated_at__lt=now - STALLED_AFTER):
        if running_task(batch.id, batch.kind) is not None:
            continue
        # Claim by compare-and-set on the heartbeat: only one process wins it.
        claimed = await ImportBatch.filter(id=batch.id, updated_at=batch.updated_at).update(status="running", updated_at=now)
        if claimed:
            spawn(batch.id, batch.kind, settings)
            resumed.append(batch.id)
    return resumed


def failure(batch: ImportBatch) -> tuple[str, str] | None:
    """(code, message) of a failed job."""
    if batch.status != "failed":
        return None
    code, _, message = (batch.error or "import_failed:导入失败").partition(":")
    return code, message


class ImportJobError(BaseModel):
    code: str
    message: str


class ImportSummary(BaseModel):
    """A job's rows in the three columns every kind maps its own outcomes to."""

    imported: int
    unchanged: int
    rejected: int


def progress_json(batch: ImportBatch) -> dict[str, Any]:
    """The job as the API and console show it: status, progress, counts (the kind's own and the three
    columns) and the row report."""
    kind = kinds()[batch.kind]
    failed = failure(batch)
    counts = {status: int((batch.outcome_counts or {}).get(status, 0)) for status in kind.columns}
    return {
        "job_id": batch.id,
        "kind": batch.kind,
        "status": batch.status,
        "filename": batch.filename,
        "file_sha256": batch.file_sha256,
        "processed_rows": batch.processed_rows,
        "total": batch.total_rows,
        **counts,
        "summary": {"imported": batch.imported, "unchanged": batch.unchanged, "rejected": batch.rejected},
        "error": {"code": failed[0], "message": failed[1]} if failed else None,
        "rows": batch.report,
        "progress_url": kind.progress_path.format(job_id=batch.id),
    }


async def get_import(*, kind: ImportKind, scope: Scope, actor: Actor, job_id: int) -> ImportBatch:
    """A job, visible to whoever started it (and the admin); any other id reads as absent."""
    batch = await ImportBatch.get_or_none(id=job_id, kind=kind.kind)
    if batch is None or not (scope.is_global or (actor.id is not None and str(batch.staff_id) == actor.id)):
        raise NotFound("导入任务不存在", code="import_not_found")
    return batch


async def _resume_import_jobs(now: datetime, settings: Settings) -> None:
    await resume_stalled_imports(settings=settings, now=now)


PERIODIC_JOBS = [
    # ID-photo zips and death lists whose process died mid-file continue from their last finished row;
    # campaign filling and notice messages from their last committed chunk.
    PeriodicJob(name="import_jobs_resume", interval_seconds=60, run=_resume_import_jobs),
]
