from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
from sanic import Sanic

from models.cards import (
    ApplicationStatus,
    Card,
    CardApplication,
    CardKind,
    CardStatus,
    ConfidentialityAgreement,
    Shipment,
)
from models.org import OrgUnit
from models.registry import Beneficiary, Category, PhotoKind, ReferencePhoto
from models.staff import Role, Staff
from models.wechat import Binding, MiniUser, ProxyGrant, ProxyStatus
from server.actors import SYSTEM
from server.cards import applications
from server.miniapp import sessions
from tests.factories import login, make_beneficiary, make_staff


async def mini_headers(app: Sanic, openid: str) -> tuple[MiniUser, dict[str, str]]:
    user = await MiniUser.create(openid=openid)
    token, _ = await sessions.create_session(app.ctx.kv, user_id=user.id, ttl=3600)
    return user, {"Authorization": f"Bearer {token}"}


async def bind(user: MiniUser, person: Beneficiary) -> None:
    await Binding.create(user=user, beneficiary=person, active_beneficiary_id=person.id)


async def proxy(user: MiniUser, person: Beneficiary, scopes: list[str]) -> None:
    await ProxyGrant.create(proxy_user=user, beneficiary=person, proxy_name="家属", relation="子女", scopes=scopes, status=ProxyStatus.ACTIVE)


async def make_applicant(*, station: OrgUnit, category: Category | str = Category.WAR_VETERAN, photo: bool = False, **extra: object) -> Beneficiary:
    """A person whose record is complete enough to apply (建档立卡: address and phone)."""
    extra.setdefault("address", "伊山镇东风路18号")
    extra.setdefault("phone", "13800000000")
    person = await make_beneficiary(station=station, category=Category(category), **extra)  # type: ignore[arg-type]
    if photo:
        await give_photo(person)
    return person


async def give_photo(person: Beneficiary) -> None:
    await ReferencePhoto.create(beneficiary=person, kind=PhotoKind.STATION_CAPTURE, sha256=f"{person.id:064d}", path=f"photos/{person.id}.png", content_type="image/png", size_bytes=1)


async def ready_card(app: Sanic, person: Beneficiary, *, tracking: str) -> Card:
    """An approved application whose card has reached the person's station."""
    if not person.address or not person.phone:
        await Beneficiary.filter(id=person.id).update(address=person.address or "伊山镇东风路18号", phone=person.phone or "13800000000")
    application = await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=person, card_kind=CardKind.VETERAN, channel="on_site")
    await CardApplication.filter(id=application.id).update(status=ApplicationStatus.APPROVED, open_key=None)
    shipment = await Shipment.create(district_id=(await person.station).parent_id, tracking_number=tracking, expected_count=1, counted_count=1, envelope_intact=True, cards_intact=True, status="accepted", received_by_staff_id=0)
    return await Card.create(application_id=application.id, shipment=shipment, beneficiary_id=person.id, station_id=person.station_id, status=CardStatus.AT_STATION)


async def signed_headers(client: httpx.AsyncClient, *, role: Role, unit: OrgUnit) -> dict[str, str]:
    """A logged-in staff member with a confidentiality agreement on record (recorded directly)."""
    staff = await make_staff(role=role, unit=unit)
    await ConfidentialityAgreement.create(staff_id=staff.id, signed_on=date(2026, 1, 5), recorded_by_staff_id=0)
    await Staff.filter(id=staff.id).update(confidentiality_signed_at=datetime(2026, 1, 5, tzinfo=UTC))
    return await login(client, staff)
