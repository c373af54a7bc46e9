"""Chinese words for the codes the services return, so a clerk never reads an English enum value."""

from __future__ import annotations

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


def label(table: dict[str, str], value: object) -> str:
    if value is None or value == "":
        return "—"
    return table.get(str(value), str(value))


ALL = {
    "ROLE": ROLE, "CAMPAIGN_STATUS": CAMPAIGN_STATUS, "STAGE": STAGE, "CONFIRMATION_STATUS": CONFIRMATION_STATUS,
    "METHOD": METHOD, "RECORD_KIND": RECORD_KIND, "OUTCOME": OUTCOME, "REVIEW_STATUS": REVIEW_STATUS, "DECISION": DECISION,
    "PROXY_STATUS": PROXY_STATUS, "PROXY_SCOPE": PROXY_SCOPE, "PAYMENT_STATUS": PAYMENT_STATUS, "BOOKING_STATUS": BOOKING_STATUS,
    "CHANNEL": CHANNEL, "DEATH_SOURCE": DEATH_SOURCE, "OVERPAYMENT_STATUS": OVERPAYMENT_STATUS, "PHOTO_KIND": PHOTO_KIND,
}
