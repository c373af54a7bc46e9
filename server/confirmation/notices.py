"""Public notice of the unconfirmed (公告): per village, per station or for the county, names and IDs masked.

Publication is recorded by the server (its date is the server's date, never typed in) together with
its evidence — the printed notice, a photo of each board, a capture of the website page — and the
channels used (县政府网站, 镇街公示栏, 村(社区)公开栏). The 60 days of suspensions.py run from it.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models.confirmation import (
    Campaign,
    Confirmation,
    ConfirmationStatus,
    NoticeEntry,
    NoticeEvidence,
    PublicNotice,
)
from models.org import OrgKind, OrgUnit
from models.registry import ImportBatch, ImportKind
from server import clock, import_jobs, media, xlsx
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.clock import china_today
from server.config import Settings
from server.confirmation.campaigns import get_campaign
from server.db import is_postgres
from server.errors import ApiError, Conflict, NotFound, ValidationFailed
from server.notifications.outbox import notify_beneficiaries
from server.registry.categories import CATEGORY_LABELS

# Everyone not yet confirmed and not deceased is listed in the notice (a pending face-check review too).
UNCONFIRMED = [ConfirmationStatus.PENDING, ConfirmationStatus.IN_REVIEW, ConfirmationStatus.NOT_FOUND, ConfirmationStatus.MOVED]
STATUS_TEXT = {"pending": "未确认", "in_review": "自助确认待核验", "not_found": "未联系上", "moved": "已迁出待核实"}


CHANNELS = {"website": "县政府网站", "town_board": "镇街公示栏", "village_board": "村(社区)公开栏"}


@dataclass
class Evidence:
    channel: str
    data: bytes
    note: str = ""


def mask_name(name: str) -> str:
    """For public display: 张建国 → 张*国, 李四 → 李*, 欧阳小明 → 欧**明."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _unconfirmed_query(*, campaign_id: int, station_id: int | None, village_id: int | None) -> QuerySet[Confirmation]:
    # Moved-out people left the count with a reason (quotas.py): they are not this county's to notice.
    query = Confirmation.filter(campaign_id=campaign_id, status__in=UNCONFIRMED, exclusion__isnull=True)
    if station_id is not None:
        query = query.filter(station_id=station_id)
    if village_id is not None:
        query = query.filter(beneficiary__village_id=village_id)
    return query


# What str.strip() takes off a name, so that PostgreSQL masks exactly as mask_name does.
_WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())

# The entries in one statement: masked as mask_name does, in the notice's order (station, name, id).
_ENTRIES_SQL_POSTGRES = """
INSERT INTO notice_entry (notice_id, seq, beneficiary_id, station_id, name, id_number, category)
SELECT $1, row_number() OVER (ORDER BY c.station_id, b.name, c.id), c.beneficiary_id, c.station_id,
  CASE WHEN char_length(t.name) <= 1 THEN t.name
       ELSE left(t.name, 1) || repeat('*', char_length(t.name) - 2) || CASE WHEN char_length(t.name) = 2 THEN '*' ELSE right(t.name, 1) END END,
  b.id_number_masked, b.category
FROM confirmation c JOIN beneficiary b ON b.id = c.beneficiary_id
CROSS JOIN LATERAL (SELECT btrim(b.name, $2) AS name) t
WHERE c.campaign_id = $3 AND c.status = ANY($4::text[]) AND c.exclusion IS NULL
  AND ($5::int IS NULL OR c.station_id = $5) AND ($6::int IS NULL OR b.village_id = $6)
"""
GENERATE_CHUNK = 5000


