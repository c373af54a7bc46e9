"""Campaigns: a yearly confirmation per county; opening one creates a pending confirmation per person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Max, Min
from tortoise.transactions import in_transaction

from models.confirmation import Campaign, CampaignStatus, Confirmation, ConfirmationStatus
from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary, Category, ImportBatch, ImportKind, PaymentStatus
from server import clock, import_jobs
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.config import Settings
from server.confirmation import rules
from server.db import is_postgres
from server.errors import ApiError, Conflict, Forbidden, NotFound, ValidationFailed


@dataclass
class CampaignDates:
    reference_date: date
    publicity_start: date
    publicity_end: date
    implementation_start: date
    implementation_end: date
    notice_start: date
    notice_end: date
    summary_start: date
    summary_end: date


def default_dates(year: int) -> CampaignDates:
    """The 2021 document's calendar, moved to ``year``."""
    return CampaignDates(
        reference_date=date(year, 10, 16),
        publicity_start=date(year, 10, 10),
        publicity_end=date(year, 10, 15),
        implementation_start=date(year, 10, 16),
        implementation_end=date(year, 11, 30),
        notice_start=date(year, 12, 1),
        notice_end=date(year + 1, 1, 29),
        summary_start=date(year, 12, 10),
        summary_end=date(year, 12, 15),
    )


def _check_dates(d: CampaignDates) -> None:
    ordered = [d.publicity_start, d.publicity_end, d.implementation_start, d.implementation_end, d.notice_start, d.notice_end]
    if any(a > b for a, b in zip(ordered, ordered[1:], strict=False)):
        raise ValidationFailed("各阶段日期须依次排列（宣传→实施→公告停发）", code="campaign_dates_out_of_order")
    if d.summary_start > d.summary_end:
        raise ValidationFailed("总结阶段开始日期晚于结束日期", code="campaign_dates_out_of_order")


def campaign_json(c: Campaign, *, today: date | None = None) -> dict[str, Any]:
    return {
        "id": c.id,
        "district_id": c.district_id,
        "year": c.year,
        "name": c.name,
        "status": c.status.value,
        "stage": rules.stage_on(c, today or clock.china_today()).value,
        "reference_date": c.reference_date.isoformat(),
        "publicity": [c.publicity_start.isoformat(), c.publicity_end.isoformat()],
        "implementation": [c.implementation_start.isoformat(), c.implementation_end.isoformat()],
        "notice": [c.notice_start.isoformat(), c.notice_end.isoformat()],
        "summary": [c.summary_start.isoformat(), c.summary_end.isoformat()],
        "categories": c.categories,
        "opened_at": c.opened_at.isoformat() if c.opened_at else None,
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
    }


async def _district_for(scope: Scope, district_id: int | None) -> OrgUnit:
    if district_id is None:
        if scope.org_kind != OrgKind.DISTRICT:
            raise ValidationFailed("请指定区县", code="district_required")
        district_id = scope.org_unit_id
    district = await OrgUnit.get_or_none(id=district_id, kind=OrgKind.DISTRICT)
    if district is None:
        raise NotFound("区县不存在", code="district_not_found")
    stations = await OrgUnit.filter(parent_id=district.id, kind=OrgKind.STATION).values_list("id", flat=True)
    visible = await scope.station_ids()
    if visible is not None and not set(stations) <= set(visible):
        raise Forbidden("不能管理其他区县的年度确认", code="out_of_scope")
    return district


async def create_campaign(*, scope: Scope, actor: Actor, year: int, name: str | None, district_id: int | None, dates: CampaignDates | None, categories: list[Category] | None) -> Campaign:
    scope.require_write()
    district = await _district_for(scope, district_id)
    dates = dates or default_dates(year)
    _check_dates(dates)
    chosen = [c.value for c in (categories or rules.PERIODIC_CATEGORIES)]
    async with in_transaction():
        try:
            campaign = await Campaign.create(district=district, year=year, name=name or f"{year}年度优抚对象年度确认", categories=chosen, created_by_staff_id=int(actor.id or 0), **dates.__dict__)
        except IntegrityError as exc:
            raise Conflict("该区县本年度的年度确认已创建", code="campaign_exists") from exc
        await audit.record(actor=actor, action="campaign.created", entity_type="campaign", entity_id=campaign.id, after=campaign_json(campaign))
    return campaign


