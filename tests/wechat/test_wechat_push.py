"""Push callbacks: signatures, encrypted JSON pushes and subscribe-message events."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from wechatpy.crypto import PrpCrypto

from server.wechat.push import (
    InvalidPushSignature,
    MalformedPush,
    SubscribeEvent,
    check_timestamp,
    open_push,
    parse_body,
    parse_subscribe_events,
    verify_echo,
    verify_signature,
)

TOKEN = "push-token-for-tests"
APP_ID = "wx-dev-appid"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters, as configured in WeChat


def _sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _query(timestamp: str = "1764000000", nonce: str = "n0nce") -> dict[str, str]:
    return {"timestamp": timestamp, "nonce": nonce, "signature": _sign(TOKEN, timestamp, nonce)}


def test_signature_good_and_bad() -> None:
    query = _query()
    assert verify_signature(token=TOKEN, **query)
    assert not verify_signature(token="other-token", **query)
    assert not verify_signature(token=TOKEN, **{**query, "nonce": "changed"})
    assert not verify_signature(token=TOKEN, **{**query, "signature": ""})


def test_echo_verification() -> None:
    assert verify_echo(token=TOKEN, echostr="hello-42", **_query()) == "hello-42"
    with pytest.raises(InvalidPushSignature):
        verify_echo(token=TOKEN, echostr="hello-42", **{**_query(), "signature": "0" * 40})


def test_timestamp_window() -> None:
    assert check_timestamp(timestamp="1000", now=1200)
    assert not check_timestamp(timestamp="1000", now=1400)
    assert not check_timestamp(timestamp="soon", now=1000)


POPUP_ONE = {
    "ToUserName": "gh_123456789abc",
    "FromUserName": "o-veteran-1",
    "CreateTime": "1764000000",
    "MsgType": "event",
    "Event": "subscribe_msg_popup_event",
    "List": {"TemplateId": "TMPL-due", "SubscribeStatusString": "accept", "PopupScene": "0"},
}
CHANGE_MANY = {
    "ToUserName": "gh_123456789abc",
    "FromUserName": "o-veteran-2",
    "CreateTime": 1764000001,
    "MsgType": "event",
    "Event": "subscribe_msg_change_event",
    "List": [
        {"TemplateId": "TMPL-due", "SubscribeStatusString": "reject"},
        {"TemplateId": "TMPL-result", "SubscribeStatusString": "accept"},
    ],
}
SENT = {
    "ToUserName": "gh_123456789abc",
    "FromUserName": "o-veteran-3",
    "CreateTime": "1764000002",
    "MsgType": "event",
    "Event": "subscribe_msg_sent_event",
    "List": {"TemplateId": "TMPL-due", "MsgID": "1700827132819554304", "ErrorCode": "0", "ErrorStatus": "success"},
}


def test_list_as_object() -> None:
    assert parse_subscribe_events(POPUP_ONE) == [
        SubscribeEvent(
            openid="o-veteran-1",
            template_id="TMPL-due",
            status="accept",
            event="subscribe_msg_popup_event",
            popup_scene="0",
            create_time=1764000000,
        )
    ]


def test_list_as_array() -> None:
    events = parse_subscribe_events(CHANGE_MANY)
    assert [(e.openid, e.template_id, e.status) for e in events] == [
        ("o-veteran-2", "TMPL-due", "reject"),
        ("o-veteran-2", "TMPL-result", "accept"),
    ]


def test_sent_event() -> None:
    [event] = parse_subscribe_events(SENT)
    assert (event.status, event.msg_id, event.error_code) == ("success", "1700827132819554304", 0)
    failed = {**SENT, "List": {**SENT["List"], "ErrorCode": "20001", "ErrorStatus": "failed:user refuse to accept the msg"}}
    [event] = parse_subscribe_events(failed)
    assert (event.status, event.error_code, event.error_status) == ("failed", 20001, "failed:user refuse to accept the msg")


def test_xml_push_with_repeated_list() -> None:
    xml = """<xml>
<ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
<FromUserName><![CDATA[o-veteran-4]]></FromUserName>
<CreateTime>1764000003</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[subscribe_msg_popup_event]]></Event>
<SubscribeMsgPopupEvent>
  <List><TemplateId><![CDATA[TMPL-a]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene></List>
  <List><TemplateId><![CDATA[TMPL-b]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>2</PopupScene></List>
</SubscribeMsgPopupEvent>
</xml>"""
    events = parse_subscribe_events(parse_body(body=xml))
    assert [(e.openid, e.template_id, e.status) for e in events] == [
        ("o-veteran-4", "TMPL-a", "accept"),
        ("o-veteran-4", "TMPL-b", "reject"),
    ]


def test_other_pushes_are_ignored_and_broken_ones_rejected() -> None:
    assert parse_subscribe_events({"MsgType": "text", "Content": "你好", "FromUserName": "o"}) == []
    with pytest.raises(MalformedPush):
        parse_subscribe_events({**POPUP_ONE, "List": {"SubscribeStatusString": "accept"}})
    with pytest.raises(MalformedPush):
        parse_body(body=b"not json or xml")


def _encrypted_push(message: dict, *, app_id: str = APP_ID) -> tuple[bytes, dict[str, str]]:
    encrypt = PrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt(json.dumps(message, ensure_ascii=False), app_id).decode()
    query = {**_query(nonce="enc-nonce"), "encrypt_type": "aes"}
    query["msg_signature"] = _sign(TOKEN, query["timestamp"], query["nonce"], encrypt)
    body = json.dumps({"ToUserName": "gh_123456789abc", "Encrypt": encrypt}).encode()
    return body, query


def test_encrypted_json_push_is_decrypted() -> None:
    body, query = _encrypted_push(CHANGE_MANY)
    message = open_push(body=body, query=query, token=TOKEN, aes_key=AES_KEY, app_id=APP_ID)
    assert message == CHANGE_MANY
    assert len(parse_subscribe_events(message)) == 2


def test_encrypted_push_with_bad_signatures_or_appid() -> None:
    body, query = _encrypted_push(POPUP_ONE)
    with pytest.raises(InvalidPushSignature):
        open_push(body=body, query={**query, "msg_signature": "0" * 40}, token=TOKEN, aes_key=AES_KEY, app_id=APP_ID)
    with pytest.raises(InvalidPushSignature):
        open_push(body=body, query={**query, "signature": "0" * 40}, token=TOKEN, aes_key=AES_KEY, app_id=APP_ID)
    with pytest.raises(MalformedPush):
        open_push(body=body, query=query, token=TOKEN, aes_key=None, app_id=APP_ID)
    other_body, other_query = _encrypted_push(POPUP_ONE, app_id="wx-someone-else")
    with pytest.raises(InvalidPushSignature):
        open_push(body=other_body, query=other_query, token=TOKEN, aes_key=AES_KEY, app_id=APP_ID)


def test_plain_push_through_open_push() -> None:
    message = open_push(body=json.dumps(SENT).encode(), query=_query(), token=TOKEN, aes_key=None, app_id=APP_ID)
    assert parse_subscribe_events(message)[0].msg_id == "1700827132819554304"


async def test_replayed_push_is_refused_and_processed_once() -> None:
    from server.kv import MemoryStore
    from server.wechat.push import ReplayedPush, accept_push

    kv = MemoryStore()
    now = 1764000000
    body = json.dumps(POPUP_ONE).encode()
    message = await accept_push(body=body, query=_query(timestamp=str(now)), token=TOKEN, aes_key=None, app_id=APP_ID, kv=kv, now=now + 3)
    assert message == POPUP_ONE
    with pytest.raises(ReplayedPush):
        await accept_push(body=body, query=_query(timestamp=str(now)), token=TOKEN, aes_key=None, app_id=APP_ID, kv=kv, now=now + 10)
    # The same signature with another body is a replay too: the nonce is what is remembered.
    with pytest.raises(ReplayedPush):
        await accept_push(body=json.dumps(CHANGE_MANY).encode(), query=_query(timestamp=str(now)), token=TOKEN, aes_key=None, app_id=APP_ID, kv=kv, now=now + 10)


async def test_push_dated_long_ago_is_refused() -> None:
    from server.kv import MemoryStore
    from server.wechat.push import StalePush, accept_push

    old = "1580000000"  # 2020
    with pytest.raises(StalePush):
        await accept_push(body=json.dumps(POPUP_ONE).encode(), query=_query(timestamp=old), token=TOKEN, aes_key=None, app_id=APP_ID, kv=MemoryStore(), now=1764000000)


async def test_plain_push_refused_once_safe_mode_is_configured() -> None:
    from server.kv import MemoryStore
    from server.wechat.push import accept_push

    now = 1764000000.0
    with pytest.raises(InvalidPushSignature):
        await accept_push(body=json.dumps(POPUP_ONE).encode(), query=_query(), token=TOKEN, aes_key=AES_KEY, app_id=APP_ID, kv=MemoryStore(), now=now)
    body, query = _encrypted_push(POPUP_ONE)
    message = await accept_push(body=body, query=query, token=TOKEN, aes_key=AES_KEY, app_id=APP_ID, kv=MemoryStore(), now=now)
    assert message == POPUP_ONE


async def test_http_push_replay_and_stale_push(client, app) -> None:  # type: ignore[no-untyped-def]
    import time

    token = app.ctx.settings.wechat.push_token.get_secret_value()

    def signed(timestamp: str, nonce: str) -> dict[str, str]:
        return {"timestamp": timestamp, "nonce": nonce, "signature": _sign(token, timestamp, nonce)}

    body = json.dumps({"MsgType": "text", "Content": "hi", "FromUserName": "o-x"})
    fresh = signed(str(int(time.time())), "replay-me")
    assert (await client.post("/api/wechat/push", params=fresh, content=body)).text == "success"
    again = await client.post("/api/wechat/push", params=fresh, content=body)
    assert again.status_code == 200 and again.text == "success"  # answered, not processed twice
    stale = await client.post("/api/wechat/push", params=signed("1580000000", "old"), content=body)
    assert stale.status_code == 403 and stale.json()["error"]["code"] == "bad_signature"
