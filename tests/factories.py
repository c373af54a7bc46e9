"""Factories: real rows through the real services, with unique, valid identity numbers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary, Category
from models.staff import Role, Staff
from server.actors import SYSTEM
from server.registry import service as registry
from server.registry.id_numbers import make_id_number
from server.security.passwords import hash_password

PASSWORD = "correct-horse-battery"
_sequence = itertools.count(1)


def unique_id_number(*, birth: date = date(1950, 5, 17), male: bool = True, region: str = "320723") -> str:
    n = next(_sequence)
    # Vary the birth day as well as the sequence so thousands stay unique.
    day = date.fromordinal(birth.toordinal() + n // 500)
    return make_id_number(region, day, n % 500 * 2 + (1 if male else 0), male=male)


@dataclass
class County:
    city: OrgUnit
    district: OrgUnit
    station_a: OrgUnit
    station_b: OrgUnit
    village_a: OrgUnit


async def make_county(code: str = "T") -> County:
    city = await OrgUnit.create(name="连云港市退役军人事务局", code=f"{code}CITY", kind=OrgKind.CITY)
    district = await OrgUnit.create(name="灌云县退役军人事务局", code=f"{code}D1", kind=OrgKind.DISTRICT, parent=city)
    station_a = await OrgUnit.create(name="伊山镇退役军人服务站", code=f"{code}S1", kind=OrgKind.STATION, parent=district)
    station_b = await OrgUnit.create(name="杨集镇退役军人服务站", code=f"{code}S2", kind=OrgKind.STATION, parent=district)
    village_a = await OrgUnit.create(name="伊山东村", code=f"{code}S1V1", kind=OrgKind.VILLAGE, parent=station_a)
    return County(city=city, district=district, station_a=station_a, station_b=station_b, village_a=village_a)


async def make_staff(*, role: Role, unit: OrgUnit, username: str | None = None, password: str = PASSWORD) -> Staff:
    return await Staff.create(
        username=username or f"{role.value}{next(_sequence)}",
        display_name=f"测试{role.value}",
        password_hash=hash_password(password),
        role=role,
        org_unit=unit,
    )


async def login(client: httpx.AsyncClient, staff: Staff, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/api/staff/login", json={"username": staff.username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def staff_headers(client: httpx.AsyncClient, *, role: Role, unit: OrgUnit) -> dict[str, str]:
    return await login(client, await make_staff(role=role, unit=unit))


async def make_beneficiary(*, station: OrgUnit, name: str = "张建国", category: Category = Category.WAR_VETERAN, birth: date = date(1950, 5, 17), male: bool = True, id_number: str | None = None, **extra: Any) -> Beneficiary:
    # A complete record by default, as the registry holds for most people (cards refuse incomplete ones).
    extra.setdefault("address", "伊山镇东风路18号")
    extra.setdefault("phone", "13800000000")
    data = registry.NewBeneficiary(
        name=name,
        id_number=id_number or unique_id_number(birth=birth, male=male),
        category=category,
        station_id=station.id,
        monthly_amount=extra.pop("monthly_amount", Decimal("800.00")),
        **extra,
    )
    return await registry.insert_beneficiary(actor=SYSTEM, data=data)
