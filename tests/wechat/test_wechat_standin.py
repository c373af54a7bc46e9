"""The stand-in itself behaves as WeChat documents (it is only useful if it is faithful)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server.wechat.standin import Standin, check_message_data
from tests.server_process import free_port

ROOT = Path(__file__).resolve().parents[2]


async def _stable(http: httpx.AsyncClient, *, force: bool = False) -> dict:
    body = {"grant_type": "client_credential", "appid": "wx-dev-appid", "secret": "dev-app-secret", "force_refresh": force}
    return (await http.post("/cgi-bin/stable_token", json=body)).json()


async def _send(http: httpx.AsyncClient, token: str) -> int:
    answer = await http.post(
        "/cgi-bin/message/subscribe/send",
        params={"access_token": token},
        json={"touser": "o-1", "template_id": "t", "data": {"thing1": {"value": "x"}}},
    )
    return answer.json()["errcode"]


async def test_stable_token_modes(standin: Standin) -> None:
    async with httpx.AsyncClient(base_url=standin.base_url) as http:
        first = await _stable(http)
        assert first["expires_in"] == 7200
        again = await _stable(http)
        assert again["access_token"] == first["access_token"]  # normal mode: same token
        # In the last five minutes normal mode hands out a new token; the old one still works.
        await standin.control.advance_clock(7200 - 299)
        renewed = await _stable(http)
        assert renewed["access_token"] != first["access_token"] and renewed["expires_in"] == 7200
        assert await _send(http, first["access_token"]) == 0
        # Force refresh invalidates the previous token at once and is limited to 20 a day.
        forced = await _stable(http, force=True)
        assert await _send(http, renewed["access_token"]) == 40001
        assert await _send(http, forced["access_token"]) == 0
        for _ in range(19):
            assert "access_token" in await _stable(http, force=True)
        assert (await _stable(http, force=True))["errcode"] == 45009
        wrong = await http.post("/cgi-bin/stable_token", json={"grant_type": "client_credential", "appid": "wx-dev-appid", "secret": "nope"})
        assert wrong.json()["errcode"] == 40125


async def test_configurable_expiry(standin: Standin) -> None:
    await standin.control.configure(token_expires_in=900)
    async with httpx.AsyncClient(base_url=standin.base_url) as http:
        token = await _stable(http)
        assert token["expires_in"] == 900
        await standin.control.advance_clock(901)
        assert await _send(http, token["access_token"]) == 42001


async def test_cgi_bin_token_invalidates_previous(standin: Standin) -> None:
    params = {"grant_type": "client_credential", "appid": "wx-dev-appid", "secret": "dev-app-secret"}
    async with httpx.AsyncClient(base_url=standin.base_url) as http:
        first = (await http.get("/cgi-bin/token", params=params)).json()["access_token"]
        second = (await http.get("/cgi-bin/token", params=params)).json()["access_token"]
        assert await _send(http, first) == 0  # WeChat's five-minute overlap
        await standin.control.advance_clock(301)
        assert await _send(http, first) == 40001
        assert await _send(http, second) == 0
    assert (await standin.control.stats())["token_fetches"] == 2


async def test_jscode2session_is_text_plain_and_requests_are_logged(standin: Standin) -> None:
    issued = await standin.control.issue_code(openid="o-plain")
    params = {"appid": "wx-dev-appid", "secret": "dev-app-secret", "js_code": issued.code, "grant_type": "authorization_code"}
    async with httpx.AsyncClient(base_url=standin.base_url) as http:
        answer = await http.get("/sns/jscode2session", params=params)
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.json()["openid"] == "o-plain"
    [logged] = await standin.control.requests()
    assert logged["path"] == "/sns/jscode2session" and logged["query"]["js_code"] == issued.code
    await standin.control.clear_requests()
    assert await standin.control.requests() == []


def test_field_rules() -> None:
    ok = {
        "thing1": "一" * 20,
        "phrase2": "已通过",
        "character_string3": "YY20261128-0042",
        "name4": "张建国",
        "number5": "12.5",
        "amount6": "¥12.00",
        "phone_number7": "+86 138-0013-8000",
        "date8": "2026年11月24日",
        "time9": "2026-11-24 09:30",
    }
    assert check_message_data({k: {"value": v} for k, v in ok.items()}) is None
    for key, bad in [
        ("thing1", "一" * 21),
        ("phrase2", "passed"),
        ("character_string3", "中文"),
        ("name4", "张三abc"),
        ("date8", "11/24/2026"),
        ("time9", "明天上午"),
    ]:
        assert check_message_data({key: {"value": bad}}) == f"argument invalid! data.{key}.value invalid"


async def test_runs_as_a_module() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "server.wechat.standin", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    stats = (await http.get("/_standin/stats")).json()
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("stand-in did not start")
            assert stats["stable_token_fetches"] == 0
            code = (await http.post("/_standin/codes", json={"openid": "o-cli"})).json()["code"]
            params = {"appid": "wx-dev-appid", "secret": "dev-app-secret", "js_code": code, "grant_type": "authorization_code"}
            assert (await http.get("/sns/jscode2session", params=params)).json()["openid"] == "o-cli"
    finally:
        process.terminate()
        process.wait(timeout=10)
