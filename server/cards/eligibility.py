"""Who may hold which preferential card, and what the record must hold before an application
enters the review chain. The one place for these rules (docs/cards.md has the table).

The plan covers 退役军人 and 烈士遗属、因公牺牲军人遗属、病故军人遗属等其他优抚对象. People in the
registry's non-military categories (disabled police, state officials, firefighters, reservists,
militia, other duty-disabled people) are beneficiaries of pensions but not veterans: the registry
records no military service for them, so they are not issued a veteran card. Someone who also served
is registered under a veteran category, and applies from that record.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.cards import CardKind
from models.registry import Beneficiary, Category, PaymentStatus


@dataclass(frozen=True)
class Eligibility:
    kind: CardKind | None
    why: str


_VETERAN = "退役军人"
_FAMILY = "烈士遗属、因公牺牲军人遗属、病故军人遗属（其他优抚对象）"
_NO_SERVICE = "非退役军人，登记中无服现役记录；如本人曾服现役，请以退役军人类别登记后申领"

ELIGIBILITY: dict[Category, Eligibility] = {
    Category.DEMOBILISED_AT_HOME: Eligibility(CardKind.VETERAN, _VETERAN),
    Category.DISABLED_SERVICEMAN: Eligibility(CardKind.VETERAN, _VETERAN),
    Category.WAR_VETERAN: Eligibility(CardKind.VETERAN, _VETERAN),
    Category.TEST_VETERAN: Eligibility(CardKind.VETERAN, _VETERAN),
    Category.RETURNED_ILL: Eligibility(CardKind.VETERAN, _VETERAN),
    Category.RURAL_VETERAN_60: Eligibility(CardKind.VETERAN, _VETERAN),
    Category.VETERAN: Eligibility(CardKind.VETERAN, _VETERAN),
    Category.MARTYR_FAMILY: Eligibility(CardKind.OTHER_BENEFICIARY, _FAMILY),
    Category.DUTY_DEATH_FAMILY: Eligibility(CardKind.OTHER_BENEFICIARY, _FAMILY),
    Category.ILLNESS_DEATH_FAMILY: Eligibility(CardKind.OTHER_BENEFICIARY, _FAMILY),
    # 烈士老年子女 are martyrs' surviving family (烈士遗属).
    Category.MARTYR_ELDERLY_CHILD: Eligibility(CardKind.OTHER_BENEFICIARY, _FAMILY),
    Category.DISABLED_POLICE: Eligibility(None, _NO_SERVICE),
    Category.DISABLED_STATE_OFFICIAL: Eligibility(None, _NO_SERVICE),
    Category.DISABLED_FIREFIGHTER: Eligibility(None, _NO_SERVICE),
    Category.DISABLED_RESERVIST: Eligibility(None, _NO_SERVICE),
    Category.DISABLED_MILITIA: Eligibility(None, _NO_SERVICE),
    Category.OTHER_DUTY_DISABLED: Eligibility(None, _NO_SERVICE),
    Category.OTHER: Eligibility(None, "不属于优待证申领对象"),
}

ELIGIBLE_CATEGORIES = [c for c, e in ELIGIBILITY.items() if e.kind is not None]


def card_kind_for(category: Category) -> CardKind | None:
    """The card a person of this category may hold, or None (not eligible)."""
    return ELIGIBILITY[category].kind


def is_deceased(person: Beneficiary) -> bool:
    return person.payment_status == PaymentStatus.DECEASED or person.death_date is not None


# 全要素信息采集、建档立卡: the record elements an application needs before it enters the chain
# (the name, ID number, birth date, sex and category are required by the registry itself).
RECORD_ELEMENTS = {"address": "家庭住址", "phone": "联系电话"}
# Collected at the station before it passes the application on (受理及检查: 材料是否完备).
STATION_CHECK_ELEMENTS = {"photo": "本人照片", "application_form": "签字的申领表", "bank_form": "签字的银行借记卡信息确认书", "bank_account": "关联银行借记卡信息"}


def missing_record_elements(person: Beneficiary) -> list[str]:
    return [key for key in RECORD_ELEMENTS if not str(getattr(person, key) or "").strip()]


def missing_station_check_elements(*, has_photo: bool, application_form: bool, bank_form: bool, bank_account: bool) -> list[str]:
    present = {"photo": has_photo, "application_form": application_form, "bank_form": bank_form, "bank_account": bank_account}
    return [key for key in STATION_CHECK_ELEMENTS if not present[key]]
