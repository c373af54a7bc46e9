"""Chinese words for every code the services store or return (statuses, methods, reasons, scopes, stages,
actions, roles), so a clerk never reads an English enum value. One place for the console, XLSX exports and
messages; ``tests/console/test_labels.py`` fails when an enum value has no label here.

Also the one conversion of stored UTC times to China time for display."""

from __future__ import annotations

from enum import StrEnum

from models.cards import ApplicationStatus, BookingStatus, CardKind, CardStatus
from models.confirmation import (
    AgeBracket,
    CampaignStatus,
    ConfirmationMethod,
    ConfirmationStatus,
    ReviewStatus,
    SuspensionStatus,
)
from models.org import OrgKind
from models.registry import Category, PaymentStatus, PhotoKind, Sex
from models.staff import Role
from models.wechat import BindingStatus, NotificationStatus, ProxyStatus, TransferStatus
from server import clock
from server.cards.rules import DELIVERY_METHODS, STATUS_LABELS
from server.clock import china_now as china_now  # re-exported: the console names it from here
from server.registry.categories import CATEGORY_LABELS

ROLE = {"station": "服务站", "centre": "服务中心", "bureau": "事务局", "city": "市局", "auditor": "纪检监察（只读）", "admin": "管理员"}
CAMPAIGN_STATUS = {"draft": "草稿", "open": "进行中", "closed": "已结束"}
STAGE = {"before": "未开始", "publicity": "政策宣传阶段", "implementation": "具体实施阶段", "notice": "公告、停发阶段", "after": "已结束"}
CONFIRMATION_STATUS = {"pending": "未确认", "in_review": "待人工核验", "confirmed": "已确认", "not_found": "未找到本人", "deceased": "已故", "moved": "已迁出"}
METHOD = {"home_visit": "上门确认", "station": "服务站确认", "self_service": "线上自助确认"}
RECORD_KIND = {"home_visit": "上门走访", "station": "服务站办理", "self_service": "线上自助", "review": "人工核验", "recheck": "事务局复核"}
OUTCOME = {
    "confirmed": "已确认", "not_found": "未找到本人", "death_reported": "报告死亡", "moved_away": "已迁出",
    "accepted": "通过", "rejected": "不通过", "questioned": "存疑", "pass": "通过", "review": "待人工复核", "fail": "未通过",
}
VISIT_OUTCOME = {"confirmed": "见到本人，确认", "not_found": "未找到本人", "death_reported": "本人已故", "moved_away": "已迁出本地"}
REVIEW_STATUS = {"open": "待处理", "accepted": "已通过", "rejected": "未通过"}
DECISION = {"pass": "通过", "review": "待人工复核", "fail": "未通过"}
PROXY_STATUS = {"pending": "待审核", "active": "有效", "rejected": "已拒绝", "revoked": "已撤销"}
PROXY_SCOPE = {"book": "预约", "apply": "优待证申领", "collect": "领取优待证"}
PAYMENT_STATUS = {"active": "正常发放", "suspended": "暂停发放", "deceased": "已故", "stopped": "终止发放"}
BOOKING_STATUS = {"active": "待签到", "checked_in": "已发证", "cancelled": "已取消", "no_show": "未到"}
CHANNEL = {"online": "线上申请", "on_site": "现场申请"}
DEATH_SOURCE = {"civil_affairs": "民政", "police": "公安", "funeral": "殡葬", "home_visit": "入户走访"}
OVERPAYMENT_STATUS = {"outstanding": "待追回", "recovered": "已追回", "none": "无多发"}
PHOTO_KIND = {"id_card": "身份证照片", "confirmation": "历次确认照片", "station_capture": "站内采集照片"}
APPLICATION_STATUS = {s.value: text for s, text in STATUS_LABELS.items()}
CARD_ACTION = {"submit": "提交", "pass": "通过", "return": "退回", "resubmit": "补正后重新提交", "withdraw": "撤回"}
CARD_KIND = {"veteran": "退役军人优待证", "other_beneficiary": "其他优抚对象优待证"}
CARD_STATUS = {"at_centre": "在服务中心", "at_station": "在服务站（待发放）", "delivered": "已发放"}
DELIVERY_METHOD = dict(DELIVERY_METHODS)
RECEIVED_BY = {"holder": "本人", "proxy": "代领人"}
SHIPMENT_STATUS = {"accepted": "已接收", "refused": "已拒收"}
SUSPENSION_STATUS = {"proposed": "待批准", "approved": "已批准暂停", "withdrawn": "已撤销"}
AGE_BRACKET = {"80_plus": "80岁及以上", "70_79": "70–79岁", "under_70": "70岁以下"}
ORG_KIND = {"city": "市", "district": "县（区）", "station": "服务站", "village": "村（社区）"}
CATEGORY = dict(CATEGORY_LABELS)
SEX = {"male": "男", "female": "女"}
BINDING_STATUS = {"active": "有效", "revoked": "已解除"}
TRANSFER_STATUS = {"pending": "待审核", "approved": "已同意", "rejected": "已拒绝"}
NOTIFICATION_STATUS = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "no_quota": "无法推送", "refused": "用户拒收", "failed": "发送失败", "uncertain": "结果不明"}
SPOT_RESULT = {"verified": "核实无误", "discrepancy": "发现问题", "not_reached": "未能联系"}
IMPORT_ROW_STATUS = {"recorded": "已登记死亡", "already_recorded": "此前已登记", "unmatched": "未匹配", "rejected": "数据有误", "conflict": "与已有记录冲突"}
YES_NO = {"True": "是", "False": "否", "true": "是", "false": "否"}

