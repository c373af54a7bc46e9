"""Progress reports: station × age bracket × method, home-visit quotas, the Friday report, the summary.

Counting rules live in ``quotas.py`` (successful visits only; the dead and the moved-out leave the
count to confirm with their reason; people living away are outside the home-visit base) and
``first_year.py`` (everyone met in person in a county's first campaign). The XLSX shows the same
numbers as the JSON. Everything is counted in the database, never person by person: on PostgreSQL from
the per-campaign counters the triggers keep as confirmations change (``tally.py``: reading them costs
the same at 5 k and 1 M people), on SQLite by one GROUP BY over the campaign.

The Friday report (每周五通报) ranks the stations by progress against the expected pace of the
implementation stage (序时进度): a station below it is ``lagging`` (现场督导、约谈).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count

from models.confirmation import (
    AgeBracket,
    Campaign,
    CampaignStatus,
    Confirmation,
    ConfirmationMethod,
    ConfirmationStatus,
    DeathRecord,
    ReportSnapshot,
    Resumption,
    ReviewItem,
    ReviewStatus,
    SuspensionProposal,
)
from models.org import OrgKind, OrgUnit
from models.staff import Role
from server import clock, media, xlsx
from server.auth.scope import Scope
from server.clock import CHINA_TZ
from server.confirmation import quotas, rules, tally
from server.confirmation.campaigns import get_campaign
from server.confirmation.first_year import is_first_year
from server.errors import NotFound

BRACKET_LABELS = {AgeBracket.AGE_80_PLUS: "80岁以上", AgeBracket.AGE_70_79: "70-79岁", AgeBracket.UNDER_70: "70岁以下"}
BRACKET_ORDER = list(AgeBracket)
METHODS = [m.value for m in ConfirmationMethod]
STATUS_TEXT = {"pending": "未确认", "in_review": "自助确认待核验", "not_found": "走访未找到本人", "moved": "已迁出待核实", "deceased": "死亡", "confirmed": "已确认"}
WEEKLY_KIND = "weekly_progress"
SUMMED = ("people", "deceased", "moved_out", "confirmed", "home_visited", "lives_away", "face_to_face", "face_to_face_base_met", *(f"by_{m}" for m in METHODS))
COUNTS = (*SUMMED, "excluded", "to_confirm", "unconfirmed", "home_visit_base", "home_visits_required", "home_visits_missing", "face_to_face_required", "face_to_face_missing")


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 100.0


def _value(v: Any) -> str | None:
    return None if v is None else str(getattr(v, "value", v))


def _empty() -> dict[str, Any]:
    return {**quotas.empty_cell(), **{f"by_{m}": 0 for m in METHODS}}


async def _grouped(*, campaign_id: int, station_ids: frozenset[int] | None) -> list[dict[str, Any]]:
    """Counts per station, bracket, status, method, visit, exclusion and living away: the counter
    table on PostgreSQL (a few hundred rows whatever the campaign size), one GROUP BY on SQLite."""
    return await tally.grouped(campaign_id=campaign_id, station_ids=station_ids)


def expected_pct(campaign: Campaign, today: date) -> float:
    """序时进度: the share of the implementation stage elapsed (100 % once it is over)."""
    if today < campaign.implementation_start:
        return 0.0
    if today >= campaign.implementation_end:
        return 100.0
    total = (campaign.implementation_end - campaign.implementation_start).days + 1
    return round(100.0 * ((today - campaign.implementation_start).days + 1) / total, 1)


def ranking(rows: list[dict[str, Any]], expected: float) -> list[dict[str, Any]]:
    """Stations ranked by confirmation progress, slowest first; below the expected pace is lagging."""
    stations: dict[int, dict[str, Any]] = {}
    for r in rows:
        s = stations.setdefault(r["station_id"], {"station_id": r["station_id"], "station": r["station"], "to_confirm": 0, "confirmed": 0, "home_visits_missing": 0, "face_to_face_missing": 0})
        for key in ("to_confirm", "confirmed", "home_visits_missing", "face_to_face_missing"):
            s[key] += r[key]
    ranked = sorted(stations.values(), key=lambda s: (_pct(s["confirmed"], s["to_confirm"]), s["station"], s["station_id"]))
    for rank, s in enumerate(ranked, start=1):
        s["rank"] = rank
        s["confirmed_pct"] = _pct(s["confirmed"], s["to_confirm"])
        s["expected_pct"] = expected
        s["lagging"] = s["confirmed_pct"] < expected or s["home_visits_missing"] > 0 and expected >= 100.0
    return ranked


async def progress(*, scope: Scope, campaign_id: int) -> dict[str, Any]:
    """Per station and bracket: people, excluded (dead, moved out), confirmed (by method), successful
    home visits vs required, first-year face-to-face; totals per bracket and overall; the ranking."""
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    first_year = await is_first_year(campaign)
    cells: dict[tuple[int, AgeBracket], dict[str, Any]] = {}
    for g in await _grouped(campaign_id=campaign.id, station_ids=await scope.station_ids()):
        bracket = AgeBracket(_value(g["age_bracket"]))
        cell = cells.setdefault((g["station_id"], bracket), _empty())
        quotas.add_group(cell, n=g["n"], status=_value(g["status"]), method=_value(g["method"]), home_visited=bool(g["home_visited"]), exclusion=g["exclusion"], lives_away=bool(g["lives_away"]))
    stations = dict(await OrgUnit.filter(id__in=list({s for s, _ in cells})).values_list("id", "name")) if cells else {}
    rows = []
    for (station_id, bracket), cell in sorted(cells.items(), key=lambda kv: (stations.get(kv[0][0], ""), kv[0][0], BRACKET_ORDER.index(kv[0][1]))):
        rows.append({"station_id": station_id, "station": stations.get(station_id, ""), "age_bracket": bracket.value, "age_bracket_label": BRACKET_LABELS[bracket], **quotas.finish(cell, bracket, first_year=first_year)})
    by_bracket = []
    for bracket in BRACKET_ORDER:
        mine = [r for r in rows if r["age_bracket"] == bracket.value]
        if not mine:
            continue
        total = quotas.finish({key: sum(r[key] for r in mine) for key in SUMMED}, bracket, first_year=first_year)
        # Quotas are per station and bracket: the bracket's requirement is the sum over its stations.
        for key in ("home_visits_required", "home_visits_missing", "face_to_face_missing"):
            total[key] = sum(r[key] for r in mine)
        total["home_visit_quota_met"] = total["home_visits_missing"] == 0
        total["fully_confirmed"] = total["unconfirmed"] == 0 and total["face_to_face_missing"] == 0
        by_bracket.append({"age_bracket": bracket.value, "age_bracket_label": BRACKET_LABELS[bracket], **total})
    totals = {key: sum(r[key] for r in rows) for key in COUNTS}
    totals["confirmed_pct"] = _pct(totals["confirmed"], totals["to_confirm"])
    totals["home_visit_quota_met"] = totals["home_visits_missing"] == 0
    totals["fully_confirmed"] = totals["unconfirmed"] == 0 and totals["face_to_face_missing"] == 0
    expected = expected_pct(campaign, clock.china_today())
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "reference_date": campaign.reference_date.isoformat(),
        "generated_at": clock.now().isoformat(),
        "first_year": first_year,
        "quota": {b.value: rules.HOME_VISIT_QUOTA[b] for b in BRACKET_ORDER},
        "expected_pct": expected,
        "rows": rows,
        "by_bracket": by_bracket,
        "totals": totals,
        "ranking": ranking(rows, expected),
    }


VISIT_FIELDS = ("id", "beneficiary_id", "station_id", "age_bracket", "status", "method", "beneficiary__name", "beneficiary__id_number_masked", "beneficiary__address", "beneficiary__phone")


async def quota_view(*, scope: Scope, campaign_id: int, station_id: int | None = None, limit: int = 500) -> dict[str, Any]:
    """The home-visit quota per station and bracket, and who still needs a visit where a cell is below
    its quota: the unconfirmed first (80+ first), then people confirmed at the station or online (they
    count as confirmed, not as visited). At most ``limit`` people are listed; ``still_needed`` counts all."""
    report = await progress(scope=scope, campaign_id=campaign_id)
    rows = [r for r in report["rows"] if station_id is None or r["station_id"] == station_id]
    quota = [
        {k: r[k] for k in ("station_id", "station", "age_bracket", "age_bracket_label", "to_confirm", "confirmed", "by_home_visit", "by_station", "by_self_service", "home_visited", "lives_away", "home_visit_base", "home_visits_required", "home_visits_missing", "home_visit_quota_met", "face_to_face_missing")}
        for r in rows
    ]
    short = [(r["station_id"], r["age_bracket"]) for r in rows if not r["home_visit_quota_met"] or r["face_to_face_missing"]]
    picked: list[dict[str, Any]] = []
    for unconfirmed in (True, False):
        for bracket in BRACKET_ORDER:
            stations = [sid for sid, b in short if b == bracket.value]
            if not stations or len(picked) >= limit:
                continue
            # Living away: self-service is theirs, they are outside the quota; excluded people are gone.
            query = Confirmation.filter(campaign_id=report["campaign_id"], age_bracket=bracket, station_id__in=stations, exclusion__isnull=True, beneficiary__lives_away=False)
            if unconfirmed:
                query = query.exclude(status__in=[ConfirmationStatus.DECEASED, ConfirmationStatus.CONFIRMED])
            else:  # confirmed without being met (online): a visit still counts towards the quota
                query = query.filter(status=ConfirmationStatus.CONFIRMED, home_visited=False)
            picked.extend(await query.order_by("station_id", "id").limit(limit - len(picked)).values(*VISIT_FIELDS))
    names = {r["station_id"]: r["station"] for r in rows}
    items = [
        {
            "confirmation_id": row["id"],
            "beneficiary_id": row["beneficiary_id"],
            "name": row["beneficiary__name"],
            "id_number": row["beneficiary__id_number_masked"],
            "station_id": row["station_id"],
            "station": names.get(row["station_id"], ""),
            "age_bracket": _value(row["age_bracket"]),
            "status": _value(row["status"]),
            "confirmed_by": _value(row["method"]),
            "address": row["beneficiary__address"],
            "phone": row["beneficiary__phone"],
        }
        for row in picked
    ]
    return {"campaign_id": report["campaign_id"], "first_year": report["first_year"], "quota": quota, "still_needed": sum(r["home_visits_missing"] for r in rows), "face_to_face_missing": sum(r["face_to_face_missing"] for r in rows), "items": items}


async def visits_needed(*, scope: Scope, campaign_id: int, station_id: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
    return (await quota_view(scope=scope, campaign_id=campaign_id, station_id=station_id, limit=limit))["items"]


PROGRESS_COLUMNS = [
    ("station", "服务站"),
    ("age_bracket_label", "年龄段"),
    ("people", "应确认人数"),
    ("confirmed", "已确认"),
    ("confirmed_pct", "确认率%"),
    ("by_home_visit", "上门确认"),
    ("by_station", "服务站确认"),
    ("by_self_service", "线上自助确认"),
    ("home_visited", "已上门"),
    ("home_visits_required", "应上门"),
    ("home_visit_quota_met", "上门比例达标"),
    ("deceased", "死亡"),
    ("to_confirm", "扣除死亡迁出后应确认"),
    ("unconfirmed", "未确认"),
    ("home_visits_missing", "尚需上门"),
    ("fully_confirmed", "全部确认"),
    ("moved_out", "迁出"),
    ("lives_away", "长期在外"),
    ("face_to_face_missing", "首年尚未见面"),
]
RANKING_COLUMNS = [("rank", "排名"), ("station", "服务站"), ("to_confirm", "应确认"), ("confirmed", "已确认"), ("confirmed_pct", "确认率%"), ("expected_pct", "序时进度%"), ("home_visits_missing", "尚需上门"), ("lagging", "进度滞后")]


def progress_xlsx(report: dict[str, Any]) -> bytes:
    """Sheet 1: one row per station and bracket, then 合计 (same columns, same numbers as the JSON);
    sheet 2: the totals per age bracket; sheet 3: the stations ranked."""
    totals = {**report["totals"], "station": "合计", "age_bracket_label": ""}
    return xlsx.workbook(
        xlsx.Sheet(
            title="确认进度",
            header_rows=[[f"{report['campaign']} 进度（参照日 {report['reference_date']}）"]],
            headers=[label for _, label in PROGRESS_COLUMNS],
            rows=[*[[row[key] for key, _ in PROGRESS_COLUMNS] for row in report["rows"]], [totals.get(key, "") for key, _ in PROGRESS_COLUMNS]],
        ),
        xlsx.Sheet(
            title="年龄段汇总",
            headers=[label for key, label in PROGRESS_COLUMNS if key != "station"],
            rows=[[row[key] for key, _ in PROGRESS_COLUMNS if key != "station"] for row in report["by_bracket"]],
        ),
        xlsx.Sheet(title="镇街排名", headers=[label for _, label in RANKING_COLUMNS], rows=[[row[key] for key, _ in RANKING_COLUMNS] for row in report.get("ranking", [])]),
    )


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


async def generate_weekly_reports(*, now: datetime, media_dir: Path, force: bool = False) -> list[ReportSnapshot]:
    """On Fridays (China time), one kept snapshot per county with an open campaign and ISO week: the
    progress JSON and its XLSX. Running again in the same week makes nothing (idempotent)."""
    local = now.astimezone(CHINA_TZ).date()
    if local.weekday() != 4 and not force:
        return []
    period = iso_week(local)
    made = []
    for campaign in await Campaign.filter(status=CampaignStatus.OPEN).order_by("-year", "id"):
        if await ReportSnapshot.filter(kind=WEEKLY_KIND, scope_unit_id=campaign.district_id, period=period).exists():
            continue
        scope = Scope(role=Role.ADMIN, org_unit_id=campaign.district_id, org_kind=OrgKind.DISTRICT)
        report = await progress(scope=scope, campaign_id=campaign.id)
        stored = media.store_report(media_dir, progress_xlsx(report))
        try:
            made.append(await ReportSnapshot.create(kind=WEEKLY_KIND, scope_unit_id=campaign.district_id, period=period, data=report, xlsx_path=stored))
        except IntegrityError:
            continue  # another worker made this week's snapshot first
    return made


async def _district_visible(scope: Scope, district_id: int) -> bool:
    if scope.is_global:
        return True
    stations = set(await OrgUnit.filter(parent_id=district_id, kind=OrgKind.STATION).values_list("id", flat=True))
    return bool(stations & set(await scope.station_ids() or ()))


async def list_snapshots(*, scope: Scope, campaign_id: int) -> list[ReportSnapshot]:
    """The Friday snapshots of the campaign's county (aggregate counts per station, no personal data:
    the county circulates them to every station)."""
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    return await ReportSnapshot.filter(kind=WEEKLY_KIND, scope_unit_id=campaign.district_id).order_by("-period")


async def get_snapshot(*, scope: Scope, snapshot_id: int) -> ReportSnapshot:
    snapshot = await ReportSnapshot.get_or_none(id=snapshot_id, kind=WEEKLY_KIND)
    if snapshot is None or not await _district_visible(scope, snapshot.scope_unit_id):
        raise NotFound("报表不存在", code="report_not_found")
    return snapshot


def snapshot_json(s: ReportSnapshot, *, with_data: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"id": s.id, "kind": s.kind, "district_id": s.scope_unit_id, "period": s.period, "created_at": s.created_at.isoformat(), "xlsx": f"/api/weekly-reports/{s.id}/xlsx" if s.xlsx_path else None}
    if with_data:
        data["data"] = s.data
    return data


SUSPENSION_TEXT = {"proposed": "已提请暂停发放", "approved": "已暂停发放", "withdrawn": "暂停提议已撤销"}


def unfinished_reason(*, status: str, lives_away: bool, attempts: list[Any], suspension: str | None) -> str:
    """Why one person is not confirmed, in words for the 未完成确认人员情况说明."""
    from server.confirmation.contact_attempts import METHODS, OUTCOMES

    parts = [STATUS_TEXT.get(status, status)]
    if lives_away:
        parts.append("长期在外地生活")
    if attempts:
        last = attempts[-1]
        parts.append(f"已联系{len(attempts)}次，最近一次{last.attempted_at.astimezone(CHINA_TZ):%m月%d日}{METHODS.get(last.method, last.method)}：{OUTCOMES.get(last.outcome, last.outcome)}")
    else:
        parts.append("尚无联系记录")
    if suspension:
        parts.append(SUSPENSION_TEXT.get(suspension, suspension))
    return "；".join(parts)


async def summary(*, scope: Scope, campaign_id: int, unconfirmed_limit: int = 1000) -> dict[str, Any]:
    """For the summary stage (总结上报): totals, the unconfirmed with their status and reason,
    suspensions and resumptions, deaths and overpayments, and open problems."""
    from server.confirmation.contact_attempts import attempts_for
    from server.confirmation.spot_checks import spot_check_status

    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    report = await progress(scope=scope, campaign_id=campaign.id)
    totals = report["totals"]
    confirmations = await scope.filter_by_station(Confirmation.filter(campaign_id=campaign.id))
    # Counts per status from the same counters as the report, not another pass over the campaign.
    statuses: dict[str | None, int] = {}
    unconfirmed_total = 0
    for g in await _grouped(campaign_id=campaign.id, station_ids=await scope.station_ids()):
        status = _value(g["status"])
        statuses[status] = statuses.get(status, 0) + g["n"]
        if g["exclusion"] is None and status not in (ConfirmationStatus.CONFIRMED.value, ConfirmationStatus.DECEASED.value):
            unconfirmed_total += g["n"]

    proposals = await scope.filter_by_station(SuspensionProposal.filter(campaign_id=campaign.id))
    suspensions = {_value(s): n for s, n in await proposals.annotate(n=Count("id")).group_by("status").values_list("status", "n")}
    proposal_of = dict(await proposals.values_list("beneficiary_id", "status"))

    in_campaign = await scope.filter_by_station(Resumption.filter(suspension__campaign_id=campaign.id), "beneficiary__station_id")
    resumptions = {s: n for s, n in await in_campaign.annotate(n=Count("id")).group_by("status").values_list("status", "n")}
    back_pay = sum(await in_campaign.values_list("back_pay_months", flat=True))

    deaths_q = await scope.filter_by_station(DeathRecord.filter(beneficiary__confirmations__campaign_id=campaign.id), "beneficiary__station_id")
    death_rows = await deaths_q.values("status", "overpayment_amount", "recovered_amount")
    overpaid = sum((Decimal(str(d["overpayment_amount"])) for d in death_rows), Decimal("0.00"))
    recovered = sum((Decimal(str(d["recovered_amount"])) for d in death_rows), Decimal("0.00"))

    pending = confirmations.filter(exclusion__isnull=True).exclude(status__in=[ConfirmationStatus.CONFIRMED, ConfirmationStatus.DECEASED])
    listed = await pending.order_by("station_id", "id").limit(unconfirmed_limit).values("id", "beneficiary_id", "station_id", "age_bracket", "status", "home_visited", "beneficiary__name", "beneficiary__id_number_masked", "beneficiary__lives_away")
    station_names = {r["station_id"]: r["station"] for r in report["rows"]}
    attempts = await attempts_for(confirmation_ids=[u["id"] for u in listed])
    unconfirmed = [
        {
            "beneficiary_id": u["beneficiary_id"],
            "name": u["beneficiary__name"],
            "id_number": u["beneficiary__id_number_masked"],
            "station": station_names.get(u["station_id"], ""),
            "age_bracket": _value(u["age_bracket"]),
            "status": _value(u["status"]),
            "reason": unfinished_reason(status=_value(u["status"]) or "", lives_away=bool(u["beneficiary__lives_away"]), attempts=attempts.get(u["id"], []), suspension=_value(proposal_of.get(u["beneficiary_id"]))),
            "home_visited": u["home_visited"],
            "contact_attempts": len(attempts.get(u["id"], [])),
            "suspension": _value(proposal_of.get(u["beneficiary_id"])),
        }
        for u in listed
    ]
    moved = await confirmations.filter(exclusion="moved_out").order_by("station_id", "id").values("beneficiary__name", "beneficiary__id_number_masked", "station_id", "exclusion_note")
    moved_out = [{"name": m["beneficiary__name"], "id_number": m["beneficiary__id_number_masked"], "station": station_names.get(m["station_id"], ""), "note": m["exclusion_note"]} for m in moved]
    open_reviews = await (await scope.filter_by_station(ReviewItem.filter(confirmation__campaign_id=campaign.id, status=ReviewStatus.OPEN))).count()
    questioned = await confirmations.filter(recheck_status="questioned").count()
    spot = await spot_check_status(scope=scope, campaign_id=campaign.id)
    lagging = [{"station": r["station"], "age_bracket": r["age_bracket"], "confirmed_pct": r["confirmed_pct"], "unconfirmed": r["unconfirmed"]} for r in report["rows"] if not r["fully_confirmed"]]
    quota_short = [{"station": r["station"], "age_bracket": r["age_bracket"], "home_visits_missing": r["home_visits_missing"]} for r in report["rows"] if not r["home_visit_quota_met"]]
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "year": campaign.year,
        "stage": rules.stage_on(campaign, clock.china_today()).value,
        "status": campaign.status.value,
        "generated_at": clock.now().isoformat(),
        "first_year": report["first_year"],
        "people": totals["people"],
        "deceased": totals["deceased"],
        "moved_out": totals["moved_out"],
        "moved_out_people": moved_out,
        "lives_away": totals["lives_away"],
        "face_to_face": totals["face_to_face"],
        "face_to_face_missing": totals["face_to_face_missing"],
        "home_visits_missing": totals["home_visits_missing"],
        "ranking": report["ranking"],
        "to_confirm": totals["to_confirm"],
        "confirmed": totals["confirmed"],
        "confirmed_pct": totals["confirmed_pct"],
        "by_method": {m: totals[f"by_{m}"] for m in METHODS},
        "home_visited": totals["home_visited"],
        "home_visits_required": totals["home_visits_required"],
        "by_bracket": report["by_bracket"],
        "unconfirmed_by_status": {k: v for k, v in statuses.items() if k not in ("confirmed", "deceased")},
        "unconfirmed_total": unconfirmed_total,
        "unconfirmed": unconfirmed,
        "suspensions": suspensions,
        "resumptions": {**resumptions, "back_pay_months": int(back_pay)},
        "deaths": len(death_rows),
        "overpayments_outstanding": sum(1 for d in death_rows if d["status"] == "outstanding"),
        "overpayment_total": str(overpaid),
        "overpayment_recovered": str(recovered),
        "overpayment_outstanding": str(overpaid - recovered),
        "open_problems": {
            "open_review_items": open_reviews,
            "questioned_rechecks": questioned,
            "proposals_awaiting_approval": suspensions.get("proposed", 0),
            "resumptions_awaiting_sign_off": resumptions.get("pending", 0),
            "brackets_not_fully_confirmed": lagging,
            "home_visit_quota_short": quota_short,
            "spot_checks_done": len(spot["spot_checks"]),
            "spot_check_warning": spot["warning"],
        },
    }
