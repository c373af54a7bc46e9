"""The year's timeline from settings: acceptance batches with their windows, 集中发证, 重点核查,
and the period in which applications enter the review chain (3/1–11/30 in the plan)."""

from __future__ import annotations

from datetime import date
from typing import Any

from server.clock import china_today
from server.config import Settings
from server.errors import ValidationFailed

BATCH_LABELS = {1: "第一批次", 2: "第二批次", 3: "第三批次"}
STAGE_LABELS = {"acceptance": "集中受理阶段", "issuance": "集中发证阶段", "cleanup": "重点核查阶段", "outside": "不在年度工作期内"}


def _on(year: int, month_day: str) -> date:
    month, day = (int(x) for x in month_day.split("-"))
    return date(year, month, day)


def _span(year: int, pair: tuple[str, str] | list[str]) -> tuple[date, date]:
    return _on(year, pair[0]), _on(year, pair[1])


def batch_window(*, batch: int, year: int, settings: Settings) -> tuple[date, date]:
    return _span(year, settings.cards.batch_windows[batch - 1])


def stage_on(day: date, settings: Settings) -> str:
    windows = [_span(day.year, w) for w in settings.cards.batch_windows]
    if windows[0][0] <= day <= windows[-1][1]:
        return "acceptance"
    start, end = _span(day.year, settings.cards.issuance_stage)
    if start <= day <= end:
        return "issuance"
    start, end = _span(day.year, settings.cards.cleanup_stage)
    if start <= day <= end:
        return "cleanup"
    return "outside"


def current_batch(day: date, settings: Settings) -> int | None:
    for number, pair in enumerate(settings.cards.batch_windows, start=1):
        start, end = _span(day.year, pair)
        if start <= day <= end:
            return number
    return None


def in_review_period(day: date, settings: Settings) -> bool:
    start, end = _span(day.year, settings.cards.review_period)
    return start <= day <= end


def require_review_period(day: date, settings: Settings) -> None:
    """受理及检查、核实、初审和审核 run from 3/1 to 11/30: outside it nothing enters the chain
    (when the county switches enforcement on)."""
    if settings.cards.enforce_review_period and not in_review_period(day, settings):
        start, end = _span(day.year, settings.cards.review_period)
        raise ValidationFailed(f"优待证受理审核时间为{start.month}月{start.day}日至{end.month}月{end.day}日，当前不在受理期内", code="outside_review_period", start=start.isoformat(), end=end.isoformat())


def year_timeline(*, year: int, settings: Settings, today: date | None = None) -> dict[str, Any]:
    today = today or china_today()
    batches = []
    for number, pair in enumerate(settings.cards.batch_windows, start=1):
        start, end = _span(year, pair)
        batches.append({"batch": number, "label": BATCH_LABELS.get(number, f"第{number}批次"), "from": start.isoformat(), "to": end.isoformat(), "current": start <= today <= end})
    stages = []
    acceptance = (_on(year, settings.cards.batch_windows[0][0]), _on(year, settings.cards.batch_windows[-1][1]))
    for key, (start, end) in (("acceptance", acceptance), ("issuance", _span(year, settings.cards.issuance_stage)), ("cleanup", _span(year, settings.cards.cleanup_stage))):
        stages.append({"stage": key, "label": STAGE_LABELS[key], "from": start.isoformat(), "to": end.isoformat(), "current": start <= today <= end})
    start, end = _span(year, settings.cards.review_period)
    return {
        "year": year,
        "today": today.isoformat(),
        "stage": stage_on(today, settings) if today.year == year else None,
        "batches": batches,
        "stages": stages,
        "review_period": {"from": start.isoformat(), "to": end.isoformat(), "enforced": settings.cards.enforce_review_period},
        "statistics_due_day": settings.cards.statistics_freeze_day,
    }
