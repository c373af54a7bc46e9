"""The card document's rules, each in one named place."""

from __future__ import annotations

from models.cards import ApplicationStatus, CardKind
from models.registry import Category
from models.staff import Role

# Which card each category may hold lives in server/cards/eligibility.py.

# 第一批次 (March), 第二批次 (April); everyone else in the third (May–September).
FIRST_BATCH = {
    Category.DEMOBILISED_AT_HOME, Category.DISABLED_SERVICEMAN, Category.WAR_VETERAN, Category.TEST_VETERAN,
    Category.MARTYR_FAMILY, Category.DUTY_DEATH_FAMILY, Category.ILLNESS_DEATH_FAMILY, Category.MARTYR_ELDERLY_CHILD,
}
SECOND_BATCH = {Category.RETURNED_ILL, Category.RURAL_VETERAN_60}

KIND_LABELS = {CardKind.VETERAN: "退役军人优待证", CardKind.OTHER_BENEFICIARY: "其他优抚对象优待证"}
STATUS_LABELS = {
    ApplicationStatus.STATION_CHECK: "服务站受理检查",
    ApplicationStatus.CENTRE_VERIFICATION: "服务中心核实",
    ApplicationStatus.BUREAU_REVIEW: "事务局初审",
    ApplicationStatus.CITY_REVIEW: "市局审核",
    ApplicationStatus.APPROVED: "审核通过",
    ApplicationStatus.RETURNED: "退回申请人补正",
    ApplicationStatus.WITHDRAWN: "已撤回",
}

# The review chain: who acts at each step, where a pass goes, where a return goes (one level down).
CHAIN: dict[ApplicationStatus, tuple[Role, ApplicationStatus, ApplicationStatus]] = {
    ApplicationStatus.STATION_CHECK: (Role.STATION, ApplicationStatus.CENTRE_VERIFICATION, ApplicationStatus.RETURNED),
    ApplicationStatus.CENTRE_VERIFICATION: (Role.CENTRE, ApplicationStatus.BUREAU_REVIEW, ApplicationStatus.STATION_CHECK),
    ApplicationStatus.BUREAU_REVIEW: (Role.BUREAU, ApplicationStatus.CITY_REVIEW, ApplicationStatus.CENTRE_VERIFICATION),
    ApplicationStatus.CITY_REVIEW: (Role.CITY, ApplicationStatus.APPROVED, ApplicationStatus.BUREAU_REVIEW),
}

DELIVERY_METHODS = {"active_delivery": "主动送达", "group_issuance": "集体颁发", "agreed": "双方约定", "pickup_appointment": "预约领取"}


def batch_for(category: Category) -> int:
    if category in FIRST_BATCH:
        return 1
    if category in SECOND_BATCH:
        return 2
    return 3


def step_due_days(status: ApplicationStatus, settings: object) -> int | None:
    """Working days each step has (the bureau's 初审: 7 working days from the centre's verification)."""
    cards = settings.cards
    return {
        ApplicationStatus.STATION_CHECK: cards.station_check_due_working_days,
        ApplicationStatus.CENTRE_VERIFICATION: cards.centre_verification_due_working_days,
        ApplicationStatus.BUREAU_REVIEW: cards.bureau_review_due_working_days,
        ApplicationStatus.CITY_REVIEW: cards.city_review_due_working_days,
    }.get(status)
