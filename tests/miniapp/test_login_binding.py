from __future__ import annotations

import httpx
from sanic import Sanic

from models.staff import Role
from models.wechat import Binding, BindingStatus, MiniUser
from server.registry.service import decrypt_id_number
from server.security.fields import cipher
from server.wechat.standin import StandinControl
from tests.factories import make_beneficiary, make_county, staff_headers
from tests.miniapp.helpers import mini_login


async def test_login_gives_our_own_token_and_keeps_wechat_secrets(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    code = await wechat_standin.issue_code(openid="o-first")
    response = await client.post("/api/mp/login", json={"code": code.code})
    assert response.status_code == 200
    body = response.text
    assert "o-first" not in body and code.session_key not in body
    user = await MiniUser.get(openid="o-first")
    assert user.session_key_encrypted and code.session_key not in user.session_key_encrypted
    assert cipher().decrypt(user.session_key_encrypted, associated=b"mini_user.session_key") == code.session_key
    reused = await client.post("/api/mp/login", json={"code": code.code})
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "wechat_code_invalid"


async def test_logout_revokes_the_session(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    headers = await mini_login(client, wechat_standin, "o-logout")
    assert (await client.get("/api/mp/me", headers=headers)).status_code == 200
    assert (await client.post("/api/mp/logout", headers=headers)).status_code == 200
    assert (await client.get("/api/mp/me", headers=headers)).json()["error"]["code"] == "mini_session_expired"


async def test_bind_with_name_and_id_number(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="张建国")
    number = decrypt_id_number(person)
    headers = await mini_login(client, wechat_standin, "o-zhang")
    wrong_name = await client.post("/api/mp/bind", headers=headers, json={"name": "张建", "id_number": number})
    assert wrong_name.status_code == 422 and wrong_name.json()["error"]["code"] == "identity_mismatch"
    ok = await client.post("/api/mp/bind", headers=headers, json={"name": "张建国", "id_number": number})
    assert ok.status_code == 201
    assert ok.json()["id_number"] == person.id_number_masked
    me = (await client.get("/api/mp/me", headers=headers)).json()
    assert me["self"]["beneficiary_id"] == person.id


async def test_one_self_binding_per_beneficiary_and_station_approved_transfer(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="李德福")
    number = decrypt_id_number(person)
    old_phone = await mini_login(client, wechat_standin, "o-old")
    new_phone = await mini_login(client, wechat_standin, "o-new")
    assert (await client.post("/api/mp/bind", headers=old_phone, json={"name": "李德福", "id_number": number})).status_code == 201
    taken = await client.post("/api/mp/bind", headers=new_phone, json={"name": "李德福", "id_number": number})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "already_bound_elsewhere"
    transfer = await client.post("/api/mp/bind/transfer", headers=new_phone, json={"name": "李德福", "id_number": number, "note": "换了新手机"})
    assert transfer.status_code == 201
    other_station = await staff_headers(client, role=Role.STATION, unit=county.station_b)
    refused = await client.post(f"/api/staff/binding-transfers/{transfer.json()['id']}/decision", headers=other_station, json={"approve": True})
    assert refused.status_code == 403
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    pending = (await client.get("/api/staff/binding-transfers?status=pending", headers=clerk)).json()["items"]
    assert [p["id"] for p in pending] == [transfer.json()["id"]]
    decided = await client.post(f"/api/staff/binding-transfers/{transfer.json()['id']}/decision", headers=clerk, json={"approve": True})
    assert decided.status_code == 200
    active = await Binding.filter(beneficiary_id=person.id, status=BindingStatus.ACTIVE)
    assert len(active) == 1 and active[0].user_id == (await MiniUser.get(openid="o-new")).id
    again = await client.post(f"/api/staff/binding-transfers/{transfer.json()['id']}/decision", headers=clerk, json={"approve": True})
    assert again.status_code == 409


async def test_binding_attempts_are_rate_limited(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="王宝山")
    number = decrypt_id_number(person)
    headers = await mini_login(client, wechat_standin, "o-guesser")
    codes = []
    for _ in range(6):
        response = await client.post("/api/mp/bind", headers=headers, json={"name": "猜名字", "id_number": number})
        codes.append(response.json()["error"]["code"])
    assert codes[:5] == ["identity_mismatch"] * 5
    assert codes[5] == "bind_rate_limited"


async def test_phone_code_verified_when_given(client: httpx.AsyncClient, wechat_standin: StandinControl, app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="赵春生", phone="13800138000")
    number = decrypt_id_number(person)
    headers = await mini_login(client, wechat_standin, "o-phone")
    wrong = await wechat_standin.issue_phone_code(phone_number="13900000000")
    mismatch = await client.post("/api/mp/bind", headers=headers, json={"name": "赵春生", "id_number": number, "phone_code": wrong})
    assert mismatch.json()["error"]["code"] == "phone_mismatch"
    right = await wechat_standin.issue_phone_code(phone_number="13800138000")
    ok = await client.post("/api/mp/bind", headers=headers, json={"name": "赵春生", "id_number": number, "phone_code": right})
    assert ok.status_code == 201
