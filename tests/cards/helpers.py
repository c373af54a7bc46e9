from __future__ import annotations

from sanic import Sanic

from models.cards import ApplicationStatus, Card, CardApplication, CardKind, CardStatus, Shipment
from models.registry import Beneficiary
from models.wechat import Binding, MiniUser, ProxyGrant, ProxyStatus
from server.actors import SYSTEM
from server.cards import applications
from server.miniapp import sessions


async def mini_headers(app: Sanic, openid: str) -> tuple[MiniUser, dict[str, str]]:
    user = await MiniUser.create(openid=openid)
    token, _ = await sessions.create_session(app.ctx.kv, user_id=user.id, ttl=3600)
    return user, {"Authorization": f"Bearer {token}"}


async def bind(user: MiniUser, person: Beneficiary) -> None:
    await Binding.create(user=user, beneficiary=person, active_beneficiary_id=person.id)


async def proxy(user: MiniUser, person: Beneficiary, scopes: list[str]) -> None:
    await ProxyGrant.create(proxy_user=user, beneficiary=person, proxy_name="家属", relation="子女", scopes=scopes, status=ProxyStatus.ACTIVE)


async def ready_card(app: Sanic, person: Beneficiary, *, tracking: str) -> Card:
    """An approved application whose card has reached the person's station."""
    application = await applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=person, card_kind=CardKind.VETERAN, channel="on_site")
    await CardApplication.filter(id=application.id).update(status=ApplicationStatus.APPROVED, open_key=None)
    shipment = await Shipment.create(district_id=(await person.station).parent_id, tracking_number=tracking, expected_count=1, counted_count=1, envelope_intact=True, cards_intact=True, status="accepted", received_by_staff_id=0)
    return await Card.create(application_id=application.id, shipment=shipment, beneficiary_id=person.id, station_id=person.station_id, status=CardStatus.AT_STATION)