async def get_campaign(*, scope: Scope, campaign_id: int) -> Campaign:
    campaign = await Campaign.get_or_none(id=campaign_id)
    if campaign is None:
        raise NotFound("年度确认不存在", code="campaign_not_found")
    if not scope.is_global:
        stations = await OrgUnit.filter(parent_id=campaign.district_id, kind=OrgKind.STATION).values_list("id", flat=True)
        visible = await scope.station_ids() or frozenset()
        if not set(stations) & set(visible):
            raise NotFound("年度确认不存在", code="campaign_not_found")
    return campaign


async def list_campaigns(*, scope: Scope) -> list[Campaign]:
    campaigns = await Campaign.all().order_by("-year")
    if scope.is_global:
        return campaigns
    visible = await scope.station_ids() or frozenset()
    districts = set(await OrgUnit.filter(id__in=list(visible)).values_list("parent_id", flat=True))
    return [c for c in campaigns if c.district_id in districts]


# People are added to an opened campaign by a background job (server/import_jobs.py), in chunks of
# beneficiary ids, each its own transaction committed with the job's progress: no lock is held longer than
# one chunk, the request that opens answers at once, and a job whose process died is taken over and goes on
# from its last committed chunk.
OPEN_CHUNK_IDS = 50_000


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one: born on 28 February is already that age
        return day.replace(year=day.year - years, day=28)


_FILL_SQL_POSTGRES = """
INSERT INTO confirmation (campaign_id, beneficiary_id, station_id, age_bracket, status, home_visited, reviewed,
  failed_attempts, self_service_locked, recheck_note, exclusion_note, version, created_at, updated_at)
SELECT $1, b.id, b.station_id,
  CASE WHEN b.birth_date <= $2 THEN '80_plus' WHEN b.birth_date <= $3 THEN '70_79' ELSE 'under_70' END,
  'pending', FALSE, FALSE, 0, FALSE, '', '', 1, now(), now()
FROM beneficiary b
WHERE b.id >= $4 AND b.id < $5 AND b.station_id = ANY($6::int[]) AND b.on_periodic_payment
  AND b.payment_status = ANY($7::text[]) AND b.category = ANY($8::text[])
ON CONFLICT (campaign_id, beneficiary_id) DO NOTHING
"""

_IN_SCOPE = [PaymentStatus.ACTIVE.value, PaymentStatus.SUSPENDED.value]


def _categories(campaign: Campaign) -> list[str]:
    return [getattr(c, "value", c) for c in campaign.categories]


async def _fill_chunk(conn: Any, campaign: Campaign, stations: list[int], low: int, high: int) -> int:
    """Pending confirmations for the people with ids in [low, high) not yet in the campaign, inside the
    caller's transaction ``conn``."""
    if is_postgres():
        # Set-based: the age bracket is a comparison with two cut-off dates (see rules.age_bracket).
        ref = campaign.reference_date
        async with conn.acquire_connection() as raw:
            status = await raw.execute(_FILL_SQL_POSTGRES, campaign.id, _years_before(ref, 80), _years_before(ref, 70), low, high, stations, _IN_SCOPE, _categories(campaign))
        return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 <rows>"
    people = await Beneficiary.filter(id__gte=low, id__lt=high, station_id__in=stations, on_periodic_payment=True, payment_status__in=_IN_SCOPE, category__in=_categories(campaign)).values("id", "station_id", "birth_date")
    if not people:
        return 0
    present = set(await Confirmation.filter(campaign_id=campaign.id, beneficiary_id__gte=low, beneficiary_id__lt=high).values_list("beneficiary_id", flat=True))
    rows = [
        Confirmation(campaign_id=campaign.id, beneficiary_id=p["id"], station_id=p["station_id"], age_bracket=rules.age_bracket(p["birth_date"], campaign.reference_date))
        for p in people
        if p["id"] not in present
    ]
    await Confirmation.bulk_create(rows, batch_size=1000)
    return len(rows)


async def _stations(campaign: Campaign) -> list[int]:
    return list(await OrgUnit.filter(parent_id=campaign.district_id, kind=OrgKind.STATION).values_list("id", flat=True))


