from __future__ import annotations

import httpx
import pytest
from sanic import Sanic

from models.audit import AuditEntry
from models.staff import Role
from models.wechat import MiniUser, Notification, NotificationStatus
from server.errors import Forbidden
from server.miniapp.acting import ProxyScope, acting_for, require_self
from server.notifications.worker import OutboxWorker
from server.registry.service import decrypt_id_number
from server.wechat.standin import StandinControl
from tests.factories import make_beneficiary, make_county, staff_headers
from tests.miniapp.helpers import grant_quota, mini_login


def _worker(app: Sanic) -> OutboxWorker:
    return OutboxWorker(wechat=app.ctx.wechat, wechat_settings=app.ctx.settings.wechat, settings=app.ctx.settings.outbox)


async def test_login_bind_proxy_request_approval_and_messages_reach_wechat(client: httpx.AsyncClient, wechat_standin: StandinControl, app: Sanic) -> None:
    county = await make_county()
    father = await make_beneficiary(station=county.station_a, name="张德福")
    number = decrypt_id_number(father)
    father_headers = await mini_login(client, wechat_standin, "o-father")
    assert (await client.post("/api/mp/bind", headers=father_headers, json={"name": "张德福", "id_number": number})).status_code == 201
    await grant_quota(client, father_headers, "proxy_request")

    daughter_headers = await mini_login(client, wechat_standin, "o-daughter")
    await grant_quota(client, daughter_headers, "review_result")
    request = await client.post(
        "/api/mp/proxies",
        headers=daughter_headers,
        json={"beneficiary_name": "张德福", "beneficiary_id_number": number, "proxy_name": "张小梅", "relation": "子女", "scopes": ["book", "collect"]},
    )
    assert request.status_code == 201, request.text
    grant_id = request.json()["id"]
    assert (await _worker(app).run_once()) == 1
    messages = await wechat_standin.messages()
    assert len(messages) == 1
    assert messages[0]["touser"] == "o-father" and messages[0]["template_id"] == "TPL-proxy_request"
    assert messages[0]["data"]["name1"]["value"] == "张小梅"
    assert messages[0]["page"] == f"pages/proxy/requests?id={grant_id}"

    mine = (await client.get("/api/mp/proxies/mine", headers=father_headers)).json()["items"]
    assert [g["status"] for g in mine] == ["pending"]
    not_him = await client.post(f"/api/mp/proxies/{grant_id}/decision", headers=daughter_headers, json={"approve": True})
    assert not_him.status_code == 403
    approved = await client.post(f"/api/mp/proxies/{grant_id}/decision", headers=father_headers, json={"approve": True})
    assert approved.json()["status"] == "active" and approved.json()["approved_via"] == "beneficiary"
    await _worker(app).run_once()
    messages = await wechat_standin.messages()
    assert [m["touser"] for m in messages] == ["o-father", "o-daughter"]
    assert messages[1]["data"]["phrase2"]["value"] == "已同意"

    daughter = await MiniUser.get(openid="o-daughter")
    acting = await acting_for(user=daughter, beneficiary_id=father.id, scope=ProxyScope.COLLECT)
    assert acting.as_proxy and acting.actor.on_behalf_of == str(father.id) and acting.actor.id == str(daughter.id)
    with pytest.raises(Forbidden):
        await acting_for(user=daughter, beneficiary_id=father.id, scope=ProxyScope.APPLY)
    with pytest.raises(Forbidden) as info:
        await require_self(user=daughter, beneficiary_id=father.id)
    assert info.value.code == "proxy_not_allowed"

    me = (await client.get("/api/mp/me", headers=daughter_headers)).json()
    assert me["acting_for"][0]["beneficiary_id"] == father.id

    revoked = await client.post(f"/api/mp/proxies/{grant_id}/revoke", headers=father_headers)
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_by"] == "beneficiary"
    with pytest.raises(Forbidden):
        await acting_for(user=daughter, beneficiary_id=father.id, scope=ProxyScope.COLLECT)
    actions = [e.action for e in await AuditEntry.filter(entity_type="beneficiary", entity_id=str(father.id)).order_by("seq")]
    assert actions[-3:] == ["proxy.requested", "proxy.approved", "proxy.revoked"]


async def test_station_approves_with_a_document_when_the_person_has_no_wechat(client: httpx.AsyncClient, wechat_standin: StandinControl, app: Sanic) -> None:
    county = await make_county()
    old_man = await make_beneficiary(station=county.station_a, name="王老汉")
    son = await mini_login(client, wechat_standin, "o-son")
    request = await client.post(
        "/api/mp/proxies",
        headers=son,
        json={"beneficiary_name": "王老汉", "beneficiary_id_number": decrypt_id_number(old_man), "proxy_name": "王大", "relation": "子女", "scopes": ["apply", "collect"]},
    )
    grant_id = request.json()["id"]
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    listed = (await client.get("/api/staff/proxies?status=pending", headers=clerk)).json()["items"]
    assert [g["id"] for g in listed] == [grant_id] and listed[0]["beneficiary_id_number"] == old_man.id_number_masked
    no_doc = await client.post(f"/api/staff/proxies/{grant_id}/approve", headers=clerk)
    assert no_doc.status_code == 400 and no_doc.json()["error"]["code"] == "document_required"
    other = await staff_headers(client, role=Role.STATION, unit=county.station_b)
    assert (await client.post(f"/api/staff/proxies/{grant_id}/approve", headers=other, files={"document": ("a.pdf", b"%PDF-1.4 signed", "application/pdf")})).status_code == 403
    ok = await client.post(f"/api/staff/proxies/{grant_id}/approve", headers=clerk, files={"document": ("a.pdf", b"%PDF-1.4 signed", "application/pdf")})
    assert ok.status_code == 200 and ok.json()["approved_via"] == "station"
    # The son never granted a subscription: his notice is listed for a phone call instead.
    await _worker(app).run_once()
    row = await Notification.get(user__openid="o-son")
    assert row.status == NotificationStatus.NO_QUOTA
    unsent = (await client.get("/api/staff/notifications/unsent", headers=clerk)).json()["items"]
    assert [u["id"] for u in unsent] == [row.id]


async def test_cannot_request_proxy_for_oneself_or_twice(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="孙平安")
    number = decrypt_id_number(person)
    headers = await mini_login(client, wechat_standin, "o-sun")
    await client.post("/api/mp/bind", headers=headers, json={"name": "孙平安", "id_number": number})
    own = await client.post("/api/mp/proxies", headers=headers, json={"beneficiary_name": "孙平安", "beneficiary_id_number": number, "proxy_name": "孙平安", "relation": "本人", "scopes": ["book"]})
    assert own.json()["error"]["code"] == "proxy_for_self"
    other = await mini_login(client, wechat_standin, "o-sun-son")
    body = {"beneficiary_name": "孙平安", "beneficiary_id_number": number, "proxy_name": "孙小", "relation": "子女", "scopes": ["book"]}
    assert (await client.post("/api/mp/proxies", headers=other, json=body)).status_code == 201
    assert (await client.post("/api/mp/proxies", headers=other, json=body)).json()["error"]["code"] == "proxy_exists"
    bad_scope = await client.post("/api/mp/proxies", headers=other, json={**body, "scopes": ["face_check"]})
    assert bad_scope.status_code == 422
