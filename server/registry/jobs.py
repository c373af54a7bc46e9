"""Registry imports as background jobs: accepted at once, read off the event loop, resumable.

The upload is checked (type, bombs, header) before it is accepted, kept under the var directory,
and imported by a task: the file is parsed in a thread a chunk at a time, rows are written from
the event loop between chunks, and the ``ImportBatch`` row carries status, progress and the row
report. Every chunk refreshes the batch (``updated_at`` is the job's heartbeat); a batch left
``running`` without a heartbeat (its process died) is taken over by ``resume_stalled_imports``
and continues after the last row it had finished.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from models.org import OrgKind
from models.registry import ImportBatch
from models.staff import Role, Staff
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.config import Settings
from server.db import is_postgres
from server.errors import ApiError, NotFound
from server.periodic import PeriodicJob
from server.registry import importer

log = logging.getLogger("server.registry.jobs")

CHUNK_ROWS = 500
# PostgreSQL registers a chunk set-based (COPY, one merge, one audit entry): bigger chunks, fewer commits.
COPY_CHUNK_ROWS = 5000
# Row outcomes kept in the report: every row of a small file; beyond that, the rejected ones.
REPORT_ALL_ROWS = 2000
REPORT_MAX_ROWS = 20_000
STALLED_AFTER = timedelta(minutes=2)
ACTIVE = ("queued", "running")

_tasks: set[asyncio.Task[None]] = set()


def _check_upload(filename: str, path: Path) -> str:
    """Type, bombs and header, now: a bad file is refused before a job exists. Returns the file's SHA-256."""
    rows = importer.iter_table(filename, path)
    close = getattr(rows, "close", None)
    if close is not None:
        close()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upload_dir(var_dir: Path) -> Path:
    """Where uploads are spooled and kept until their job is done (one file system: moved, not copied)."""
    return var_dir / "imports"


async def start_registry_import(*, scope: Scope, actor: Actor, filename: str, upload: Path, var_dir: Path) -> ImportBatch:
    """Take over the uploaded file at ``upload`` (streamed to disk by the route) as a new import job."""
    scope.require_write()
    try:
        sha256 = await asyncio.to_thread(_check_upload, filename, upload)
    except BaseException:
        upload.unlink(missing_ok=True)
        raise
    suffix = Path(filename).suffix.lower()[:8] or ".bin"
    path = upload_dir(var_dir) / f"{uuid.uuid4().hex}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    upload.replace(path)
    batch = await ImportBatch.create(
        kind="registry",
        status="queued",
        file_sha256=sha256,
        filename=filename[:200],
        staff_id=int(actor.id) if actor.id else None,
        upload_path=str(path),
        report=[],
    )
    spawn(batch.id)
    return batch


def spawn(batch_id: int) -> asyncio.Task[None]:
    task = asyncio.create_task(run_import(batch_id), name=f"registry-import-{batch_id}")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


def running_task(batch_id: int) -> asyncio.Task[None] | None:
    return next((t for t in _tasks if t.get_name() == f"registry-import-{batch_id}" and not t.done()), None)


def _take(rows: Iterator[dict[str, str]], count: int) -> list[dict[str, str]]:
    return list(itertools.islice(rows, count))


async def _uploader(batch: ImportBatch) -> tuple[Scope, Actor]:
    staff = await Staff.get(id=batch.staff_id).select_related("org_unit")
    scope = Scope(role=Role(staff.role), org_unit_id=staff.org_unit_id, org_kind=OrgKind(staff.org_unit.kind))
    return scope, Actor(type="staff", id=str(staff.id), role=staff.role.value)


async def run_import(batch_id: int) -> None:
    batch = await ImportBatch.get_or_none(id=batch_id)
    if batch is None or batch.status not in ACTIVE:
        return
    try:
        await _run(batch)
    except ApiError as exc:
        # "code:message": the code stays machine-readable for the progress endpoint.
        await ImportBatch.filter(id=batch_id).update(status="failed", error=f"{exc.code}:{exc.message}"[:300])
    except Exception:
        log.exception("registry import failed", extra={"batch_id": batch_id})
        await ImportBatch.filter(id=batch_id).update(status="failed", error="import_failed:导入过程中出现系统错误，已处理的行已保存，请联系管理员")
    else:
        Path(batch.upload_path).unlink(missing_ok=True)


