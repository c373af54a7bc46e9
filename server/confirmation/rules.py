"""The seed document's rules for annual confirmation, each in one named place."""

from __future__ import annotations

import math
from datetime import date
from enum import StrEnum

from models.confirmation import AgeBracket, Campaign
from models.registry import Category
from server.confirmation import notice_period

# 上门服务确认: 80 and over 100%, 70-79 at least 80%, under 70 at least 60% of the bracket.
HOME_VISIT_QUOTA: dict[AgeBracket, float] = {
    AgeBracket.AGE_80_PLUS: 1.0,
    AgeBracket.AGE_70_79: 0.8,
    AgeBracket.UNDER_70: 0.6,
}

# Everyone on a periodic pension/subsidy is in scope by default; a veteran without one is not.
PERIODIC_CATEGORIES: list[Category] = [c for c in Category if c not in (Category.VETERAN,)]

# 公告60日内仍未能取得联系的、无法确认的 … 自下月起停发 (the rule itself: notice_period.py)
NOTICE_TO_SUSPENSION_DAYS = notice_period.NOTICE_TO_SUSPENSION_DAYS


def age_on(birth: date, reference: date) -> int:
    return reference.year - birth.year - ((reference.month, reference.day) < (birth.month, birth.day))


def age_bracket(birth: date, reference: date) -> AgeBracket:
    age = age_on(birth, reference)
    if age >= 80:
        return AgeBracket.AGE_80_PLUS
    if age >= 70:
        return AgeBracket.AGE_70_79
    return AgeBracket.UNDER_70


def required_home_visits(bracket: AgeBracket, people: int) -> int:
    return math.ceil(HOME_VISIT_QUOTA[bracket] * people - 1e-9)


def first_day_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def months_between(start: date, end: date) -> int:
    """Whole calendar months from the month of ``start`` to the month of ``end`` (same month = 0)."""
    return (end.year - start.year) * 12 + end.month - start.month


class Stage(StrEnum):
    BEFORE = "before"
    PUBLICITY = "publicity"  # 政策宣传阶段
    IMPLEMENTATION = "implementation"  # 具体实施阶段
    NOTICE = "notice"  # 公告、停发阶段
    AFTER = "after"


def stage_on(campaign: Campaign, day: date) -> Stage:
    if day < campaign.publicity_start:
        return Stage.BEFORE
    if day <= campaign.publicity_end:
        return Stage.PUBLICITY
    if day <= campaign.implementation_end:
        return Stage.IMPLEMENTATION
    if day <= campaign.notice_end:
        return Stage.NOTICE
    return Stage.AFTER
