"""《优待证制发工作推进情况统计表》: per station and per category, with the eligible count as the
denominator. Stations report before the 20th; on the 20th (China time) the district's table for the
month is frozen and kept, with which stations reported and when."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError

from models.cards import (
    ApplicationStatus,
    Card,
    CardApplication,
    CardStatus,
    StationMonthlyReport,
)
from models.confirmation import ReportSnapshot
from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary, PaymentStatus
from models.staff import Role
from server import clock, media, xlsx
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.cards import eligibility, rules
from server.cards.reports import visible_districts
from server.clock import CHINA_TZ, china_now
from server.errors import NotFound, ValidationFailed
from server.registry.categories import CATEGORY_LABELS

SNAPSHOT_KIND = "card_monthly"
FREEZE_DAY = 20
STATUSES = [s.value for s in ApplicationStatus]
COUNTS = ["eligible", "applied", *[f"status_{s}" for s in STATUSES], "batch_1", "batch_2", "batch_3", "cards_received", "cards_delivered", "delivery_overdue", "steps_overdue", "flagged"]
RATES = ["application_rate", "approval_rate", "delivery_rate"]
COLUMNS = ["station", *COUNTS, *RATES]
HEADERS = ["服务站", "应申领人数", "已申请", *[rules.STATUS_LABELS[ApplicationStatus(s)] for s in STATUSES], "第一批次", "第二批次", "第三批次", "已收到优待证", "已发放", "逾期未送达", "审核逾期", "待核实标记", "申请率%", "审核通过率%", "发放率%"]
CATEGORY_COUNTS = ["eligible", "applied", "approved", "cards_delivered"]
CATEGORY_HEADERS = ["类别", "应申领人数", "已申请", "审核通过", "已发放", "申请率%", "发放率%"]


def _rate(part: int, whole: int) -> float | None:
    """Percent with one decimal; None where nobody is eligible (not 0%, which would read as a lag)."""
    return round(100 * part / whole, 1) if whole else None


def _with_rates(row: dict[str, Any]) -> dict[str, Any]:
    approved = row["status_approved"]
    row["application_rate"] = _rate(row["applied"], row["eligible"])
    row["approval_rate"] = _rate(approved, row["eligible"])
    row["delivery_rate"] = _rate(row["cards_delivered"], row["eligible"])
    return row


async def _eligible_people(station_ids: list[int] | None) -> list[dict[str, Any]]:
    query = Beneficiary.filter(category__in=eligibility.ELIGIBLE_CATEGORIES, death_date=None).exclude(payment_status=PaymentStatus.DECEASED)
    if station_ids is not None:
        query = query.filter(station_id__in=station_ids)
    return await query.values("id", "station_id", "category")


async def monthly_statistics(*, scope: Scope, today: date | None = None) -> dict[str, Any]:
    today = today or china_now().date()
    station_scope = await scope.station_ids()
    station_ids = None if station_scope is None else list(station_scope)
    people = await _eligible_people(station_ids)
    apps = await (await scope.filter_by_station(CardApplication.all())).values("station_id", "status", "batch", "due_date", "flagged", "beneficiary__category")
    cards = await (await scope.filter_by_station(Card.all())).values("station_id", "status", "delivery_due", "flagged", "application__beneficiary__category")
    rows: dict[int, dict[str, Any]] = defaultdict(lambda: {key: 0 for key in COUNTS})
    categories: dict[str, dict[str, int]] = defaultdict(lambda: {key: 0 for key in CATEGORY_COUNTS})
    for p in people:
        rows[p["station_id"]]["eligible"] += 1
        categories[str(p["category"])]["eligible"] += 1
    for a in apps:
        row = rows[a["station_id"]]
        status = ApplicationStatus(a["status"])
        row[f"status_{status.value}"] += 1
        if status == ApplicationStatus.WITHDRAWN:
            continue
        row["applied"] += 1
        row[f"batch_{a['batch']}"] += 1
        row["flagged"] += bool(a["flagged"])
        category = str(a["beneficiary__category"])
        categories[category]["applied"] += 1
        categories[category]["approved"] += status == ApplicationStatus.APPROVED
        if status in rules.CHAIN and a["due_date"] and a["due_date"] < today:
            row["steps_overdue"] += 1
    for c in cards:
        row = rows[c["station_id"]]
        row["cards_received"] += 1
        row["flagged"] += bool(c["flagged"])
        status = CardStatus(c["status"])
        if status == CardStatus.DELIVERED:
            row["cards_delivered"] += 1
            categories[str(c["application__beneficiary__category"])]["cards_delivered"] += 1
        elif status == CardStatus.AT_STATION and c["delivery_due"] and c["delivery_due"] < today:
            row["delivery_overdue"] += 1
    if station_ids is None:
        station_ids = list(rows)
    names = dict(await OrgUnit.filter(id__in=station_ids).values_list("id", "name"))
    lines = [_with_rates({"station_id": sid, "station": names.get(sid, ""), **rows[sid]}) for sid in sorted(station_ids, key=lambda s: (names.get(s, ""), s))]
    totals = _with_rates({key: sum(line[key] for line in lines) for key in COUNTS})
    per_category = []
    for category in eligibility.ELIGIBLE_CATEGORIES:
        counts = categories.get(category.value, {key: 0 for key in CATEGORY_COUNTS})
        per_category.append({"category": category.value, "label": CATEGORY_LABELS[category], **counts, "application_rate": _rate(counts["applied"], counts["eligible"]), "delivery_rate": _rate(counts["cards_delivered"], counts["eligible"])})
    return {"period": today.strftime("%Y-%m"), "generated_on": today.isoformat(), "rows": lines, "totals": totals, "categories": per_category}


def statistics_xlsx(report: dict[str, Any]) -> bytes:
    state = "（已于{}冻结）".format(clock.china_time(report["frozen_at"])) if report.get("frozen_at") else ""
    main = xlsx.Sheet(
        title="优待证制发推进情况",
        header_rows=[[f"优待证制发工作推进情况统计表（{report['period']}）{state}"]],
        headers=HEADERS,
        rows=[*[[line[key] for key in COLUMNS] for line in report["rows"]], ["合计", *[report["totals"][key] for key in COLUMNS[1:]]]],
    )
    by_category = xlsx.Sheet(
        title="分类别",
        headers=CATEGORY_HEADERS,
        rows=[[line["label"], *[line[k] for k in CATEGORY_COUNTS], line["application_rate"], line["delivery_rate"]] for line in report.get("categories", [])],
    )
    sheets = [main, by_category]
    if "station_reports" in report:
        sheets.append(xlsx.Sheet(title="上报情况", headers=["服务站", "上报时间", "按时"], rows=[[r["station"], clock.china_time(r["submitted_at"]) if r["submitted_at"] else "未上报", r["on_time"]] for r in report["station_reports"]]))
    return xlsx.workbook(*sheets)


def _district_scope(district_id: int) -> Scope:
    return Scope(role=Role.BUREAU, org_unit_id=district_id, org_kind=OrgKind.DISTRICT)


async def station_reports(*, district_id: int, period: str, freeze_day: int = FREEZE_DAY) -> list[dict[str, Any]]:
    """Which stations reported for the month and when; on time means before the 20th, China time."""
    stations = await OrgUnit.filter(parent_id=district_id, kind=OrgKind.STATION).order_by("name", "id")
    submitted = {r.station_id: r for r in await StationMonthlyReport.filter(station_id__in=[s.id for s in stations], period=period)}
    year, month = (int(x) for x in period.split("-"))
    deadline = datetime(year, month, freeze_day, tzinfo=CHINA_TZ)
    out = []
    for station in stations:
        r = submitted.get(station.id)
        out.append({"station_id": station.id, "station": station.name, "submitted_at": r.created_at.astimezone(CHINA_TZ).isoformat() if r else None, "on_time": bool(r and r.created_at < deadline), "submitted_by_staff_id": r.submitted_by_staff_id if r else None})
    return out


async def submit_station_report(*, scope: Scope, actor: Actor, station_id: int, now: datetime | None = None) -> StationMonthlyReport:
    """A station reports its month's figures (每月20日前统计上报); once per month."""
    scope.require_role(Role.STATION)
    await scope.require_station_writable(station_id)
    local = china_now(now)
    period = local.strftime("%Y-%m")
    station = await OrgUnit.get_or_none(id=station_id, kind=OrgKind.STATION)
    if station is None:
        raise NotFound("服务站不存在", code="station_not_found")
    row = next(line for line in (await monthly_statistics(scope=Scope(role=Role.STATION, org_unit_id=station_id, org_kind=OrgKind.STATION), today=local.date()))["rows"] if line["station_id"] == station_id)
    try:
        report = await StationMonthlyReport.create(station_id=station_id, period=period, submitted_by_staff_id=int(actor.id or 0), data=row)
    except IntegrityError as exc:
        raise ValidationFailed("本月已上报", code="already_reported", period=period) from exc
    await audit.record(actor=actor, action="card_statistics.station_reported", entity_type="org_unit", entity_id=station_id, details={"period": period, "late": local.day >= FREEZE_DAY})
    return report


