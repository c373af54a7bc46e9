"""Data entry the browser tests do not walk, over plain HTTP with the page's CSRF token and the same
services as the API: the centre receives (or refuses) a shipment, the station delivers a card, a proxy
and a binding transfer are decided; stored photos open only in scope, and each view is audited."""

from __future__ import annotations

from urllib.parse import unquote

import httpx
from sanic import Sanic

from models.audit import AuditEntry
from models.cards import (
    ApplicationStatus,
    Card,
    CardApplication,
    CardKind,
    CardStatus,
    Shipment,
)
from models.staff import Role
from models.wechat import BindingTransfer, ProxyGrant, ProxyStatus, TransferStatus
from server.actors import SYSTEM
from server.cards import applications as card_applications
from tests.cards.helpers import bind, mini_headers, ready_card
from tests.confirmation.helpers import face_kit
from tests.console.test_console_http import _console_login, _csrf
from tests.factories import make_beneficiary, make_county, make_staff


async def _form_page(client: httpx.AsyncClient, cookie: dict[str, str], path: str, app: Sanic) -> tuple[str, dict[str, str]]:
    page = await client.get(path, headers=cookie)
    assert page.status_code == 200, path
    return _csrf(page.text), {**cookie, "Referer": f"{app.ctx.test_base_url}{path}"}


async def test_centre_receives_and_refuses_shipments_and_the_station_delivers(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="周德福")
    application = await card_applications.create_application(actor=SYSTEM, settings=app.ctx.settings, beneficiary=person, card_kind=CardKind.VETERAN, channel="on_site")
    await CardApplication.filter(id=application.id).update(status=ApplicationStatus.APPROVED, open_key=None)
    centre = await _console_login(client, (await make_staff(role=Role.CENTRE, unit=county.district)).username)
    token, headers = await _form_page(client, centre, "/console/issuance", app)
    accepted = await client.post("/console/shipments", headers=headers, data={"csrf_token": token, "tracking_number": "SF-entry-1", "expected_count": "1", "counted_count": "1", "application_ids": f"{application.id}", "envelope_intact": "1", "cards_intact": "1"})
    assert "已签收快递 SF-entry-1，共 1 张" in unquote(accepted.headers["location"])
    assert (await Card.get(application_id=application.id)).status == CardStatus.AT_CENTRE
    photo = face_kit(app).id_photo
    refused = await client.post("/console/shipments", headers=headers, data={"csrf_token": token, "tracking_number": "SF-entry-2", "expected_count": "3", "counted_count": "3", "envelope_intact": "1", "damage_description": "两张证件折断"}, files={"photos": ("damage.jpg", photo, "image/jpeg")})
    assert "已拒收快递 SF-entry-2" in unquote(refused.headers["location"])
    shipment = await Shipment.get(tracking_number="SF-entry-2")
    page = (await client.get("/console/shipments", headers=centre)).text
    assert f"/console/documents/damage-{shipment.id}-0" in page and "两张证件折断" in page
    viewed = await client.get(f"/console/documents/damage-{shipment.id}-0", headers=centre)
    assert viewed.status_code == 200 and viewed.content == photo
    assert await AuditEntry.filter(action="document.viewed", entity_type="shipment").count() == 1
    elsewhere = await _console_login(client, (await make_staff(role=Role.CENTRE, unit=(await make_county("U")).district)).username)
    assert (await client.get(f"/console/documents/damage-{shipment.id}-0", headers=elsewhere)).status_code == 404
    # A station clerk may not receive shipments (no form, and the post is refused).
    clerk = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_a)).username)
    token, clerk_headers = await _form_page(client, clerk, "/console/issuance", app)
    assert 'id="receive"' not in (await client.get("/console/issuance", headers=clerk)).text
    denied = await client.post("/console/shipments", headers=clerk_headers, data={"csrf_token": token, "tracking_number": "SF-x", "expected_count": "1", "counted_count": "1"})
    assert "无权" in unquote(denied.headers["location"])
    # The station delivers a card that reached it: method, who received it, ID checked.
    card = await ready_card(app, await make_beneficiary(station=county.station_a, name="吴国华"), tracking="SF-entry-3")
    missing_check = await client.post(f"/console/issuance/{card.id}/deliver", headers=clerk_headers, data={"csrf_token": token, "method": "active_delivery", "received_by": "holder"})
    assert "须查验领取人身份证件" in unquote(missing_check.headers["location"])
    delivered = await client.post(f"/console/issuance/{card.id}/deliver", headers=clerk_headers, data={"csrf_token": token, "method": "active_delivery", "received_by": "proxy", "id_checked": "1"})
    assert "已登记发放：吴国华 的优待证（主动送达）" in unquote(delivered.headers["location"])
    card = await Card.get(id=card.id)
    assert card.status == CardStatus.DELIVERED and card.received_by == "proxy"


