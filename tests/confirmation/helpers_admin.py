"""Set-up for the notice / suspension / death / spot-check / report tests: a small county, a campaign
placed in a chosen stage relative to today, staff of each role, and direct state changes for speed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from models.confirmation import AgeBracket, Campaign, Confirmation, ConfirmationMethod, ConfirmationStatus
from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary
from models.staff import Role
from models.wechat import Binding, MiniUser, ProxyGrant, ProxyStatus
from server.actors import SYSTEM
from server.auth.scope import Scope
from server.clock import CHINA_TZ
from server.confirmation import campaigns
from tests.factories import County, make_beneficiary, make_county, staff_headers


def china_today() -> date:
    return datetime.now(UTC).astimezone(CHINA_TZ).date()


def month_shift(day: date, months: int, *, dom: int = 15) -> date:
    """The ``dom``-th of the month ``months`` away from ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, dom)


def birth_for(bracket: AgeBracket, reference: date) -> date:
    years = {AgeBracket.AGE_80_PLUS: 85, AgeBracket.AGE_70_79: 74, AgeBracket.UNDER_70: 62}[bracket]
    return date(reference.year - years, 3, 1)


def dates_with(*, implementation_end: date, today: date) -> campaigns.CampaignDates:
    """A calendar whose implementation stage ends on ``implementation_end``; the notice stage runs to
    well after ``today``."""
    start = implementation_end - timedelta(days=45)
    return campaigns.CampaignDates(
        reference_date=start,
        publicity_start=start - timedelta(days=6),
        publicity_end=start - timedelta(days=1),
        implementation_start=start,
        implementation_end=implementation_end,
        notice_start=implementation_end + timedelta(days=1),
        notice_end=max(today, implementation_end) + timedelta(days=90),
        summary_start=implementation_end + timedelta(days=10),
        summary_end=implementation_end + timedelta(days=15),
    )


async def open_campaign(district: OrgUnit, *, implementation_end: date, today: date | None = None) -> Campaign:
    today = today or china_today()
    scope = Scope(role=Role.ADMIN, org_unit_id=district.id, org_kind=OrgKind.DISTRICT)
    campaign = await campaigns.create_campaign(scope=scope, actor=SYSTEM, year=implementation_end.year, name=None, district_id=district.id, dates=dates_with(implementation_end=implementation_end, today=today), categories=None)
    await campaigns.open_campaign(scope=scope, actor=SYSTEM, campaign_id=campaign.id)
    return await Campaign.get(id=campaign.id)


@dataclass
class Office:
    """Logged-in staff of a county: station A, station B, the centre and the bureau."""

    county: County
    station_a: dict[str, str]
    station_b: dict[str, str]
    centre: dict[str, str]
    bureau: dict[str, str]


async def office(client: httpx.AsyncClient, code: str = "T") -> Office:
    county = await make_county(code)
    return Office(
        county=county,
        station_a=await staff_headers(client, role=Role.STATION, unit=county.station_a),
        station_b=await staff_headers(client, role=Role.STATION, unit=county.station_b),
        centre=await staff_headers(client, role=Role.CENTRE, unit=county.district),
        bureau=await staff_headers(client, role=Role.BUREAU, unit=county.district),
    )


async def people(station: OrgUnit, names: list[str], *, bracket: AgeBracket = AgeBracket.UNDER_70, reference: date | None = None, **extra: Any) -> list[Beneficiary]:
    birth = birth_for(bracket, reference or china_today() - timedelta(days=60))
    return [await make_beneficiary(station=station, name=name, birth=birth, **extra) for name in names]


async def confirmation_of(campaign: Campaign, person: Beneficiary) -> Confirmation:
    return await Confirmation.get(campaign_id=campaign.id, beneficiary_id=person.id)


async def set_state(campaign: Campaign, person: Beneficiary, status: ConfirmationStatus, method: ConfirmationMethod | None = None, *, home_visited: bool = False) -> None:
    """Put a confirmation straight into a state (the recording paths have their own tests)."""
    await Confirmation.filter(campaign_id=campaign.id, beneficiary_id=person.id).update(
        status=status, method=method, home_visited=home_visited, confirmed_at=datetime.now(UTC) - timedelta(minutes=5) if status == ConfirmationStatus.CONFIRMED else None
    )


async def bind(person: Beneficiary, openid: str) -> MiniUser:
    user = await MiniUser.create(openid=openid)
    await Binding.create(user=user, beneficiary=person, active_beneficiary_id=person.id)
    return user


async def add_proxy(person: Beneficiary, openid: str) -> MiniUser:
    user = await MiniUser.create(openid=openid)
    await ProxyGrant.create(proxy_user=user, beneficiary=person, proxy_name="张小红", relation="女儿", scopes=["book"], status=ProxyStatus.ACTIVE, approved_via="station")
    return user


def csv_bytes(rows: list[list[str]]) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def pay_months(person: Beneficiary, months: list[date], amount: Decimal | None = None) -> None:
    """Put months straight into the payments ledger (the file import has its own tests)."""
    from models.payments import PaymentFile, PaymentMonth

    batch = await PaymentFile.create(filename="test-ledger.csv", file_sha256="0" * 64)
    for month in months:
        await PaymentMonth.create(beneficiary_id=person.id, month=month.replace(day=1), amount=amount if amount is not None else person.monthly_amount, payment_file=batch)


def months_back(today: date, first: int, last: int = 0) -> list[date]:
    """The first days of the months ``first``..``last`` relative to ``today``'s month (negative = past)."""
    return [month_shift(today, k, dom=1) for k in range(first, last + 1)]


def board_photo(seed: int = 0) -> bytes:
    """A small JPEG standing in for a photo of a notice board."""
    import cv2
    import numpy as np

    image = np.full((40, 60, 3), 200 + seed % 50, dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()


def ledger_csv(rows: list[tuple[str, str, date, Decimal]]) -> bytes:
    """A payment system file: (ID number, name, month, amount) per row."""
    return csv_bytes([["身份证号码", "姓名", "发放月份", "发放金额"], *[[i, n, m.strftime("%Y-%m"), str(a)] for i, n, m, a in rows]])