async def _fill_entries(conn: Any, notice: PublicNotice) -> int:
    """The notice's entries, inside the caller's transaction: one INSERT ... SELECT on PostgreSQL; elsewhere
    a page of people at a time."""
    if is_postgres():
        async with conn.acquire_connection() as raw:
            status = await raw.execute(_ENTRIES_SQL_POSTGRES, notice.id, _WHITESPACE, notice.campaign_id, [st.value for st in UNCONFIRMED], notice.station_id, notice.village_id)
        return int(status.rsplit(" ", 1)[-1])
    query = _unconfirmed_query(campaign_id=notice.campaign_id, station_id=notice.station_id, village_id=notice.village_id).order_by("station_id", "beneficiary__name", "id")
    seq = 0
    while True:
        page = await query.offset(seq).limit(GENERATE_CHUNK).values("beneficiary_id", "station_id", "beneficiary__name", "beneficiary__id_number_masked", "beneficiary__category")
        if not page:
            return seq
        rows = []
        for person in page:
            seq += 1
            category = person["beneficiary__category"]
            rows.append(NoticeEntry(notice_id=notice.id, seq=seq, beneficiary_id=person["beneficiary_id"], station_id=person["station_id"], name=mask_name(person["beneficiary__name"]), id_number=person["beneficiary__id_number_masked"], category=getattr(category, "value", category)))
        await NoticeEntry.bulk_create(rows, batch_size=1000)


async def start_notice(*, scope: Scope, actor: Actor, campaign_id: int, station_id: int | None, village_id: int | None = None, settings: Settings | None = None) -> tuple[PublicNotice, ImportBatch]:
    """Check the request, then in one short transaction create the notice (generating: no entries yet)
    and the job that lists everyone still unconfirmed in it, for one village, one station or (both None)
    the county. Names and ID numbers are masked; the entries are frozen in the notice (its own rows, written
    by the database from the confirmations: nothing is loaded here) when the job generates them."""
    today = china_today()
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    if village_id is not None:
        village = await OrgUnit.get_or_none(id=village_id, kind=OrgKind.VILLAGE)
        if village is None or village.parent_id is None or not await scope.contains_station(village.parent_id):
            raise NotFound("村(社区)不存在", code="village_not_found")
        if station_id is not None and station_id != village.parent_id:
            raise ValidationFailed("村(社区)不属于该服务站", code="village_not_in_station")
        station_id = village.parent_id
    if station_id is None and scope.org_kind.value == "station":
        station_id = scope.org_unit_id  # a station publishes its own list; district roles the county's
    if station_id is not None:
        await scope.require_station_writable(station_id)
    else:
        scope.require_write()
    if today <= campaign.implementation_end:
        raise Conflict("实施阶段结束后才能生成未确认人员公告", code="not_notice_stage")
    stations = set(await OrgUnit.filter(parent_id=campaign.district_id).values_list("id", flat=True))
    if station_id is not None and station_id not in stations:
        raise NotFound("服务站不属于该区县", code="station_not_found")
    async with in_transaction():
        notice = await PublicNotice.create(campaign=campaign, station_id=station_id, village_id=village_id, entries=[], created_by_staff_id=int(actor.id or 0))
        job = await import_jobs.create_task_job(kind=NOTICE_GENERATE, subject_id=notice.id, actor=actor)
    import_jobs.spawn(job.id, NOTICE_GENERATE.kind, settings)
    return notice, job


async def generate_notice(*, scope: Scope, actor: Actor, campaign_id: int, station_id: int | None, village_id: int | None = None) -> PublicNotice:
    """Generate to the end before returning (the CLI, scripts, benchmarks and tests)."""
    notice, job = await start_notice(scope=scope, actor=actor, campaign_id=campaign_id, station_id=station_id, village_id=village_id)
    job = await import_jobs.run_to_end(job.id, NOTICE_GENERATE.kind)
    failed = import_jobs.failure(job)
    if failed is not None:
        raise ApiError(failed[1], code=failed[0], status=500, job_id=job.id)
    return await PublicNotice.get(id=notice.id)