async def test_station_decides_proxies_and_binding_transfers(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="陈桂英")
    daughter, _ = await mini_headers(app, "o-entry-daughter")
    stranger, _ = await mini_headers(app, "o-entry-stranger")
    wanted = await ProxyGrant.create(proxy_user=daughter, beneficiary=person, proxy_name="陈小红", relation="子女", scopes=["apply", "collect"], status=ProxyStatus.PENDING)
    unwanted = await ProxyGrant.create(proxy_user=stranger, beneficiary=person, proxy_name="李某", relation="其他", scopes=["collect"], status=ProxyStatus.PENDING)
    old_phone, _ = await mini_headers(app, "o-entry-old")
    new_phone, _ = await mini_headers(app, "o-entry-new")
    await bind(old_phone, person)
    transfer = await BindingTransfer.create(user=new_phone, beneficiary=person, note="换了新手机")
    clerk = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_a)).username)
    token, headers = await _form_page(client, clerk, "/console/proxies", app)
    page = (await client.get("/console/proxies", headers=clerk)).text
    assert "陈小红" in page and "优待证申领、领取优待证" in page and "换了新手机" in page
    no_document = await client.post(f"/console/proxies/{wanted.id}/approve", headers=headers, data={"csrf_token": token})
    assert "请选择要上传的文件" in unquote(no_document.headers["location"])
    approved = await client.post(f"/console/proxies/{wanted.id}/approve", headers=headers, data={"csrf_token": token}, files={"document": ("authorisation.jpg", face_kit(app).id_photo, "image/jpeg")})
    assert "已同意 陈小红 代办" in unquote(approved.headers["location"])
    rejected = await client.post(f"/console/proxies/{unwanted.id}/reject", headers=headers, data={"csrf_token": token, "reason": "无法核实与本人关系"})
    assert "已不同意 李某 代办" in unquote(rejected.headers["location"])
    assert {g.id: g.status for g in await ProxyGrant.filter(beneficiary_id=person.id)} == {wanted.id: ProxyStatus.ACTIVE, unwanted.id: ProxyStatus.REJECTED}
    decided = await client.post(f"/console/transfers/{transfer.id}/decide", headers=headers, data={"csrf_token": token, "decision": "approve"})
    assert "已同意更换绑定" in unquote(decided.headers["location"])
    assert (await BindingTransfer.get(id=transfer.id)).status == TransferStatus.APPROVED
    # The signed authorisation is on the person's page for the bureau's check, and opens (audited).
    person_page = (await client.get(f"/console/beneficiaries/{person.id}", headers=clerk)).text
    assert f"/console/documents/proxy-{wanted.id}" in person_page and "代办授权材料（陈小红）" in person_page
    assert (await client.get(f"/console/documents/proxy-{wanted.id}", headers=clerk)).status_code == 200
    other_station = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_b)).username)
    assert (await client.get(f"/console/documents/proxy-{wanted.id}", headers=other_station)).status_code == 404
