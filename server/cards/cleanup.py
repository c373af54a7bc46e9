"""重点核查 (November): the problem records left from acceptance are cleared; solved ones go through
the chain again (resubmission), unsolved ones are studied by the leading group and reported in
writing up the chain (疑难问题…形成书面报告逐级上报)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from models.cards import CardReport, CardReviewStep
from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary
from models.staff import Role
from server.actors import Actor
from server.auth.scope import Scope
from server.cards import applications, reports, rules
from server.clock import CHINA_TZ, china_today
from server.config import Settings
from server.errors import Forbidden, ValidationFailed
from server.registry.categories import CATEGORY_LABELS

ROUTE_TO_CITY = [reports.CITY_BUREAU]


def _district_only(scope: Scope) -> None:
    scope.require_role(Role.BUREAU)
    scope.require_write()
    if scope.org_kind != OrgKind.DISTRICT:
        raise Forbidden("由区县退役军人事务局报送", code="district_only")


async def cleanup_report(*, scope: Scope, actor: Actor, settings: Settings, year: int, media_dir: Path, today: date | None = None) -> CardReport:
    """Per station: problems still open, how many were solved and resubmitted during the clean-up,
    how many have a written report; the open ones listed by application number (no personal data)."""
    _district_only(scope)
    today = today or china_today()
    start, end = (date.fromisoformat(f"{year}-{d}") for d in settings.cards.cleanup_stage)
    open_problems = await applications.list_applications(scope=scope, status=None, overdue_only=False, problems_only=True, today=today)
    station_ids = list(await scope.station_ids() or [])
    resubmitted = await CardReviewStep.filter(action="resubmit", application__station_id__in=station_ids, created_at__gte=datetime.combine(start, time(0), CHINA_TZ), created_at__lt=datetime.combine(end + timedelta(days=1), time(0), CHINA_TZ)).values_list("application_id", "application__station_id")
    names = dict(await OrgUnit.filter(id__in=station_ids).values_list("id", "name"))
    per_station: dict[int, dict[str, int]] = defaultdict(lambda: {"open": 0, "with_report": 0, "resubmitted": 0})
    for a in open_problems:
        per_station[a.station_id]["open"] += 1
        per_station[a.station_id]["with_report"] += bool(a.problem_report.strip())
    for _, station_id in set(resubmitted):
        per_station[station_id]["resubmitted"] += 1
    station_rows = [[names.get(sid, str(sid)), c["open"], c["resubmitted"], c["with_report"]] for sid, c in sorted(per_station.items(), key=lambda kv: names.get(kv[0], ""))]
    case_rows = [[a.id, names.get(a.station_id, ""), rules.STATUS_LABELS[a.status], a.return_count, "是" if a.flagged else "否", a.problem_note or ("审核逾期" if a.due_date and a.due_date < today else "")] for a in open_problems]
    district = await OrgUnit.get(id=scope.org_unit_id)
    title = f"{district.name}{year}年{reports.KIND_LABELS['cleanup']}"
    totals = {"open": len(open_problems), "resubmitted": len({a for a, _ in resubmitted}), "with_report": sum(bool(a.problem_report.strip()) for a in open_problems)}
    per_station_text = "；".join(f"{r[0]}待解决{r[1]}件、已重新提交{r[2]}件、已有书面报告{r[3]}件" for r in station_rows) or "各服务站均无遗留问题"
    document = reports.render_document(
        title=title,
        issuer=district.name,
        addressed_to=ROUTE_TO_CITY,
        facts=[("核查阶段", f"{start.isoformat()} 至 {end.isoformat()}"), ("统计日期", today.isoformat()), ("待解决问题", str(totals["open"])), ("已解决并重新提交", str(totals["resubmitted"])), ("已形成书面报告", str(totals["with_report"]))],
        paragraphs=["对前期集中受理审核中遗留的问题信息逐一调查、核实，问题已解决的按受理及检查、核实、初审和审核程序重新提交；遗留疑难问题提交领导小组研究并形成书面报告。", f"各服务站情况：{per_station_text}。"],
        headers=["申请编号", "服务站", "当前环节", "退回次数", "待核实标记", "问题"],
        rows=case_rows,
    )
    data: dict[str, Any] = {"year": year, "totals": totals, "stations": [{"station": r[0], "open": r[1], "resubmitted": r[2], "with_report": r[3]} for r in station_rows], "open_application_ids": [a.id for a in open_problems]}
    return await reports.create_report(actor=actor, kind="cleanup", district_id=district.id, title=title, document=document, route=ROUTE_TO_CITY, data=data, media_dir=media_dir)


async def difficult_cases_report(*, scope: Scope, actor: Actor, meeting_date: date, summary: str, media_dir: Path) -> CardReport:
    """The leading group's written report of unsolved cases, each with the station's written
    account and proposal (the application's problem report), sent to the city bureau."""
    _district_only(scope)
    if len(summary.strip()) < 4:
        raise ValidationFailed("请写明领导小组研究意见", code="summary_required")
    open_problems = await applications.list_applications(scope=scope, status=None, overdue_only=False, problems_only=True)
    cases = [a for a in open_problems if a.problem_report.strip()]
    if not cases:
        raise ValidationFailed("没有附书面情况的疑难问题", code="no_difficult_cases")
    people = {p.id: p for p in await Beneficiary.filter(id__in=[a.beneficiary_id for a in cases])}
    names = dict(await OrgUnit.filter(id__in=list({a.station_id for a in cases})).values_list("id", "name"))
    district = await OrgUnit.get(id=scope.org_unit_id)
    title = f"{district.name}{reports.KIND_LABELS['difficult_cases']}（{meeting_date.isoformat()}）"
    rows = [[a.id, names.get(a.station_id, ""), people[a.beneficiary_id].name, people[a.beneficiary_id].id_number_masked, CATEGORY_LABELS[people[a.beneficiary_id].category], a.problem_note, a.problem_report] for a in cases]
    document = reports.render_document(
        title=title,
        issuer=f"{district.name}优待证申领发放工作领导小组",
        addressed_to=ROUTE_TO_CITY,
        facts=[("领导小组会议日期", meeting_date.isoformat()), ("疑难问题件数", str(len(cases)))],
        paragraphs=[f"研究意见：{summary.strip()}"],
        headers=["申请编号", "服务站", "姓名", "身份证号", "类别", "问题", "情况及处理建议"],
        rows=rows,
    )
    return await reports.create_report(actor=actor, kind="difficult_cases", district_id=district.id, title=title, document=document, route=ROUTE_TO_CITY, data={"meeting_date": meeting_date.isoformat(), "application_ids": [a.id for a in cases], "summary": summary.strip()}, media_dir=media_dir)
