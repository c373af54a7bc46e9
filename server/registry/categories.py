"""Chinese labels of beneficiary categories, for import files and user-facing text."""

from __future__ import annotations

from models.registry import Category, PaymentStatus

CATEGORY_LABELS: dict[Category, str] = {
    Category.DISABLED_SERVICEMAN: "残疾军人",
    Category.DISABLED_POLICE: "伤残人民警察",
    Category.DISABLED_STATE_OFFICIAL: "伤残国家机关工作人员",
    Category.DISABLED_FIREFIGHTER: "残疾消防救援人员",
    Category.DISABLED_RESERVIST: "伤残预备役人员",
    Category.DISABLED_MILITIA: "伤残民兵民工",
    Category.OTHER_DUTY_DISABLED: "其他因公伤残人员",
    Category.MARTYR_FAMILY: "烈士遗属",
    Category.DUTY_DEATH_FAMILY: "因公牺牲军人遗属",
    Category.ILLNESS_DEATH_FAMILY: "病故军人遗属",
    Category.DEMOBILISED_AT_HOME: "在乡老复员军人",
    Category.RETURNED_ILL: "带病回乡退伍军人",
    Category.WAR_VETERAN: "参战退役人员",
    Category.TEST_VETERAN: "参试退役人员",
    Category.RURAL_VETERAN_60: "年满60周岁农村籍退役士兵",
    Category.MARTYR_ELDERLY_CHILD: "烈士老年子女",
    Category.VETERAN: "退役军人",
    Category.OTHER: "其他优抚对象",
}

STATUS_LABELS: dict[PaymentStatus, str] = {
    PaymentStatus.ACTIVE: "正常发放",
    PaymentStatus.SUSPENDED: "暂停发放",
    PaymentStatus.DECEASED: "已故",
    PaymentStatus.STOPPED: "终止发放",
}

_BY_LABEL = {label: cat for cat, label in CATEGORY_LABELS.items()}
# Common alternative spellings seen in county spreadsheets.
_BY_LABEL.update({"参战参试军队退役人员": Category.WAR_VETERAN, "伤残国家机关人员": Category.DISABLED_STATE_OFFICIAL, "其他": Category.OTHER})


def parse_category(text: str) -> Category | None:
    value = text.strip()
    if value in _BY_LABEL:
        return _BY_LABEL[value]
    try:
        return Category(value)
    except ValueError:
        return None