async def _run(batch: ImportBatch) -> None:
    scope, actor = await _uploader(batch)
    await ImportBatch.filter(id=batch.id).update(status="running")
    # Read from disk as it goes: the file is never whole in memory.
    rows = await asyncio.to_thread(importer.iter_table, batch.filename, Path(batch.upload_path))
    stations, villages = await importer._station_lookup()
    seen: set[int | str] = set()
    counts = {"imported": batch.imported, "unchanged": batch.unchanged, "rejected": batch.rejected}
    report: list[dict[str, Any]] = list(batch.report or [])
    done = 0  # data rows consumed, empty ones included; resumes skip this many
    set_based = is_postgres()

    def keep(outcome: importer.RowOutcome) -> None:
        counts[outcome.status] += 1
        total = sum(counts.values())
        if len(report) < REPORT_MAX_ROWS and (total <= REPORT_ALL_ROWS or outcome.status == "rejected"):
            report.append(outcome.to_dict())

    # PostgreSQL works on chunk N (its own process, the other core) while this one checks chunk N + 1;
    # chunks still commit one after another, so the progress written is always a prefix of the file.
    writing: asyncio.Task[list[importer.RowOutcome]] | None = None
    while True:
        chunk = await asyncio.to_thread(_take, rows, COPY_CHUNK_ROWS if set_based else CHUNK_ROWS)
        if not chunk:
            break
        first = done
        done += len(chunk)
        if done <= batch.processed_rows:
            continue
        if not set_based:
            for offset, raw in enumerate(chunk, start=first + 1):
                if offset <= batch.processed_rows or not any(raw.values()):
                    continue
                keep(await importer._import_row(scope=scope, actor=actor, row=offset + 1, raw=raw, stations=stations, villages=villages, seen=seen))
            await ImportBatch.filter(id=batch.id).update(processed_rows=done, total_rows=sum(counts.values()), report=report, updated_at=datetime.now(UTC), **counts)
            continue
        # PostgreSQL: check the chunk in Python, then register it set-based in one transaction.
        checked: list[importer.RowOutcome | importer.Candidate] = []
        for offset, raw in enumerate(chunk, start=first + 1):
            if offset <= batch.processed_rows or not any(raw.values()):
                continue
            checked.append(await importer.validate_row(scope=scope, row=offset + 1, raw=raw, stations=stations, villages=villages, seen=seen))
        candidates = [c for c in checked if isinstance(c, importer.Candidate)]

        def progress_after(outcomes: list[importer.RowOutcome], checked: list[Any] = checked, done: int = done) -> dict[str, Any]:
            # Runs inside the chunk's transaction: the progress commits with the rows it counts.
            written = {o.row: o for o in outcomes}
            for item in checked:
                keep(written[item.row] if isinstance(item, importer.Candidate) else item)
            return {"processed_rows": done, "total_rows": sum(counts.values()), "report": report, "updated_at": datetime.now(UTC), **counts}

        if writing is not None:
            await writing
        writing = asyncio.create_task(importer.import_chunk_postgres(actor=actor, batch_id=batch.id, candidates=candidates, on_commit=progress_after))
    if writing is not None:
        await writing
    # One transaction, as the other jobs finish: whoever sees the import done also finds its audit entry.
    async with in_transaction():
        await ImportBatch.filter(id=batch.id).update(status="done", processed_rows=done, total_rows=sum(counts.values()), report=report, **counts)
        await audit.record(actor=actor, action="registry.imported", entity_type="import_batch", entity_id=batch.id, details={"filename": batch.filename, "file_sha256": batch.file_sha256, "total": sum(counts.values()), **counts})


async def resume_stalled_imports(*, now: datetime | None = None) -> list[int]:
    """Take over imports whose process died (no heartbeat for a while); returns their ids."""
    now = now or datetime.now(UTC)
    resumed = []
    for batch in await ImportBatch.filter(kind="registry", status__in=list(ACTIVE), updated_at__lt=now - STALLED_AFTER):
        if running_task(batch.id) is not None:
            continue
        # Claim by compare-and-set on the heartbeat: only one process wins it.
        claimed = await ImportBatch.filter(id=batch.id, updated_at=batch.updated_at).update(status="running", updated_at=now)
        if claimed:
            spawn(batch.id)
            resumed.append(batch.id)
    return resumed


def failure(batch: ImportBatch) -> tuple[str, str] | None:
    """(code, message) of a failed job."""
    if batch.status != "failed":
        return None
    code, _, message = (batch.error or "import_failed:导入失败").partition(":")
    return code, message


def progress_json(batch: ImportBatch) -> dict[str, Any]:
    failed = failure(batch)
    counts = {"total": batch.total_rows, "imported": batch.imported, "unchanged": batch.unchanged, "rejected": batch.rejected}
    return {
        "job_id": batch.id,
        "status": batch.status,
        "filename": batch.filename,
        "file_sha256": batch.file_sha256,
        "processed_rows": batch.processed_rows,
        **counts,
        "error": {"code": failed[0], "message": failed[1]} if failed else None,
        "rows": batch.report,
        "progress_url": f"/api/beneficiaries/imports/{batch.id}",
    }


async def get_import(*, scope: Scope, actor: Actor, job_id: int) -> ImportBatch:
    """An import job, visible to whoever started it (and the admin)."""
    batch = await ImportBatch.get_or_none(id=job_id, kind="registry")
    if batch is None or not (scope.is_global or (actor.id is not None and str(batch.staff_id) == actor.id)):
        raise NotFound("导入任务不存在", code="import_not_found")
    return batch


async def _resume_registry_imports(now: datetime, settings: Settings) -> None:
    await resume_stalled_imports(now=now)


PERIODIC_JOBS = [
    # Registry imports whose process died mid-file continue from their last finished row.
    PeriodicJob(name="registry_import_resume", interval_seconds=60, run=_resume_registry_imports),
]
