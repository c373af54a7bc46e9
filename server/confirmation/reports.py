"""Progress reports: station × age bracket × method, home-visit quotas, the Friday snapshot, the summary."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from models.confirmation import (
    AgeBracket,
    Campaign,
    CampaignStatus,
    Confirmation,
    ConfirmationMethod,
    ConfirmationStatus,
    DeathRecord,
    ReportSnapshot,
    ReviewItem,
    ReviewStatus,
    SuspensionProposal,
)
from models.org import OrgKind, OrgUnit
from models.staff import Role
from server import media
from server.auth.scope import Scope
from server.confirmation import rules
from server.confirmation.campaigns import get_campaign
from server.notifications.templates import CHINA_TZ

BRACKET_LABELS = {AgeBracket.AGE_80_PLUS: "80岁以上", AgeBracket.AGE_70_79: "70-79岁", AgeBracket.UNDER_70: "70岁以下"}
METHODS = [m.value for m in ConfirmationMethod]


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 100.0


async def progress(*, scope: Scope, campaign_id: int) -> dict[str, Any]:
    """Counts per station and bracket: people, confirmed (by method), home visits done vs required."""
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    query = await scope.filter_by_station(Confirmation.filter(campaign_id=campaign.id))
    rows = await query.values("station_id", "age_bracket", "status", "method", "home_visited")
    stations = dict(await OrgUnit.filter(id__in={r["station_id"] for r in rows}).values_list("id", "name"))
    cells: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: {"people": 0, "confirmed": 0, "home_visited": 0, **{f"by_{m}": 0 for m in METHODS}})
    for row in rows:
        cell = cells[(row["station_id"], AgeBracket(row["age_bracket"]).value)]
        cell["people"] += 1
        if row["status"] == ConfirmationStatus.CONFIRMED:
            cell["confirmed"] += 1
            if row["method"]:
                cell[f"by_{ConfirmationMethod(row['method']).value}"] += 1
        if row["home_visited"]:
            cell["home_visited"] += 1
    lines = []
    for (station_id, bracket), cell in sorted(cells.items(), key=lambda kv: (stations.get(kv[0][0], ""), list(AgeBracket).index(AgeBracket(kv[0][1])))):
        required = rules.required_home_visits(AgeBracket(bracket), cell["people"])
        lines.append(
            {
                "station_id": station_id,
                "station": stations.get(station_id, ""),
                "age_bracket": bracket,
                "age_bracket_label": BRACKET_LABELS[AgeBracket(bracket)],
                **cell,
                "confirmed_pct": _pct(cell["confirmed"], cell["people"]),
                "home_visits_required": required,
                "home_visit_quota_met": cell["home_visited"] >= required,
                "fully_confirmed": cell["confirmed"] == cell["people"],
            }
        )
    totals = {"people": sum(c["people"] for c in cells.values()), "confirmed": sum(c["confirmed"] for c in cells.values()), "home_visited": sum(c["home_visited"] for c in cells.values())}
    for m in METHODS:
        totals[f"by_{m}"] = sum(c[f"by_{m}"] for c in cells.values())
    totals["confirmed_pct"] = _pct(totals["confirmed"], totals["people"])
    return {"campaign_id": campaign.id, "campaign": campaign.name, "reference_date": campaign.reference_date.isoformat(), "rows": lines, "totals": totals}


async def visits_needed(*, scope: Scope, campaign_id: int, station_id: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Who still needs a home visit where a bracket is below its quota (80+ always): unconfirmed
    first, 80+ first within each, then by station."""
    report = await progress(scope=scope, campaign_id=campaign_id)
    short = [(r["station_id"], r["age_bracket"]) for r in report["rows"] if not r["home_visit_quota_met"] or r["age_bracket"] == AgeBracket.AGE_80_PLUS.value]
    if station_id is not None:
        short = [pair for pair in short if pair[0] == station_id]
    picked: list[dict[str, Any]] = []
    fields = ("id", "beneficiary_id", "station_id", "age_bracket", "status", "beneficiary__name", "beneficiary__id_number_masked", "beneficiary__address", "beneficiary__phone")
    for unconfirmed in (True, False):
        for bracket in (AgeBracket.AGE_80_PLUS, AgeBracket.AGE_70_79, AgeBracket.UNDER_70):
            stations = [sid for sid, b in short if b == bracket.value]
            if not stations or len(picked) >= limit:
                continue
            query = Confirmation.filter(campaign_id=campaign_id, home_visited=False, age_bracket=bracket, station_id__in=stations)
            query = query.exclude(status__in=[ConfirmationStatus.DECEASED, ConfirmationStatus.CONFIRMED]) if unconfirmed else query.filter(status=ConfirmationStatus.CONFIRMED)
            picked.extend(await query.order_by("station_id", "id").limit(limit - len(picked)).values(*fields))
    return [
        {
            "confirmation_id": row["id"],
            "beneficiary_id": row["beneficiary_id"],
            "name": row["beneficiary__name"],
            "id_number": row["beneficiary__id_number_masked"],
            "station_id": row["station_id"],
            "age_bracket": AgeBracket(row["age_bracket"]).value,
            "status": ConfirmationStatus(row["status"]).value,
            "address": row["beneficiary__address"],
            "phone": row["beneficiary__phone"],
        }
        for row in picked
    ]


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
]


