from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sanic import Sanic

from models.wechat import Binding, MiniUser, Notification
from server.confirmation import rules
from server.confirmation.notices import mask_name
from server.confirmation.reminders import queue_confirmation_reminders
from server.confirmation.spot_checks import draw
from server.payments.overpayment import first_month_not_due
from tests.confirmation.helpers import running_campaign
from tests.factories import make_beneficiary, make_county


async def test_reminders_go_at_most_once_a_week_to_people_on_wechat(app: Sanic) -> None:
    county = await make_county()
    on_wechat = await make_beneficiary(station=county.station_a, name="微信用户")
    await make_beneficiary(station=county.station_a, name="无微信")
    await running_campaign(county.district)
    user = await MiniUser.create(openid="o-remind")
    await Binding.create(user=user, beneficiary=on_wechat, active_beneficiary_id=on_wechat.id)
    now = datetime.now(UTC)
    assert await queue_confirmation_reminders(now=now, interval_days=7) == 1
    assert await queue_confirmation_reminders(now=now + timedelta(days=3), interval_days=7) == 0
    assert await queue_confirmation_reminders(now=now + timedelta(days=8), interval_days=7) == 1
    rows = await Notification.filter(template_key="confirmation_due")
    assert len(rows) == 2 and {r.user_id for r in rows} == {user.id}


def test_age_brackets_and_quota_rules() -> None:
    reference = date(2026, 10, 16)
    assert rules.age_bracket(date(1946, 10, 16), reference).value == "80_plus"
    assert rules.age_bracket(date(1946, 10, 17), reference).value == "70_79"
    assert rules.age_bracket(date(1956, 10, 17), reference).value == "under_70"
    assert rules.required_home_visits(rules.AgeBracket.AGE_70_79, 11) == 9  # 80 % rounded up
    assert rules.required_home_visits(rules.AgeBracket.UNDER_70, 10) == 6
    assert rules.first_day_of_next_month(date(2026, 12, 5)) == date(2027, 1, 1)


def test_first_month_not_due_and_masking() -> None:
    assert first_month_not_due(date(2026, 8, 20)) == date(2026, 9, 1)  # the month of death is still due
    assert first_month_not_due(date(2026, 12, 31)) == date(2027, 1, 1)
    assert mask_name("张建国") == "张*国" and mask_name("李四") == "李*" and mask_name("欧阳小明") == "欧**明"


def test_spot_check_draw_is_reproducible_from_the_seed() -> None:
    population = list(range(1, 501))
    assert draw(population, seed="abc", size=10) == draw(population, seed="abc", size=10)
    assert draw(population, seed="abc", size=10) != draw(population, seed="abd", size=10)
    assert len(draw(population[:3], seed="x", size=10)) == 3