async def generate_monthly_statistics(*, now: datetime, media_dir: Path, freeze_day: int = FREEZE_DAY) -> list[ReportSnapshot]:
    """On the 20th (China time) or the first run after it: the month's table per district, frozen
    (kept once; later runs change nothing)."""
    local = china_now(now)
    if local.day < freeze_day:
        return []
    period = local.strftime("%Y-%m")
    made = []
    for district in await OrgUnit.filter(kind=OrgKind.DISTRICT):
        if await ReportSnapshot.filter(kind=SNAPSHOT_KIND, scope_unit_id=district.id, period=period).exists():
            continue
        report = await monthly_statistics(scope=_district_scope(district.id), today=local.date())
        report["district_id"] = district.id
        report["district"] = district.name
        report["frozen_at"] = local.isoformat()
        report["station_reports"] = await station_reports(district_id=district.id, period=period, freeze_day=freeze_day)
        stored = media.store_report(media_dir, statistics_xlsx(report))
        try:
            made.append(await ReportSnapshot.create(kind=SNAPSHOT_KIND, scope_unit_id=district.id, period=period, data=report, xlsx_path=stored))
        except IntegrityError:
            continue  # another worker froze it first
    return made


async def read_month(*, scope: Scope, period: str) -> list[dict[str, Any]]:
    """The month's table for each district the reader sees: the frozen one, or (not frozen yet)
    the live figures marked as such; with which stations reported and when."""
    scope.require_role(Role.CENTRE, Role.BUREAU, Role.CITY, Role.AUDITOR)
    try:
        year, month = (int(x) for x in period.split("-"))
        date(year, month, 1)
    except ValueError as exc:
        raise ValidationFailed("月份格式应为YYYY-MM", code="bad_period") from exc
    districts = await visible_districts(scope)
    units = await (OrgUnit.filter(kind=OrgKind.DISTRICT) if districts is None else OrgUnit.filter(id__in=list(districts), kind=OrgKind.DISTRICT)).order_by("id")
    out = []
    for district in units:
        snapshot = await ReportSnapshot.get_or_none(kind=SNAPSHOT_KIND, scope_unit_id=district.id, period=period)
        reported = await station_reports(district_id=district.id, period=period)
        if snapshot is not None:
            out.append({**snapshot.data, "frozen": True, "snapshot_id": snapshot.id, "station_reports": reported})
        elif period == china_now().strftime("%Y-%m"):
            live = await monthly_statistics(scope=_district_scope(district.id))
            out.append({**live, "district_id": district.id, "district": district.name, "frozen": False, "snapshot_id": None, "station_reports": reported})
    return out


async def snapshot_xlsx(*, scope: Scope, snapshot_id: int, media_dir: Path) -> tuple[Path, str]:
    scope.require_role(Role.CENTRE, Role.BUREAU, Role.CITY, Role.AUDITOR)
    snapshot = await ReportSnapshot.get_or_none(id=snapshot_id, kind=SNAPSHOT_KIND)
    districts = await visible_districts(scope)
    if snapshot is None or snapshot.xlsx_path is None or (districts is not None and snapshot.scope_unit_id not in districts):
        raise NotFound("报表不存在", code="report_not_found")
    return media.resolve(media_dir, snapshot.xlsx_path), snapshot.period


