"""Monthly card statistics (统计上报, due before the 20th): per station and for the district."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from models.cards import ApplicationStatus, Card, CardApplication, CardStatus
from models.confirmation import ReportSnapshot
from models.org import OrgKind, OrgUnit
from models.staff import Role
from server import media
from server.auth.scope import Scope
from server.cards import rules
from server.notifications.templates import CHINA_TZ
from server.xlsx import safe_row

STATUSES = [s.value for s in ApplicationStatus]
COLUMNS = ["station", *[f"status_{s}" for s in STATUSES], "batch_1", "batch_2", "batch_3", "cards_received", "cards_delivered", "delivery_overdue", "steps_overdue"]
HEADERS = ["服务站", *[rules.STATUS_LABELS[ApplicationStatus(s)] for s in STATUSES], "第一批次", "第二批次", "第三批次", "已收到优待证", "已发放", "逾期未送达", "审核逾期"]


async def monthly_statistics(*, scope: Scope, today: date | None = None) -> dict[str, Any]:
    today = today or date.today()
    apps = await (await scope.filter_by_station(CardApplication.all())).values("station_id", "status", "batch", "due_date")
    cards = await (await scope.filter_by_station(Card.all())).values("station_id", "status", "delivery_due")
    station_ids = {a["station_id"] for a in apps} | {c["station_id"] for c in cards}
    names = dict(await OrgUnit.filter(id__in=list(station_ids)).values_list("id", "name"))
    rows: dict[int, dict[str, Any]] = defaultdict(lambda: {key: 0 for key in COLUMNS[1:]})
    for a in apps:
        row = rows[a["station_id"]]
        status = ApplicationStatus(a["status"])
        row[f"status_{status.value}"] += 1
        row[f"batch_{a['batch']}"] += 1
        if status in rules.CHAIN and a["due_date"] and a["due_date"] < today:
            row["steps_overdue"] += 1
    for c in cards:
        row = rows[c["station_id"]]
        row["cards_received"] += 1
        status = CardStatus(c["status"])
        if status == CardStatus.DELIVERED:
            row["cards_delivered"] += 1
        elif status == CardStatus.AT_STATION and c["delivery_due"] and c["delivery_due"] < today:
            row["delivery_overdue"] += 1
    lines = [{"station_id": sid, "station": names.get(sid, ""), **rows[sid]} for sid in sorted(rows, key=lambda s: names.get(s, ""))]
    totals = {key: sum(line[key] for line in lines) for key in COLUMNS[1:]}
    return {"period": today.strftime("%Y-%m"), "generated_on": today.isoformat(), "rows": lines, "totals": totals}


def statistics_xlsx(report: dict[str, Any]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "优待证制发推进情况"
    sheet.append([f"优待证制发工作推进情况统计表（{report['period']}）"])
    sheet.append(HEADERS)
    for line in report["rows"]:
        sheet.append(safe_row(line[key] for key in COLUMNS))
    sheet.append(["合计", *[report["totals"][key] for key in COLUMNS[1:]]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def generate_monthly_statistics(*, now: datetime, media_dir: Path) -> list[ReportSnapshot]:
    """Before the 20th of each month: one kept snapshot per district (idempotent)."""
    today = now.astimezone(CHINA_TZ).date()
    if today.day >= 20:
        return []
    made = []
    for district in await OrgUnit.filter(kind=OrgKind.DISTRICT):
        period = today.strftime("%Y-%m")
        if await ReportSnapshot.filter(kind="card_monthly", scope_unit_id=district.id, period=period).exists():
            continue
        report = await monthly_statistics(scope=Scope(role=Role.BUREAU, org_unit_id=district.id, org_kind=OrgKind.DISTRICT), today=today)
        stored = media.store_report(media_dir, statistics_xlsx(report))
        made.append(await ReportSnapshot.create(kind="card_monthly", scope_unit_id=district.id, period=period, data=report, xlsx_path=stored))
    return made
