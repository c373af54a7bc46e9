"""Binding bugs from issue 12: who is at fault when WeChat refuses, auth before body, bind twice."""

from __future__ import annotations

import logging

import httpx
from sanic import Sanic

from models.wechat import Binding
from server.registry.service import decrypt_id_number
from server.wechat.standin import StandinControl
from tests.factories import make_beneficiary, make_county
from tests.miniapp.contract import Contract
from tests.miniapp.helpers import mini_login


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_token_refused_by_wechat_is_our_fault_503_and_logged_at_error(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    contract = await Contract.load(client)
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="赵刚")
    headers = await mini_login(client, wechat_standin, "o-token-refused")
    phone_code = await wechat_standin.issue_phone_code()
    await wechat_standin.fail_token(errcode=40001)
    collect = _Collect()
    logging.getLogger("server.miniapp").addHandler(collect)
    try:
        response = await client.post("/api/mp/bind", headers=headers, json={"name": "赵刚", "id_number": decrypt_id_number(person), "phone_code": phone_code})
    finally:
        logging.getLogger("server.miniapp").removeHandler(collect)
        await wechat_standin.clear_failures()
    assert response.status_code == 503 and contract.check(response)["error"]["code"] == "wechat_unavailable"
    assert "手机号" not in response.json()["error"]["message"]  # the user did nothing wrong
    assert [r.levelno for r in collect.records] == [logging.ERROR] and collect.records[0].__dict__["errcode"] == 40001
    assert not await Binding.exists()


async def test_a_bad_code_is_a_422_like_an_empty_one(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    empty = await client.post("/api/mp/login", json={"code": ""})
    bad = await client.post("/api/mp/login", json={"code": "not-a-code"})
    assert (empty.status_code, bad.status_code) == (422, 422) and bad.json()["error"]["code"] == "wechat_code_invalid"
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="钱进")
    headers = await mini_login(client, wechat_standin, "o-bad-phone-code")
    bad_phone = await client.post("/api/mp/bind", headers=headers, json={"name": "钱进", "id_number": decrypt_id_number(person), "phone_code": "not-a-code"})
    assert bad_phone.status_code == 422 and bad_phone.json()["error"]["code"] == "phone_code_invalid"
    assert not await Binding.exists()


async def test_authentication_comes_before_body_validation(client: httpx.AsyncClient) -> None:
    for method, path, body in (("POST", "/api/mp/bind", {}), ("POST", "/api/mp/subscriptions", {"results": "junk"}), ("POST", "/api/mp/cards/bookings", {})):
        response = await client.request(method, path, json=body)
        assert response.status_code == 401 and response.json()["error"]["code"] == "mini_login_required", (path, response.text)
    garbage = await client.post("/api/mp/bind", content=b"{not json", headers={"Authorization": "Bearer nope"})
    assert garbage.status_code == 401 and garbage.json()["error"]["code"] == "mini_session_expired"


async def test_binding_again_answers_200_with_the_same_binding(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="孙立")
    headers = await mini_login(client, wechat_standin, "o-twice")
    body = {"name": "孙立", "id_number": decrypt_id_number(person)}
    first = await client.post("/api/mp/bind", headers=headers, json=body)
    second = await client.post("/api/mp/bind", headers=headers, json=body)
    assert (first.status_code, second.status_code) == (201, 200) and first.json() == second.json()
    assert await Binding.filter(beneficiary_id=person.id).count() == 1
