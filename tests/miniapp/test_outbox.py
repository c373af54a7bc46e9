"""The outbox: quota, retries, and a sender killed mid-send that neither loses nor duplicates."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sanic import Sanic

from models.wechat import MiniUser, Notification, NotificationAttempt, NotificationStatus, SubscriptionQuota
from server.notifications import outbox
from server.notifications.worker import OutboxWorker
from server.wechat.standin import StandinControl
from tests.conftest import TEMPLATE_IDS
from tests.miniapp.helpers import grant_quota, mini_login

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = {"campaign_id": 1, "campaign_name": "2026年度优抚对象年度确认", "beneficiary_name": "张建国", "due_date": "2026-11-30"}


def _worker(app: Sanic) -> OutboxWorker:
    return OutboxWorker(wechat=app.ctx.wechat, wechat_settings=app.ctx.settings.wechat, settings=app.ctx.settings.outbox)


async def _user_with_quota(openid: str, count: int, key: str = "confirmation_due") -> MiniUser:
    user = await MiniUser.create(openid=openid)
    await SubscriptionQuota.create(user=user, template_key=key, remaining=count)
    return user


async def test_one_accept_is_one_send_and_dedupe_key_queues_once(app: Sanic, wechat_standin: StandinControl) -> None:
    user = await _user_with_quota("o-one", 1)
    for key in ("due:1", "due:1", "due:2"):
        await outbox.enqueue(user_id=user.id, template_key="confirmation_due", context=CONTEXT, dedupe_key=key)
    assert await Notification.all().count() == 2
    await _worker(app).run_once()
    statuses = sorted(n.status.value for n in await Notification.all())
    assert statuses == ["no_quota", "sent"]
    assert len(await wechat_standin.messages()) == 1
    assert (await SubscriptionQuota.get(user=user)).remaining == 0


async def test_client_report_and_push_count_one_popup_once(client: httpx.AsyncClient, wechat_standin: StandinControl, app: Sanic) -> None:
    import hashlib

    headers = await mini_login(client, wechat_standin, "o-pushed")
    await grant_quota(client, headers, "booking_reminder")
    token = app.ctx.settings.wechat.push_token.get_secret_value()
    timestamp, nonce = str(int(time.time())), "n1"
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    push = {
        "ToUserName": "gh_x",
        "FromUserName": "o-pushed",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "subscribe_msg_popup_event",
        "List": {"TemplateId": TEMPLATE_IDS["booking_reminder"], "SubscribeStatusString": "accept", "PopupScene": "0"},
    }
    params = {"signature": signature, "timestamp": timestamp, "nonce": nonce}
    response = await client.post("/api/wechat/push", params=params, content=json.dumps(push))
    assert response.status_code == 200 and response.text == "success"
    remaining = (await client.get("/api/mp/subscriptions", headers=headers)).json()["remaining"]
    assert remaining["booking_reminder"] == 1  # the same popup, reported twice, counted once
    # A second popup reported only by push (List as an array) does count.
    push["List"] = [push["List"], {"TemplateId": TEMPLATE_IDS["card_status_changed"], "SubscribeStatusString": "reject"}]
    # A new push has its own nonce (the same one again is a replay and is not processed).
    params = {"timestamp": timestamp, "nonce": "n2", "signature": hashlib.sha1("".join(sorted([token, timestamp, "n2"])).encode()).hexdigest()}
    await client.post("/api/wechat/push", params=params, content=json.dumps(push))
    remaining = (await client.get("/api/mp/subscriptions", headers=headers)).json()["remaining"]
    assert remaining["booking_reminder"] == 2 and remaining["card_status_changed"] == 0
    assert {key for key, count in remaining.items() if count} == {"booking_reminder"}
    forged = await client.post("/api/wechat/push", params={**params, "signature": "0" * 40}, content=json.dumps(push))
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "bad_signature"


async def test_refusal_zeroes_quota_and_transient_errors_back_off(app: Sanic, wechat_standin: StandinControl) -> None:
    refuser = await _user_with_quota("o-refuser", 3)
    await wechat_standin.refuse(openid="o-refuser")
    await outbox.enqueue(user_id=refuser.id, template_key="confirmation_due", context=CONTEXT, dedupe_key="r1")
    await _worker(app).run_once()
    busy = await _user_with_quota("o-busy", 1)
    await outbox.enqueue(user_id=busy.id, template_key="confirmation_due", context=CONTEXT, dedupe_key="b1")
    await wechat_standin.fail_busy(count=10, path="/cgi-bin/message/subscribe/send")
    await _worker(app).run_once()
    refused = await Notification.get(dedupe_key="r1")
    assert refused.status == NotificationStatus.REFUSED
    assert (await SubscriptionQuota.get(user=refuser)).remaining == 0
    retried = await Notification.get(dedupe_key="b1")
    assert retried.status == NotificationStatus.PENDING and retried.attempts == 1
    assert retried.next_attempt_at.timestamp() > time.time() + 5  # backed off
    assert (await SubscriptionQuota.get(user=busy)).remaining == 1  # refunded: nothing was delivered
    outcomes = [a.outcome for a in await NotificationAttempt.filter(notification_id=retried.id)]
    assert outcomes == ["transient"]


def _worker_env(app: Sanic) -> dict[str, str]:
    settings = app.ctx.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("VETS_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "VETS_ENVIRONMENT": "test",
            "VETS_LOG_JSON": "false",
            "VETS_DATABASE__URL": settings.database.url,
            "VETS_WECHAT__API_BASE_URL": settings.wechat.api_base_url,
            "VETS_WECHAT__APP_ID": settings.wechat.app_id,
            "VETS_WECHAT__APP_SECRET": settings.wechat.app_secret.get_secret_value(),
            "VETS_WECHAT__PUSH_TOKEN": settings.wechat.push_token.get_secret_value(),
            "VETS_SECURITY__SESSION_KEY": settings.security.session_key.get_secret_value(),
            "VETS_SECURITY__FIELD_KEY": settings.security.field_key.get_secret_value(),
            "VETS_SECURITY__QR_SIGNING_KEY": settings.security.qr_signing_key.get_secret_value(),
            "VETS_AUDIT__KEY": settings.audit.key.get_secret_value(),
            "VETS_WECHAT__TEMPLATE_IDS": json.dumps(settings.wechat.template_ids),
            "VETS_OUTBOX__LEASE_SECONDS": "1",
            "VETS_OUTBOX__POLL_INTERVAL_SECONDS": "0.2",
            "VETS_VAR_DIR": str(settings.var_dir),
        }
    )
    if settings.redis.url:
        env["VETS_REDIS__URL"] = settings.redis.url
        env["VETS_REDIS__KEY_PREFIX"] = settings.redis.key_prefix + "worker:"
    return env


async def _wait_for(predicate, timeout: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


async def test_worker_killed_mid_send_loses_nothing_and_duplicates_nothing(app: Sanic, wechat_standin: StandinControl) -> None:
    users = [await _user_with_quota(f"o-kill-{i}", 1) for i in range(4)]
    for user in users:
        await outbox.enqueue(user_id=user.id, template_key="confirmation_due", context=CONTEXT, dedupe_key=f"kill:{user.id}")
    await wechat_standin.configure(send_delay_seconds=5)
    env = _worker_env(app)
    worker = subprocess.Popen([sys.executable, "-m", "server", "worker"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async def one_received() -> bool:
            return len(await wechat_standin.messages()) >= 1

        await _wait_for(one_received)
        worker.send_signal(signal.SIGKILL)  # mid-send: WeChat has the message, we have no answer
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    in_flight = await NotificationAttempt.filter(outcome="in_flight").count()
    assert in_flight == 1

    await wechat_standin.configure(send_delay_seconds=0)
    worker = subprocess.Popen([sys.executable, "-m", "server", "worker"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async def all_settled() -> bool:
            rows = await Notification.all()
            return all(r.status in (NotificationStatus.SENT, NotificationStatus.UNCERTAIN) for r in rows)

        await _wait_for(all_settled)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    messages = await wechat_standin.messages()
    received = sorted(m["touser"] for m in messages)
    assert received == sorted(u.openid for u in users)  # every one delivered, none twice
    statuses = sorted(n.status.value for n in await Notification.all())
    assert statuses == ["sent", "sent", "sent", "uncertain"]
    # The uncertain one is on the staff list, so a person follows it up rather than a second send.
    assert (await Notification.get(status=NotificationStatus.UNCERTAIN)).last_error