async def _generate_job(batch: ImportBatch) -> None:
    """The entries, the people count, the job's end and the audit entry in one transaction: the notice is
    complete or still generating, never half listed. The entries are one statement (PostgreSQL) because
    their order (seq: station, name, id) is a sort of everyone listed; done in chunks, each chunk would
    sort what is left again. The transaction writes only the notice's own rows and reads the
    confirmations without locking them; a job whose process died rolled back and is simply run again."""
    notice = await PublicNotice.get(id=batch.subject_id)
    actor = await import_jobs.job_actor(batch)
    async with in_transaction() as conn:
        await NoticeEntry.filter(notice_id=notice.id).delete()
        people = await _fill_entries(conn, notice)
        await PublicNotice.filter(id=notice.id).update(people=people)
        await ImportBatch.filter(id=batch.id).update(status="done", processed_rows=people, total_rows=people, updated_at=datetime.now(UTC))
        await audit.record(actor=actor, action="notice.generated", entity_type="campaign", entity_id=notice.campaign_id, details={"notice_id": notice.id, "station_id": notice.station_id, "village_id": notice.village_id, "people": people, "job_id": batch.id})


NOTICE_GENERATE = import_jobs.register_task(import_jobs.TaskKind(kind=ImportKind.NOTICE_GENERATE.value, run=_generate_job, failed_message="生成公告时出现系统错误，请重新生成公告"))


async def _latest_job(kind: ImportKind, notice: PublicNotice, wait_seconds: float) -> ImportBatch | None:
    """The notice's newest job of ``kind`` (None for notices from before such jobs), waited for as
    ``import_jobs.wait_for`` does when asked to."""
    job = await ImportBatch.filter(kind=kind, subject_id=notice.id).order_by("-id").first()
    if job is None or wait_seconds <= 0:
        return job
    return await import_jobs.wait_for(job, wait_seconds)


async def generation_job(notice: PublicNotice, *, wait_seconds: float = 0) -> ImportBatch | None:
    """The job that generates the notice (None for a notice generated before such jobs), after waiting
    (without blocking the event loop) up to ``wait_seconds`` for it to end when it runs here."""
    return await _latest_job(ImportKind.NOTICE_GENERATE, notice, wait_seconds)


async def wait_generated(notice: PublicNotice, *, wait_seconds: float) -> tuple[PublicNotice, ImportBatch | None]:
    """The notice as it is after waiting up to ``wait_seconds`` for its generation, and that job."""
    job = await generation_job(notice, wait_seconds=wait_seconds)
    return await PublicNotice.get(id=notice.id), job


async def generation_jobs(items: list[PublicNotice]) -> dict[int, ImportBatch]:
    """Each notice's generation job (the latest), in one query, for a list."""
    jobs: dict[int, ImportBatch] = {}
    for job in await ImportBatch.filter(kind=ImportKind.NOTICE_GENERATE, subject_id__in=[n.id for n in items]).order_by("id"):
        jobs[int(job.subject_id or 0)] = job
    return jobs


async def generation_of(*, scope: Scope, notice_id: int, job_id: int) -> tuple[PublicNotice, ImportBatch]:
    """A notice's generation job, visible to whoever sees the notice."""
    notice = await get_notice(scope=scope, notice_id=notice_id)
    job = await ImportBatch.get_or_none(id=job_id, kind=ImportKind.NOTICE_GENERATE, subject_id=notice.id)
    if job is None:
        raise NotFound("任务不存在", code="job_not_found")
    return notice, job


def notice_state(job: ImportBatch | None) -> str:
    """ready (its entries are all there), generating, or failed (generate another)."""
    if job is None or job.status == "done":
        return "ready"
    return "failed" if job.status == "failed" else "generating"


async def require_ready(notice: PublicNotice) -> None:
    """A notice is published, printed or downloaded only once all its entries are there."""
    state = notice_state(await generation_job(notice))
    if state == "generating":
        raise Conflict("公告正在生成，请稍后再试", code="notice_generating")
    if state == "failed":
        raise Conflict("公告生成失败，请重新生成", code="notice_generation_failed")