async def _fill_job(batch: ImportBatch) -> None:
    """The job's work: every chunk of ids from the saved cursor on, each committed with the progress."""
    campaign = await Campaign.get(id=batch.subject_id)
    stations = await _stations(campaign)
    state = dict(batch.outcome_counts or {})
    resumed = "next_low" in state
    if "expected" not in state:
        state["expected"] = await Beneficiary.filter(station_id__in=stations, on_periodic_payment=True, payment_status__in=_IN_SCOPE, category__in=_categories(campaign)).count() if stations else 0
        await ImportBatch.filter(id=batch.id).update(total_rows=state["expected"], outcome_counts=state, updated_at=datetime.now(UTC))
    found = await Beneficiary.filter(station_id__in=stations).annotate(low=Min("id"), high=Max("id")).values("low", "high") if stations else []
    bounds = found[0] if found and found[0]["low"] is not None else None
    added = batch.processed_rows
    if bounds is not None:
        low = int(state.get("next_low", bounds["low"]))
        while low <= bounds["high"]:
            async with in_transaction() as conn:
                added += await _fill_chunk(conn, campaign, stations, low, low + OPEN_CHUNK_IDS)
                state["next_low"] = low + OPEN_CHUNK_IDS
                await ImportBatch.filter(id=batch.id).update(processed_rows=added, outcome_counts=state, updated_at=datetime.now(UTC))
            low += OPEN_CHUNK_IDS
    people = await Confirmation.filter(campaign_id=campaign.id).count()
    actor = await import_jobs.job_actor(batch)
    async with in_transaction():
        await ImportBatch.filter(id=batch.id).update(status="done", processed_rows=added, outcome_counts={**state, "people": people}, updated_at=datetime.now(UTC))
        await audit.record(actor=actor, action="campaign.people_added", entity_type="campaign", entity_id=campaign.id, details={"people": people, "added": added, "job_id": batch.id, "resumed": resumed})


CAMPAIGN_FILL = import_jobs.register_task(import_jobs.TaskKind(kind=ImportKind.CAMPAIGN_OPEN.value, run=_fill_job, failed_message="开启年度确认时出现系统错误，已加入的人员已保存，系统将自动继续，请联系管理员"))


async def start_opening(*, scope: Scope, actor: Actor, campaign_id: int, settings: Settings | None = None) -> ImportBatch:
    """Open the campaign (one short transaction) and queue the job that adds a pending confirmation for
    every person in scope (periodic payments, listed categories). Two clerks opening at once get the same
    job. Asking again while the job runs answers that job; after a job that failed, or for a campaign opened
    before jobs existed, it starts one that adds whoever is missing; once filled, it is a conflict."""
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    await _district_for(scope, campaign.district_id)
    async with in_transaction():
        # One asker at a time decides (PostgreSQL: the campaign row is locked until this commits).
        await Campaign.filter(id=campaign.id).select_for_update().first()
        changed = await Campaign.filter(id=campaign.id, status=CampaignStatus.DRAFT).update(status=CampaignStatus.OPEN, opened_at=datetime.now(UTC))
        if changed:
            await audit.record(actor=actor, action="campaign.opened", entity_type="campaign", entity_id=campaign.id)
        elif not await Campaign.filter(id=campaign.id, status=CampaignStatus.OPEN).exists():
            raise Conflict("该年度确认已开启", code="campaign_already_open")
        else:
            last = await ImportBatch.filter(kind=ImportKind.CAMPAIGN_OPEN, subject_id=campaign.id).order_by("-id").first()
            if last is not None and last.status in import_jobs.ACTIVE:
                return last
            if last is not None and last.status == "done":
                raise Conflict("该年度确认已开启", code="campaign_already_open", job_id=last.id)
        job = await import_jobs.create_task_job(kind=CAMPAIGN_FILL, subject_id=campaign.id, actor=actor)
    import_jobs.spawn(job.id, CAMPAIGN_FILL.kind, settings)
    return job


async def open_campaign(*, scope: Scope, actor: Actor, campaign_id: int) -> dict[str, int]:
    """Open and fill to the end before returning (the CLI, the seed, scripts and tests)."""
    job = await start_opening(scope=scope, actor=actor, campaign_id=campaign_id)
    job = await import_jobs.run_to_end(job.id, CAMPAIGN_FILL.kind)
    failed = import_jobs.failure(job)
    if failed is not None:
        raise ApiError(failed[1], code=failed[0], status=500, job_id=job.id)
    return {"created": job.processed_rows, "people": await Confirmation.filter(campaign_id=campaign_id).count()}


async def latest_opening(*, campaign_id: int) -> ImportBatch | None:
    return await ImportBatch.filter(kind=ImportKind.CAMPAIGN_OPEN, subject_id=campaign_id).order_by("-id").first()


async def opening_job(*, scope: Scope, job_id: int) -> ImportBatch:
    """A campaign-opening job, visible to whoever sees its campaign."""
    job = await ImportBatch.get_or_none(id=job_id, kind=ImportKind.CAMPAIGN_OPEN)
    if job is None or job.subject_id is None:
        raise NotFound("任务不存在", code="job_not_found")
    try:
        await get_campaign(scope=scope, campaign_id=job.subject_id)
    except NotFound:
        raise NotFound("任务不存在", code="job_not_found") from None
    return job


