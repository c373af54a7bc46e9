"""Spot checks (抽查): at least two random samples of confirmed people a year, re-drawable from the seed."""

from __future__ import annotations

import hashlib
import random
import secrets
from datetime import UTC, date, datetime
from typing import Any

from tortoise.transactions import in_transaction

from models.audit import AuditEntry
from models.confirmation import (
    Confirmation,
    ConfirmationStatus,
    SpotCheck,
    SpotCheckItem,
)
from models.org import OrgKind, OrgUnit
from models.staff import Role
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.clock import china_today
from server.confirmation.campaigns import get_campaign
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed

MIN_SPOT_CHECKS_PER_YEAR = 2
RESULTS = ("verified", "discrepancy", "not_reached")


async def _population(campaign_id: int) -> list[int]:
    return await Confirmation.filter(campaign_id=campaign_id, status=ConfirmationStatus.CONFIRMED).order_by("id").values_list("id", flat=True)


def population_digest(population: list[int]) -> str:
    """A fingerprint of the ordered population, recorded in the audit log with the seed."""
    return hashlib.sha256(",".join(map(str, population)).encode()).hexdigest()


def draw(population: list[int], *, seed: str, size: int) -> list[int]:
    """The sample is a pure function of the ordered population and the seed: anyone can re-draw it."""
    return sorted(random.Random(seed).sample(population, min(size, len(population))))


async def draw_spot_check(*, scope: Scope, actor: Actor, campaign_id: int, size: int | None, percentage: float | None, seed: str | None, today: date | None = None) -> SpotCheck:
    """Draw ``size`` people (or ``percentage`` % of them) from everyone confirmed in the campaign, with
    ``random.Random(seed).sample`` over their confirmation ids in id order. The seed, the population
    size and its digest are recorded so anyone can re-draw the same sample."""
    scope.require_role(Role.CENTRE, Role.BUREAU)
    scope.require_write()
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    await _require_whole_district(scope, campaign.district_id)
    if (today or china_today()) <= campaign.implementation_end:
        raise Conflict("集中确认阶段结束后才能抽查", code="implementation_not_finished")
    population = await _population(campaign.id)
    if not population:
        raise Conflict("没有已确认的人员可供抽查", code="nothing_to_sample")
    if size is None:
        if percentage is None or not 0 < percentage <= 100:
            raise ValidationFailed("请给出抽查人数或比例（0-100%）", code="sample_size_required")
        size = max(1, round(len(population) * percentage / 100))
    seed = seed or secrets.token_hex(8)
    chosen = draw(population, seed=seed, size=size)
    stations = dict(await Confirmation.filter(id__in=chosen).values_list("id", "station_id"))
    async with in_transaction():
        check = await SpotCheck.create(campaign=campaign, seed=seed, sample_size=len(chosen), population=len(population), drawn_by_staff_id=int(actor.id or 0))
        await SpotCheckItem.bulk_create([SpotCheckItem(spot_check_id=check.id, confirmation_id=cid, station_id=stations[cid]) for cid in chosen])
        await audit.record(actor=actor, action="spot_check.drawn", entity_type="campaign", entity_id=campaign.id, details={"spot_check_id": check.id, "seed": seed, "population": len(population), "population_sha256": population_digest(population), "sample": chosen})
    return check


async def verify_draw(*, scope: Scope, spot_check_id: int) -> dict[str, Any]:
    """Re-draw from the recorded seed over the population of that moment and compare with the stored
    sample. The population is rebuilt as everyone confirmed at the time of the draw (in id order); its
    size and digest are compared with what the draw recorded, so a population that has changed since
    (a confirmed person later found deceased, say) is reported rather than silently mismatched."""
    check = await _get(scope=scope, spot_check_id=spot_check_id)
    items = sorted(await SpotCheckItem.filter(spot_check_id=check.id).values_list("confirmation_id", flat=True))
    population = await Confirmation.filter(campaign_id=check.campaign_id, status=ConfirmationStatus.CONFIRMED, confirmed_at__lte=check.created_at).order_by("id").values_list("id", flat=True)
    recorded = await AuditEntry.filter(action="spot_check.drawn", entity_type="campaign", entity_id=str(check.campaign_id)).order_by("-id").values_list("summary", flat=True)
    details = [s.get("details", {}) for s in recorded if isinstance(s, dict)]
    recorded_digest = next((d.get("population_sha256") for d in details if d.get("spot_check_id") == check.id), None)
    redrawn = draw(population, seed=check.seed, size=check.sample_size)
    return {
        "spot_check_id": check.id,
        "seed": check.seed,
        "sample_size": check.sample_size,
        "population": check.population,
        "population_now": len(population),
        "population_unchanged": len(population) == check.population and (recorded_digest is None or recorded_digest == population_digest(population)),
        "matches": redrawn == items,
        "sample": items,
        "redrawn": redrawn,
    }


async def _require_whole_district(scope: Scope, district_id: int) -> None:
    """The county draws: the sample is over the whole district, so only a district-wide role may."""
    stations = await OrgUnit.filter(parent_id=district_id, kind=OrgKind.STATION).values_list("id", flat=True)
    visible = await scope.station_ids()
    if visible is not None and not set(stations) <= set(visible):
        raise Forbidden("只有区县可以组织抽查", code="out_of_scope")


async def _get(*, scope: Scope, spot_check_id: int) -> SpotCheck:
    check = await SpotCheck.get_or_none(id=spot_check_id)
    if check is None:
        raise NotFound("抽查不存在", code="spot_check_not_found")
    await get_campaign(scope=scope, campaign_id=check.campaign_id)
    return check


async def record_result(*, scope: Scope, actor: Actor, item_id: int, result: str, notes: str) -> SpotCheckItem:
    if result not in RESULTS:
        raise ValidationFailed("抽查结果不正确", code="bad_spot_check_result")
    item = await SpotCheckItem.get_or_none(id=item_id)
    if item is None:
        raise NotFound("抽查对象不存在", code="spot_check_item_not_found")
    await scope.require_station_writable(item.station_id)
    async with in_transaction():
        await SpotCheckItem.filter(id=item.id).update(result=result, notes=notes, checked_by_staff_id=int(actor.id or 0), checked_at=datetime.now(UTC))
        await audit.record(actor=actor, action="spot_check.result", entity_type="confirmation", entity_id=item.confirmation_id, details={"item_id": item.id, "result": result, "notes": notes})
    return await SpotCheckItem.get(id=item.id)


async def spot_check_status(*, scope: Scope, campaign_id: int) -> dict[str, Any]:
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    checks = await SpotCheck.filter(campaign_id=campaign.id).order_by("id")
    done = len(checks)
    return {
        "campaign_id": campaign.id,
        "spot_checks": [{"id": c.id, "seed": c.seed, "sample_size": c.sample_size, "population": c.population, "drawn_at": c.created_at.isoformat()} for c in checks],
        "required_per_year": MIN_SPOT_CHECKS_PER_YEAR,
        "warning": None if done >= MIN_SPOT_CHECKS_PER_YEAR else f"本年度抽查仅{done}次，少于规定的{MIN_SPOT_CHECKS_PER_YEAR}次",
    }


async def list_items(*, scope: Scope, spot_check_id: int) -> list[SpotCheckItem]:
    check = await _get(scope=scope, spot_check_id=spot_check_id)
    query = await scope.filter_by_station(SpotCheckItem.filter(spot_check_id=check.id))
    return await query.select_related("confirmation__beneficiary").order_by("station_id", "id")