def generation_json(job: ImportBatch) -> dict[str, Any]:
    """The generation job as the API and console show it."""
    failed = import_jobs.failure(job)
    return {
        "job_id": job.id,
        "notice_id": job.subject_id,
        "status": job.status,
        "people": job.processed_rows if job.status == "done" else None,
        "error": {"code": failed[0], "message": failed[1]} if failed else None,
        "progress_url": f"/api/notices/{job.subject_id}/generation/{job.id}",
        "notice_url": f"/api/notices/{job.subject_id}",
    }


def people_count(notice: PublicNotice) -> int:
    return len(notice.entries) if notice.entries else notice.people


async def _station_names(notice: PublicNotice) -> dict[int, str]:
    campaign = notice.campaign if isinstance(notice.campaign, Campaign) else await Campaign.get(id=notice.campaign_id)
    return dict(await OrgUnit.filter(parent_id=campaign.district_id).values_list("id", "name"))


async def entries_page(notice: PublicNotice, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """Entries ``offset`` .. ``offset + limit`` of the notice in its order, as published (station named,
    name and ID masked, category in words) with beneficiary_id and station_id for internal use."""
    if notice.entries:  # generated before notice_entry
        return list(notice.entries[offset : offset + limit])
    names = await _station_names(notice)
    rows = await NoticeEntry.filter(notice_id=notice.id, seq__gt=offset, seq__lte=offset + limit).order_by("seq").values("beneficiary_id", "station_id", "name", "id_number", "category")
    return [{"station": names.get(r["station_id"], ""), "name": r["name"], "id_number": r["id_number"], "category": CATEGORY_LABELS[r["category"]], "beneficiary_id": r["beneficiary_id"], "station_id": r["station_id"]} for r in rows]


EXPORT_PAGE = 5000


async def iter_entries(notice: PublicNotice, *, page: int = EXPORT_PAGE) -> AsyncIterator[list[dict[str, Any]]]:
    """Every entry, a page at a time (exports and the printed page never hold one list of the county)."""
    offset = 0
    while True:
        rows = await entries_page(notice, offset=offset, limit=page)
        if not rows:
            return
        yield rows
        offset += len(rows)


async def listed_beneficiary_ids(notice: PublicNotice) -> list[int]:
    """Who the notice lists (suspensions count the 60 days from the first notice listing a person)."""
    if notice.entries:
        return [e["beneficiary_id"] for e in notice.entries]
    return list(await NoticeEntry.filter(notice_id=notice.id).order_by("seq").values_list("beneficiary_id", flat=True))


async def list_notices(*, scope: Scope, campaign_id: int) -> list[PublicNotice]:
    await get_campaign(scope=scope, campaign_id=campaign_id)
    items = await PublicNotice.filter(campaign_id=campaign_id).order_by("-id")
    return [n for n in items if n.station_id is None or await scope.contains_station(n.station_id)]


async def get_notice(*, scope: Scope, notice_id: int) -> PublicNotice:
    notice = await PublicNotice.get_or_none(id=notice_id).select_related("campaign")
    if notice is None:
        raise NotFound("公告不存在", code="notice_not_found")
    await get_campaign(scope=scope, campaign_id=notice.campaign_id)
    if notice.station_id is not None:
        await scope.require_station_visible(notice.station_id)
    return notice


def _check_evidence(evidence: list[Evidence]) -> None:
    if not evidence:
        raise ValidationFailed("请上传公告张贴或发布的凭证（打印的公告、公示栏照片或网站截图）", code="evidence_required")
    for item in evidence:
        if item.channel not in CHANNELS:
            raise ValidationFailed(f"未知的公告渠道：{item.channel}", code="bad_channel", allowed=list(CHANNELS))


async def _store_evidence(*, actor: Actor, notice: PublicNotice, evidence: list[Evidence], media_dir: Path) -> list[NoticeEvidence]:
    stored = []
    for item in evidence:
        saved = media.store(media_dir, item.data, category="notices", allowed=media.DOCUMENT_TYPES)
        stored.append(await NoticeEvidence.create(notice_id=notice.id, channel=item.channel, path=saved.path, sha256=saved.sha256, content_type=saved.content_type, note=item.note[:300], staff_id=int(actor.id or 0)))
    return stored


NOTIFY_CHUNK = 2000


async def publish_notice(*, scope: Scope, actor: Actor, notice_id: int, evidence: list[Evidence], media_dir: Path, issuer: str = "", settings: Settings | None = None) -> PublicNotice:
    """Record that the notice is published today (the server's date: the 60 days run from it) with
    its evidence and channels, and queue the job that tells each listed person still unconfirmed."""
    notice = await get_notice(scope=scope, notice_id=notice_id)
    if notice.station_id is not None:
        await scope.require_station_writable(notice.station_id)
    else:
        scope.require_write()
    _check_evidence(evidence)
    now = clock.now()
    published_on = clock.china_today()
    if published_on <= notice.campaign.implementation_end:
        raise Conflict("实施阶段结束后才能发布公告", code="not_notice_stage")
    if notice.published_on is not None:
        raise Conflict("公告已发布", code="notice_already_published")
    # Generation only ends (generating -> ready or failed), so this check cannot go stale before the update.
    await require_ready(notice)
    title, publisher = await notice_heading(notice, issuer=issuer)
    channels = sorted({e.channel for e in evidence})
    async with in_transaction():
        changed = await PublicNotice.filter(id=notice.id, published_on__isnull=True).update(published_on=published_on, published_at=now, published_by_staff_id=int(actor.id or 0), channels=channels)
        if not changed:
            raise Conflict("公告已发布", code="notice_already_published")
        stored = await _store_evidence(actor=actor, notice=notice, evidence=evidence, media_dir=media_dir)
        await audit.record(actor=actor, action="notice.published", entity_type="campaign", entity_id=notice.campaign_id, details={"notice_id": notice.id, "published_on": published_on.isoformat(), "channels": channels, "evidence_sha256": [e.sha256 for e in stored]})
        # The messages are a job that exists exactly when the publication does; it keeps their wording.
        job = await import_jobs.create_task_job(kind=NOTICE_MESSAGES, subject_id=notice.id, actor=actor, total=people_count(notice))
        await ImportBatch.filter(id=job.id).update(outcome_counts={"title": title, "publisher": publisher, "published_on": published_on.isoformat()})
    import_jobs.spawn(job.id, NOTICE_MESSAGES.kind, settings)
    return await PublicNotice.get(id=notice.id)


async def _messages_job(batch: ImportBatch) -> None:
    """Tell the listed people, a chunk of entries at a time, each chunk committed with the job's cursor.
    Only those still unconfirmed now; a person listed in both the county and a station notice is told
    once per campaign (the dedupe key), so a chunk done twice (a job taken over) queues nothing new."""
    notice = await PublicNotice.get(id=batch.subject_id)
    state = dict(batch.outcome_counts or {})
    context = {"notice_id": notice.id, "title": state["title"], "publisher": state["publisher"], "published_on": date.fromisoformat(state["published_on"])}
    offset = int(state.get("offset", 0))
    queued = int(state.get("queued", 0))
    while True:
        entries = await entries_page(notice, offset=offset, limit=NOTIFY_CHUNK)
        if not entries:
            break
        async with in_transaction():
            people = await Confirmation.filter(campaign_id=notice.campaign_id, beneficiary_id__in=[e["beneficiary_id"] for e in entries], status__in=UNCONFIRMED).order_by("beneficiary_id").values_list("beneficiary_id", "station_id")
            queued += await notify_beneficiaries(people=list(people), template_key="notice_published", context=context, dedupe_prefix=f"notice:{notice.campaign_id}")
            offset += len(entries)
            state.update(offset=offset, queued=queued)
            await ImportBatch.filter(id=batch.id).update(processed_rows=offset, outcome_counts=state, updated_at=datetime.now(UTC))
    actor = await import_jobs.job_actor(batch)
    async with in_transaction():
        await ImportBatch.filter(id=batch.id).update(status="done", updated_at=datetime.now(UTC))
        await audit.record(actor=actor, action="notice.people_notified", entity_type="campaign", entity_id=notice.campaign_id, details={"notice_id": notice.id, "job_id": batch.id, "listed": offset, "messages": queued})


NOTICE_MESSAGES = import_jobs.register_task(import_jobs.TaskKind(kind=ImportKind.NOTICE_PUBLISH.value, run=_messages_job, failed_message="发送公告通知时出现系统错误，已发出的通知不会重复，系统将自动继续"))


async def messages_job(notice: PublicNotice, *, wait_seconds: float = 0) -> ImportBatch | None:
    """The notice's messages job, after waiting (without blocking the event loop) up to ``wait_seconds``
    for it to end when it runs here: a small notice's messages are queued before the answer."""
    return await _latest_job(ImportKind.NOTICE_PUBLISH, notice, wait_seconds)


def messages_json(job: ImportBatch | None) -> dict[str, Any] | None:
    """The messages job of a published notice: listed people handled so far, messages queued."""
    if job is None:
        return None
    failed = import_jobs.failure(job)
    return {"job_id": job.id, "status": job.status, "handled": job.processed_rows, "listed": job.total_rows, "messages": int((job.outcome_counts or {}).get("queued", 0)), "error": {"code": failed[0], "message": failed[1]} if failed else None}


async def add_evidence(*, scope: Scope, actor: Actor, notice_id: int, evidence: list[Evidence], media_dir: Path) -> PublicNotice:
    """More proof after publication (another village board, the website page): the channels grow."""
    notice = await get_notice(scope=scope, notice_id=notice_id)
    if notice.station_id is not None:
        await scope.require_station_writable(notice.station_id)
    else:
        scope.require_write()
    _check_evidence(evidence)
    if notice.published_on is None:
        raise Conflict("公告尚未发布", code="notice_not_published")
    async with in_transaction():
        stored = await _store_evidence(actor=actor, notice=notice, evidence=evidence, media_dir=media_dir)
        channels = sorted(set(notice.channels or []) | {e.channel for e in evidence})
        await PublicNotice.filter(id=notice.id).update(channels=channels)
        await audit.record(actor=actor, action="notice.evidence_added", entity_type="campaign", entity_id=notice.campaign_id, details={"notice_id": notice.id, "channels": channels, "evidence_sha256": [e.sha256 for e in stored]})
    return await PublicNotice.get(id=notice.id)


async def list_evidence(*, notice_id: int) -> list[NoticeEvidence]:
    return await NoticeEvidence.filter(notice_id=notice_id).order_by("id")


def evidence_json(e: NoticeEvidence) -> dict[str, Any]:
    return {"id": e.id, "channel": e.channel, "channel_label": CHANNELS.get(e.channel, e.channel), "sha256": e.sha256, "content_type": e.content_type, "note": e.note, "staff_id": e.staff_id, "uploaded_at": e.created_at.isoformat(), "file": f"/api/notice-evidence/{e.id}"}


async def get_evidence(*, scope: Scope, evidence_id: int) -> NoticeEvidence:
    item = await NoticeEvidence.get_or_none(id=evidence_id)
    if item is None:
        raise NotFound("凭证不存在", code="evidence_not_found")
    await get_notice(scope=scope, notice_id=item.notice_id)
    return item


def notice_json(notice: PublicNotice, *, entries: list[dict[str, Any]] | None = None, page: int = 1, page_size: int = 0, generation: ImportBatch | None = None) -> dict[str, Any]:
    """The notice; with ``entries`` (one page of them, from entries_page) for the detail. ``generation``
    is its generation job (its state follows from it; a notice without one is ready)."""
    data: dict[str, Any] = {
        "id": notice.id,
        "campaign_id": notice.campaign_id,
        "station_id": notice.station_id,
        "village_id": notice.village_id,
        "published_on": notice.published_on.isoformat() if notice.published_on else None,
        "published_at": notice.published_at.isoformat() if notice.published_at else None,
        "published_by_staff_id": notice.published_by_staff_id,
        "channels": notice.channels or [],
        "people": people_count(notice),
        "created_at": notice.created_at.isoformat(),
        "state": notice_state(generation),
        "generation": generation_json(generation) if generation is not None else None,
    }
    if entries is not None:
        data["entries"] = [{k: v for k, v in e.items() if k not in ("beneficiary_id", "station_id")} for e in entries]
        data.update(page=page, page_size=page_size)
    return data


async def notice_heading(notice: PublicNotice, *, issuer: str = "") -> tuple[str, str]:
    """The notice's title (with the station, and the village for a village notice) and the issuer:
    ``settings.confirmation.notice_issuer`` when set, otherwise the county office's name."""
    campaign = notice.campaign if isinstance(notice.campaign, Campaign) else await Campaign.get(id=notice.campaign_id)
    district = await OrgUnit.get_or_none(id=campaign.district_id)
    station = await OrgUnit.get_or_none(id=notice.station_id) if notice.station_id else None
    village = await OrgUnit.get_or_none(id=notice.village_id) if notice.village_id else None
    place = "".join(u.name for u in (station, village) if u is not None)
    title = f"{campaign.name}未确认人员公告" + (f"（{place}）" if place else "")
    return title, issuer.strip() or (district.name if district else "县退役军人事务局")


def notice_sheet(notice: PublicNotice, title: str) -> xlsx.StreamSheet:
    """The notice as a streamed sheet: entries read a page at a time, written in write-only mode, so a
    county-wide notice of a million people keeps memory flat (``xlsx.stream_download`` sends it)."""

    async def rows() -> AsyncIterator[list[list[Any]]]:
        index = 0
        async for page in iter_entries(notice):
            numbered = []
            for e in page:
                index += 1
                numbered.append([index, e["station"], e["name"], e["id_number"], e["category"]])
            yield numbered

    return xlsx.StreamSheet(
        title="未确认人员公告",
        header_rows=[[title]],
        headers=["序号", "服务站", "姓名", "身份证号码", "优抚类别"],
        rows=rows(),
        widths=[6, 26, 10, 22, 26],
    )


async def notice_html(notice: PublicNotice, title: str, publisher: str = "县退役军人事务局") -> str:
    """A page to print for the county website, station boards and village (community) boards."""
    parts: list[str] = []
    index = 0
    async for page in iter_entries(notice):
        for e in page:
            index += 1
            parts.append(f"<tr><td>{index}</td><td>{html.escape(e['station'])}</td><td>{html.escape(e['name'])}</td><td>{html.escape(e['id_number'])}</td><td>{html.escape(e['category'])}</td></tr>")
    rows = "".join(parts) or '<tr><td colspan="5">无</td></tr>'
    count = index
    day = notice.published_on or china_today()
    published = f"{day.year}年{day.month}月{day.day}日"
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:"SimSun","Songti SC","Noto Serif CJK SC",serif;margin:2cm;}}h1{{text-align:center;font-size:22pt}}table{{border-collapse:collapse;width:100%;font-size:13pt}}td,th{{border:1px solid #000;padding:4px 8px;text-align:center}}p{{font-size:13pt;line-height:1.8;text-indent:2em}}.sign{{text-align:right;text-indent:0}}tr{{page-break-inside:avoid}}@media print{{body{{margin:1cm}}}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>根据享受国家定期抚恤补助优抚对象年度确认工作安排，以下{count}名优抚对象尚未完成本年度确认。请本人或其家属自公告之日起六十日内，与所在镇（街道）退役军人服务站联系，或通过微信小程序完成线上自助确认。逾期仍未能取得联系、无法确认的，经县级退役军人事务部门审批后，自下月起暂停发放抚恤补助金；完成确认后按规定恢复发放。</p>
<p>为保护个人信息，姓名和身份证号码已作部分隐藏处理。</p>
<table><thead><tr><th>序号</th><th>服务站</th><th>姓名</th><th>身份证号码</th><th>优抚类别</th></tr></thead><tbody>{rows}</tbody></table>
<p class="sign">{html.escape(publisher)}<br>{published}</p></body></html>"""
