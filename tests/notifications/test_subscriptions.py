"""The subscriptions endpoint: our templates with their WeChat ids; only known ids accepted."""

from __future__ import annotations

import logging
import secrets

import httpx
import pytest

from models.wechat import SubscriptionQuota
from server.config import Settings
from server.notifications.startup import TemplateConfigurationError, check_templates
from server.notifications.templates import default_registry
from server.wechat.standin import StandinControl
from tests.conftest import TEMPLATE_IDS
from tests.miniapp.contract import Contract
from tests.miniapp.helpers import mini_login


async def test_list_gives_wechat_ids_titles_and_when_sent_and_one_accept_is_one_message(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    contract = await Contract.load(client)
    headers = await mini_login(client, wechat_standin, "o-subs")
    listed = contract.check(await client.get("/api/mp/subscriptions", headers=headers))
    ready = next(t for t in listed["templates"] if t["key"] == "card_ready_for_pickup")
    assert ready == {"key": "card_ready_for_pickup", "template_id": TEMPLATE_IDS["card_ready_for_pickup"], "title": "优待证领取通知", "when_sent": default_registry().get("card_ready_for_pickup").description, "remaining": 0, "last_result": None, "banned": False}
    assert {t["key"] for t in listed["templates"]} == set(default_registry().keys())

    # The front end passes the ids it was given to wx.requestSubscribeMessage and reports the result as is.
    recorded = contract.check(await client.post("/api/mp/subscriptions", headers=headers, json={"results": {ready["template_id"]: "accept", TEMPLATE_IDS["booking_confirmed"]: "reject"}}))
    assert recorded["remaining"] == {"card_ready_for_pickup": 1, "booking_confirmed": 0}
    again = contract.check(await client.get("/api/mp/subscriptions", headers=headers))
    assert again["remaining"]["card_ready_for_pickup"] == 1 and again["remaining"]["booking_confirmed"] == 0


async def test_unknown_or_overlong_template_ids_are_refused_and_nothing_is_stored(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    contract = await Contract.load(client)
    headers = await mini_login(client, wechat_standin, "o-subs-junk")
    known = TEMPLATE_IDS["booking_confirmed"]
    long_id = "x" * 60
    refused = await client.post("/api/mp/subscriptions", headers=headers, json={"results": {known: "accept", long_id: "accept"}})
    assert refused.status_code == 422 and contract.check(refused)["error"]["code"] == "unknown_template_id"
    assert refused.json()["error"]["details"]["unknown"] == [long_id]
    our_key = await client.post("/api/mp/subscriptions", headers=headers, json={"results": {"booking_confirmed": "accept"}})
    assert our_key.status_code == 422  # our keys are not WeChat ids: the popup never returns them
    junk = await client.post("/api/mp/subscriptions", headers=headers, json={"results": {f"junk-{i}": "accept" for i in range(1000)}})
    assert junk.status_code == 422
    assert await SubscriptionQuota.all().count() == 0


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_start_up_refuses_missing_template_ids_in_production_and_warns_in_development() -> None:
    some = {key: f"TPL-{key}" for key in default_registry().keys() if key != "booking_reminder"}
    with pytest.raises(TemplateConfigurationError, match="booking_reminder"):
        check_templates(Settings(environment="production", wechat={"template_ids": some}))
    collect = _Collect()
    logger = logging.getLogger("server.notifications")
    logger.addHandler(collect)
    try:
        problems = check_templates(Settings(environment="development", wechat={"template_ids": {**some, "typo_key": "TPL-x", "proxy_request": "TPL-booking_confirmed"}}))
    finally:
        logger.removeHandler(collect)
    assert len(problems) == 3 and len(collect.messages) == 3
    assert "booking_reminder" in collect.messages[0] and "typo_key" in collect.messages[1] and "TPL-booking_confirmed" in collect.messages[2]
    assert check_templates(Settings(environment="production", wechat={"template_ids": TEMPLATE_IDS})) == []


def test_create_app_runs_the_template_check(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from server.app import create_app

    # Production-grade secrets, so that the template check is what refuses the start.
    settings = Settings(
        environment="production",
        var_dir=tmp_path,
        security={"session_key": secrets.token_urlsafe(32), "qr_signing_key": secrets.token_urlsafe(32), "field_key": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="},
        audit={"key": secrets.token_urlsafe(32)},
        wechat={"app_secret": "real-secret", "push_token": secrets.token_hex(16), "push_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "template_ids": {}},
    )
    with pytest.raises(TemplateConfigurationError):
        create_app(settings)