ALL = {
    "ROLE": ROLE, "CAMPAIGN_STATUS": CAMPAIGN_STATUS, "STAGE": STAGE, "CONFIRMATION_STATUS": CONFIRMATION_STATUS,
    "METHOD": METHOD, "RECORD_KIND": RECORD_KIND, "OUTCOME": OUTCOME, "VISIT_OUTCOME": VISIT_OUTCOME, "REVIEW_STATUS": REVIEW_STATUS, "DECISION": DECISION,
    "PROXY_STATUS": PROXY_STATUS, "PROXY_SCOPE": PROXY_SCOPE, "PAYMENT_STATUS": PAYMENT_STATUS, "BOOKING_STATUS": BOOKING_STATUS,
    "CHANNEL": CHANNEL, "DEATH_SOURCE": DEATH_SOURCE, "OVERPAYMENT_STATUS": OVERPAYMENT_STATUS, "PHOTO_KIND": PHOTO_KIND,
    "APPLICATION_STATUS": APPLICATION_STATUS, "CARD_ACTION": CARD_ACTION, "CARD_KIND": CARD_KIND, "CARD_STATUS": CARD_STATUS,
    "DELIVERY_METHOD": DELIVERY_METHOD, "RECEIVED_BY": RECEIVED_BY, "SHIPMENT_STATUS": SHIPMENT_STATUS, "SUSPENSION_STATUS": SUSPENSION_STATUS,
    "AGE_BRACKET": AGE_BRACKET, "ORG_KIND": ORG_KIND, "CATEGORY": CATEGORY, "SEX": SEX, "BINDING_STATUS": BINDING_STATUS,
    "TRANSFER_STATUS": TRANSFER_STATUS, "NOTIFICATION_STATUS": NOTIFICATION_STATUS,
    "SPOT_RESULT": SPOT_RESULT, "IMPORT_ROW_STATUS": IMPORT_ROW_STATUS, "YES_NO": YES_NO,
}

# Every stored enum and the table that names its values (checked by a test).
ENUM_TABLES: dict[type[StrEnum], dict[str, str]] = {
    ApplicationStatus: APPLICATION_STATUS, BookingStatus: BOOKING_STATUS, CardKind: CARD_KIND, CardStatus: CARD_STATUS,
    AgeBracket: AGE_BRACKET, CampaignStatus: CAMPAIGN_STATUS, ConfirmationMethod: METHOD, ConfirmationStatus: CONFIRMATION_STATUS,
    ReviewStatus: REVIEW_STATUS, SuspensionStatus: SUSPENSION_STATUS, OrgKind: ORG_KIND, Category: CATEGORY, PaymentStatus: PAYMENT_STATUS,
    PhotoKind: PHOTO_KIND, Sex: SEX, Role: ROLE, BindingStatus: BINDING_STATUS, TransferStatus: TRANSFER_STATUS, ProxyStatus: PROXY_STATUS,
    NotificationStatus: NOTIFICATION_STATUS,
}


def label(table: dict[str, str], value: object) -> str:
    """The Chinese word for ``value``; an unknown code is shown as 其他 rather than leaking English."""
    if value is None or value == "":
        return "—"
    return table.get(str(getattr(value, "value", value)), "其他")


# Formatting a stored time lives with the clock (infrastructure every domain may use); named here too.
china_time = clock.china_time
CHINA = clock.CHINA_TZ  # the console and its tests name it from here