def opening_json(job: ImportBatch) -> dict[str, Any]:
    """The job as the API and console show it: people added so far of those expected."""
    failed = import_jobs.failure(job)
    state = job.outcome_counts or {}
    return {
        "job_id": job.id,
        "campaign_id": job.subject_id,
        "status": job.status,
        "created": job.processed_rows,
        "expected": job.total_rows,
        "people": state.get("people"),
        "error": {"code": failed[0], "message": failed[1]} if failed else None,
        "progress_url": f"/api/campaigns/{job.subject_id}/opening/{job.id}",
    }


async def current_confirmation(*, beneficiary_id: int) -> Confirmation | None:
    return await Confirmation.filter(beneficiary_id=beneficiary_id, campaign__status=CampaignStatus.OPEN).order_by("-campaign__year").select_related("campaign").first()


def confirmation_json(c: Confirmation, beneficiary: Beneficiary | None = None) -> dict[str, Any]:
    data = {
        "id": c.id,
        "campaign_id": c.campaign_id,
        "beneficiary_id": c.beneficiary_id,
        "station_id": c.station_id,
        "age_bracket": c.age_bracket.value,
        "status": c.status.value,
        "method": c.method.value if c.method else None,
        "home_visited": c.home_visited,
        "reviewed": c.reviewed,
        "confirmed_at": c.confirmed_at.isoformat() if c.confirmed_at else None,
        "failed_attempts": c.failed_attempts,
        "self_service_locked": c.self_service_locked,
        "recheck_status": c.recheck_status,
        "recheck_note": c.recheck_note,
        "version": c.version,
    }
    if beneficiary is not None:
        data.update(name=beneficiary.name, id_number=beneficiary.id_number_masked, phone=beneficiary.phone, address=beneficiary.address)
    return data


async def list_confirmations(
    *, scope: Scope, campaign_id: int, station_id: int | None, status: ConfirmationStatus | None, age_bracket: str | None, page: int, page_size: int,
    method: str | None = None, recheck_status: str | None = None,
) -> tuple[list[Confirmation], int]:
    """``recheck_status``: accepted / questioned, or ``none`` for records the bureau has not re-checked."""
    await get_campaign(scope=scope, campaign_id=campaign_id)
    query = await scope.filter_by_station(Confirmation.filter(campaign_id=campaign_id))
    if method is not None:
        query = query.filter(method=method)
    if recheck_status == "none":
        query = query.filter(recheck_status__isnull=True)
    elif recheck_status is not None:
        query = query.filter(recheck_status=recheck_status)
    if station_id is not None:
        query = query.filter(station_id=station_id)
    if status is not None:
        query = query.filter(status=status)
    if age_bracket is not None:
        query = query.filter(age_bracket=age_bracket)
    total = await query.count()
    items = await query.select_related("beneficiary").order_by("station_id", "id").offset((page - 1) * page_size).limit(page_size)
    return items, total


async def close_campaign(*, scope: Scope, actor: Actor, campaign_id: int) -> Campaign:
    """The bureau closes a campaign once implementation is over (server's date). A closed campaign
    takes no more records, and its periodic jobs (Friday reports, reminders) stop: they only run
    for open campaigns. Suspensions and resumptions already decided stand."""
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    await _district_for(scope, campaign.district_id)
    if campaign.status == CampaignStatus.CLOSED:
        raise Conflict("该年度确认已结束", code="campaign_closed")
    if campaign.status != CampaignStatus.OPEN:
        raise Conflict("该年度确认尚未开启", code="campaign_not_open")
    if clock.china_today() <= campaign.implementation_end:
        raise Conflict("实施阶段结束后才能结束本年度确认", code="implementation_not_over", implementation_end=campaign.implementation_end.isoformat())
    async with in_transaction():
        changed = await Campaign.filter(id=campaign.id, status=CampaignStatus.OPEN).update(status=CampaignStatus.CLOSED, closed_at=clock.now(), closed_by_staff_id=int(actor.id or 0))
        if not changed:
            raise Conflict("该年度确认已结束", code="campaign_closed")
        await audit.record(actor=actor, action="campaign.closed", entity_type="campaign", entity_id=campaign.id, details={"year": campaign.year})
    return await Campaign.get(id=campaign.id)
