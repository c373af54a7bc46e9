"""A realistic demo county for demos, manual testing and benchmarks (`python -m server seed-demo`)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary, Category, PaymentStatus, PaymentStatusChange
from models.staff import Role, Staff
from server.actors import SYSTEM
from server.audit import service as audit
from server.registry.id_numbers import make_id_number
from server.security.fields import cipher
from server.security.passwords import hash_password

TOWNS = ["伊山镇", "杨集镇", "燕尾港镇", "同兴镇", "四队镇", "圩丰镇", "龙苴镇", "下车镇", "图河镇", "南岗镇", "小伊镇", "白蚬镇", "陡沟镇", "侍庄街道", "东王集镇", "穆圩乡"]
VILLAGE_SUFFIXES = ["村", "村", "社区"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
GIVEN = "建国华明军强伟芳秀英玉兰桂珍海洋志刚永红春生德福宝山平安庆学文成立新荣光辉良发林云凤兵忠义富贵和顺清国民"

# (category, weight, (min_age, max_age), monthly amount range) — roughly a rural county's mix.
CATEGORY_MIX: list[tuple[Category, int, tuple[int, int], tuple[int, int]]] = [
    (Category.RURAL_VETERAN_60, 34, (60, 88), (200, 400)),
    (Category.WAR_VETERAN, 12, (62, 95), (600, 900)),
    (Category.TEST_VETERAN, 5, (58, 90), (600, 900)),
    (Category.DISABLED_SERVICEMAN, 14, (40, 95), (1500, 6000)),
    (Category.RETURNED_ILL, 8, (55, 85), (700, 1000)),
    (Category.DEMOBILISED_AT_HOME, 3, (90, 101), (1600, 2000)),
    (Category.MARTYR_FAMILY, 4, (60, 98), (2000, 2600)),
    (Category.ILLNESS_DEATH_FAMILY, 5, (55, 95), (1500, 2000)),
    (Category.DUTY_DEATH_FAMILY, 2, (50, 92), (1700, 2200)),
    (Category.MARTYR_ELDERLY_CHILD, 6, (60, 85), (400, 600)),
    (Category.DISABLED_MILITIA, 3, (45, 90), (1000, 3000)),
    (Category.DISABLED_POLICE, 2, (35, 80), (1500, 4000)),
    (Category.OTHER_DUTY_DISABLED, 2, (35, 85), (1000, 3000)),
]

DISTRICT_REGION = "320723"  # 灌云县


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _birth_date(rng: random.Random, age_range: tuple[int, int], today: date) -> date:
    age = rng.randint(*age_range)
    return today - timedelta(days=age * 365 + rng.randint(0, 364))


async def seed_demo_county(*, stations: int = 10, beneficiaries: int = 3000, seed: int = 7, password: str = "demo-password-2026") -> dict[str, Any]:
    rng = random.Random(seed)
    today = date.today()
    if await OrgUnit.filter(code="D320723").exists():
        return {"status": "already seeded", "district_code": "D320723"}
    city = await OrgUnit.filter(kind=OrgKind.CITY).order_by("id").first()
    if city is None:
        city = await OrgUnit.create(name="连云港市退役军人事务局", code="CITY", kind=OrgKind.CITY)
    district = await OrgUnit.create(name="灌云县退役军人事务局", code="D320723", kind=OrgKind.DISTRICT, parent=city, address="灌云县伊山镇")
    station_units: list[OrgUnit] = []
    villages: dict[int, list[OrgUnit]] = {}
    for index, town in enumerate(TOWNS[:stations], start=1):
        station = await OrgUnit.create(name=f"{town}退役军人服务站", code=f"S{index:02d}", kind=OrgKind.STATION, parent=district, address=f"灌云县{town}", phone=f"0518-8800{index:04d}")
        station_units.append(station)
        villages[station.id] = [
            await OrgUnit.create(name=f"{town[:-1]}{rng.choice('东西南北中前后新')}{suffix}", code=f"S{index:02d}V{v}", kind=OrgKind.VILLAGE, parent=station)
            for v, suffix in enumerate(VILLAGE_SUFFIXES, start=1)
        ]

    password_hash = hash_password(password)
    staff_rows = [
        Staff(username="city1", display_name="市局审核员", password_hash=password_hash, role=Role.CITY, org_unit=city),
        Staff(username="centre1", display_name="服务中心核实员", password_hash=password_hash, role=Role.CENTRE, org_unit=district),
        Staff(username="bureau1", display_name="优抚科科员", password_hash=password_hash, role=Role.BUREAU, org_unit=district),
        Staff(username="auditor1", display_name="纪检监察员", password_hash=password_hash, role=Role.AUDITOR, org_unit=district),
    ]
    for index, station in enumerate(station_units, start=1):
        staff_rows.append(Staff(username=f"station{index:02d}", display_name=f"{station.name[:-7]}站工作人员", password_hash=password_hash, role=Role.STATION, org_unit=station))
    # Demo staff have signed the confidentiality agreement (保密协议), so the card pages open as they would at work.
    signed_at = datetime.now(UTC)
    for staff in staff_rows:
        staff.confidentiality_signed_at = signed_at
    await Staff.bulk_create(staff_rows)

    weights = [w for _, w, _, _ in CATEGORY_MIX]
    seen: set[str] = set()
    rows: list[Beneficiary] = []
    while len(rows) < beneficiaries:
        category, _, ages, amounts = rng.choices(CATEGORY_MIX, weights=weights)[0]
        birth = _birth_date(rng, ages, today)
        male = rng.random() < (0.55 if category in (Category.MARTYR_FAMILY, Category.ILLNESS_DEATH_FAMILY, Category.DUTY_DEATH_FAMILY, Category.MARTYR_ELDERLY_CHILD) else 0.97)
        id_number = make_id_number(DISTRICT_REGION, birth, rng.randint(0, 999), male=male)
        if id_number in seen:
            continue
        seen.add(id_number)
        station = rng.choice(station_units)
        village = rng.choice(villages[station.id])
        rows.append(
            Beneficiary(
                name=_name(rng),
                id_number_encrypted=cipher().encrypt(id_number, associated=b"beneficiary.id_number"),
                id_number_hash=cipher().lookup_hash(id_number),
                id_number_masked=id_number[:6] + "*" * 8 + id_number[-4:],
                birth_date=birth,
                sex="male" if male else "female",
                category=category,
                station=station,
                village=village,
                address=f"灌云县{station.name[:-7]}{village.name}{rng.randint(1, 99)}号",
                phone=f"1{rng.choice('3578')}{rng.randint(0, 999999999):09d}",
                monthly_amount=Decimal(rng.randrange(amounts[0], amounts[1], 10)),
                on_periodic_payment=True,
                payment_status=PaymentStatus.ACTIVE,
                lives_away=rng.random() < 0.12,
                hardship=rng.random() < 0.04,
            )
        )
    async with in_transaction():
        await Beneficiary.bulk_create(rows, batch_size=500)
        created = await Beneficiary.filter(station_id__in=[s.id for s in station_units]).values_list("id", flat=True)
        await PaymentStatusChange.bulk_create(
            [PaymentStatusChange(beneficiary_id=bid, from_status=None, to_status=PaymentStatus.ACTIVE, effective_date=today, reason="演示数据导入") for bid in created],
            batch_size=1000,
        )
        await audit.record(actor=SYSTEM, action="demo.seeded", entity_type="org_unit", entity_id=district.id, details={"stations": stations, "beneficiaries": len(rows), "seed": seed})
    return {
        "district_id": district.id,
        "stations": [{"id": s.id, "name": s.name, "code": s.code} for s in station_units],
        "beneficiaries": len(rows),
        "staff_usernames": [s.username for s in staff_rows],
        "staff_password": password,
    }
