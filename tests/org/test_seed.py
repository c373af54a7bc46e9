from __future__ import annotations

from datetime import date

from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary
from models.staff import Role, Staff
from server.audit.service import verify_chain
from server.seed import seed_demo_county


async def test_demo_county_has_stations_staff_and_a_realistic_age_mix(app) -> None:  # type: ignore[no-untyped-def]
    summary = await seed_demo_county(stations=4, beneficiaries=400, seed=3)
    assert len(summary["stations"]) == 4
    assert await OrgUnit.filter(kind=OrgKind.VILLAGE).count() == 12
    roles = set(await Staff.all().values_list("role", flat=True))
    assert {Role.STATION, Role.CENTRE, Role.BUREAU, Role.CITY, Role.AUDITOR} <= roles
    births = await Beneficiary.all().values_list("birth_date", flat=True)
    assert len(births) == 400
    today = date.today()
    ages = [(today - b).days // 365 for b in births]
    share_80 = sum(a >= 80 for a in ages) / len(ages)
    share_70s = sum(70 <= a < 80 for a in ages) / len(ages)
    share_under_70 = sum(a < 70 for a in ages) / len(ages)
    assert 0.1 < share_80 < 0.5 and 0.1 < share_70s < 0.5 and 0.2 < share_under_70 < 0.7
    again = await seed_demo_county(stations=4, beneficiaries=400, seed=3)
    assert again["status"] == "already seeded"
    assert (await verify_chain()).ok