def progress_xlsx(report: dict[str, Any]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "确认进度"
    sheet.append([f"{report['campaign']} 进度（参照日 {report['reference_date']}）"])
    sheet.append([label for _, label in PROGRESS_COLUMNS])
    for row in report["rows"]:
        sheet.append([("是" if row[key] else "否") if isinstance(row[key], bool) else row[key] for key, _ in PROGRESS_COLUMNS])
    totals = report["totals"]
    sheet.append(["合计", "", totals["people"], totals["confirmed"], totals["confirmed_pct"], totals["by_home_visit"], totals["by_station"], totals["by_self_service"], totals["home_visited"], "", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


async def generate_weekly_reports(*, now: datetime, media_dir: Path, force: bool = False) -> list[ReportSnapshot]:
    """Every Friday (China time): a kept snapshot of each open campaign's progress, JSON and XLSX."""
    local = now.astimezone(CHINA_TZ).date()
    if local.weekday() != 4 and not force:
        return []
    made = []
    for campaign in await Campaign.filter(status=CampaignStatus.OPEN):
        period = iso_week(local)
        if await ReportSnapshot.filter(kind="weekly_progress", scope_unit_id=campaign.district_id, period=period).exists():
            continue
        scope = Scope(role=Role.ADMIN, org_unit_id=campaign.district_id, org_kind=OrgKind.DISTRICT)
        report = await progress(scope=scope, campaign_id=campaign.id)
        stored = media.store_report(media_dir, progress_xlsx(report))
        made.append(await ReportSnapshot.create(kind="weekly_progress", scope_unit_id=campaign.district_id, period=period, data=report, xlsx_path=stored))
    return made


async def summary(*, scope: Scope, campaign_id: int) -> dict[str, Any]:
    """For the summary stage: totals, unconfirmed by reason, suspensions, deaths, overpayments, open problems."""
    from server.confirmation.spot_checks import spot_check_status

    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    confirmations = await scope.filter_by_station(Confirmation.filter(campaign_id=campaign.id))
    statuses: dict[str, int] = defaultdict(int)
    for status in await confirmations.values_list("status", flat=True):
        statuses[ConfirmationStatus(status).value] += 1
    suspensions: dict[str, int] = defaultdict(int)
    for status in await (await scope.filter_by_station(SuspensionProposal.filter(campaign_id=campaign.id))).values_list("status", flat=True):
        suspensions[str(getattr(status, "value", status))] += 1
    deaths = await (await scope.filter_by_station(DeathRecord.all(), "beneficiary__station_id")).values("overpayment_amount", "recovered_amount", "status")
    overpaid = sum((Decimal(d["overpayment_amount"]) for d in deaths), Decimal(0))
    recovered = sum((Decimal(d["recovered_amount"]) for d in deaths), Decimal(0))
    open_reviews = await (await scope.filter_by_station(ReviewItem.filter(confirmation__campaign_id=campaign.id, status=ReviewStatus.OPEN))).count()
    questioned = await confirmations.filter(recheck_status="questioned").count()
    spot = await spot_check_status(scope=scope, campaign_id=campaign.id)
    total = sum(statuses.values())
    return {
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "people": total,
        "confirmed": statuses.get("confirmed", 0),
        "confirmed_pct": _pct(statuses.get("confirmed", 0), total),
        "unconfirmed_by_status": {k: v for k, v in statuses.items() if k != "confirmed"},
        "suspensions": dict(suspensions),
        "deaths": len(deaths),
        "overpayment_total": str(overpaid),
        "overpayment_recovered": str(recovered),
        "overpayment_outstanding": str(overpaid - recovered),
        "open_problems": {"open_review_items": open_reviews, "questioned_rechecks": questioned, "spot_check_warning": spot["warning"]},
    }
