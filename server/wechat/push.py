"""WeChat message-push (服务器推送) helpers: signature checks, decryption and subscribe events.

Pure functions; the Sanic route that calls them lives elsewhere. WeChat signs every push with the
configured token (``signature`` = sha1 of the sorted token/timestamp/nonce); in safe mode the body is
``{"Encrypt": ...}`` (or ``<xml><Encrypt>``) with ``msg_signature`` covering the ciphertext too.

Subscribe events arrive as JSON or XML. ``List`` is an object for one template and an array for
several (XML: one or more ``<List>`` elements); the user is ``FromUserName``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from server.kv import KeyValueStore

SUBSCRIBE_EVENTS = frozenset({"subscribe_msg_popup_event", "subscribe_msg_change_event", "subscribe_msg_sent_event"})
# A push older than this is refused as a possible replay (WeChat retries within seconds).
MAX_PUSH_AGE_SECONDS = 300


class PushError(ValueError):
    """A push that must be answered with an error and otherwise ignored."""


class InvalidPushSignature(PushError):
    pass


class MalformedPush(PushError):
    pass


class StalePush(InvalidPushSignature):
    """Signed, but dated outside the accepted window: a recorded push played back later."""


class ReplayedPush(PushError):
    """A push already received (same timestamp, nonce and signature): WeChat's retry or a replay.

    Answer it as handled and process nothing.
    """


@dataclass(frozen=True, slots=True)
class SubscribeEvent:
    openid: str
    template_id: str
    # popup/change: WeChat's SubscribeStatusString ("accept", "reject", "ban", ...);
    # sent: "success" or "failed".
    status: str
    event: str
    msg_id: str | None = None  # sent events: matches the msgid returned by subscribe/send
    error_code: int | None = None  # sent events: 0 on success
    error_status: str | None = None  # sent events: e.g. "failed:user refuse to accept the msg"
    popup_scene: str | None = None
    create_time: int | None = None


def verify_signature(*, token: str, signature: str, timestamp: str, nonce: str) -> bool:
    """True if ``signature`` is WeChat's signature of (token, timestamp, nonce)."""
    if not signature or not timestamp or not nonce:
        return False
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        return False
    return True


def check_timestamp(*, timestamp: str, now: float, max_age: float = MAX_PUSH_AGE_SECONDS) -> bool:
    """True if the push timestamp is within ``max_age`` seconds of ``now`` (replay protection)."""
    try:
        return abs(now - int(timestamp)) <= max_age
    except (TypeError, ValueError):
        return False


def verify_echo(*, token: str, signature: str, timestamp: str, nonce: str, echostr: str) -> str:
    """GET verification when the push URL is configured: return ``echostr`` if the signature holds."""
    if not verify_signature(token=token, signature=signature, timestamp=timestamp, nonce=nonce):
        raise InvalidPushSignature("push verification signature does not match")
    return echostr


def parse_body(*, body: bytes | str) -> dict[str, Any]:
    """A push body (JSON or XML) as a dict; XML's root ``<xml>`` is unwrapped."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        raise MalformedPush("empty push body")
    try:
        if text.startswith("<"):
            parsed = xmltodict.parse(text).get("xml")
        else:
            parsed = json.loads(text)
    except Exception as exc:  # xmltodict raises expat errors, json ValueError
        raise MalformedPush("push body is neither JSON nor XML") from exc
    if not isinstance(parsed, dict):
        raise MalformedPush("push body is not an object")
    return parsed


def decrypt_push(
    *,
    message: Mapping[str, Any],
    token: str,
    aes_key: str,
    app_id: str,
    msg_signature: str,
    timestamp: str,
    nonce: str,
) -> dict[str, Any]:
    """Decrypt a safe-mode push (``{"Encrypt": ...}``) into the plain message dict."""
    if not message.get("Encrypt"):
        raise MalformedPush("encrypted push without Encrypt")
    crypto = WeChatCrypto(token, aes_key, app_id)
    try:
        # wechatpy parses XML itself unless given a dict, so JSON pushes are passed as the dict.
        plaintext = crypto.decrypt_message(dict(message), msg_signature, timestamp, nonce)
    except InvalidSignatureException as exc:
        raise InvalidPushSignature("encrypted push msg_signature does not match") from exc
    except InvalidAppIdException as exc:
        raise InvalidPushSignature("encrypted push is for another appid") from exc
    except Exception as exc:  # bad base64, padding or key
        raise MalformedPush("encrypted push cannot be decrypted") from exc
    return parse_body(body=plaintext)


def open_push(
    *,
    body: bytes | str,
    query: Mapping[str, str],
    token: str,
    aes_key: str | None,
    app_id: str,
) -> dict[str, Any]:
    """Verify and (if encrypted) decrypt a POSTed push; ``query`` is the request's query string.

    Plain-mode pushes are accepted only when ``signature`` holds; encrypted pushes additionally need
    ``msg_signature`` over the ciphertext, and an AES key must be configured.
    """
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    if not verify_signature(token=token, signature=query.get("signature", ""), timestamp=timestamp, nonce=nonce):
        raise InvalidPushSignature("push signature does not match")
    message = parse_body(body=body)
    if "Encrypt" not in message:
        return message
    if not aes_key:
        raise MalformedPush("encrypted push received but no push AES key is configured")
    return decrypt_push(
        message=message,
        token=token,
        aes_key=aes_key,
        app_id=app_id,
        msg_signature=query.get("msg_signature", ""),
        timestamp=timestamp,
        nonce=nonce,
    )


async def accept_push(
    *,
    body: bytes | str,
    query: Mapping[str, str],
    token: str,
    aes_key: str | None,
    app_id: str,
    kv: KeyValueStore,
    now: float | None = None,
    max_age: float = MAX_PUSH_AGE_SECONDS,
) -> dict[str, Any]:
    """``open_push`` plus replay protection: the timestamp window and a nonce cache in the KV store.

    When an AES key is configured only encrypted pushes are accepted: in plain mode WeChat's
    signature covers (token, timestamp, nonce) but not the body, so a captured signature could carry
    any body. Production refuses to start without the key (``Settings.check_production_secrets``).
    """
    timestamp, nonce, signature = query.get("timestamp", ""), query.get("nonce", ""), query.get("signature", "")
    if not verify_signature(token=token, signature=signature, timestamp=timestamp, nonce=nonce):
        raise InvalidPushSignature("push signature does not match")
    if not check_timestamp(timestamp=timestamp, now=time.time() if now is None else now, max_age=max_age):
        raise StalePush("push timestamp outside the accepted window")
    message = open_push(body=body, query=query, token=token, aes_key=aes_key, app_id=app_id)
    if aes_key and "Encrypt" not in parse_body(body=body):
        raise InvalidPushSignature("plain push refused: safe mode (encrypted pushes) is configured")
    # Remembered for twice the window: an older copy is refused by its timestamp anyway.
    fingerprint = hashlib.sha256(f"{timestamp}|{nonce}|{signature}|{query.get('msg_signature', '')}".encode()).hexdigest()
    if not await kv.set(f"wechat_push_nonce:{fingerprint}", "1", ttl=2 * max_age, only_if_absent=True):
        raise ReplayedPush("push already received")
    return message


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _optional_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_subscribe_events(message: Mapping[str, Any]) -> list[SubscribeEvent]:
    """Normalised subscribe-message events in ``message``; [] for any other push.

    XML pushes put several templates under ``List`` repeatedly (xmltodict gives a list) or wrap
    them in ``SubscribeMsgPopupEvent``-style containers; JSON sends ``List`` as object or array.
    """
    event = str(message.get("Event") or "")
    if message.get("MsgType") != "event" or event not in SUBSCRIBE_EVENTS:
        return []
    openid = str(message.get("FromUserName") or "")
    if not openid:
        raise MalformedPush("subscribe event without FromUserName")
    create_time = _optional_int(message.get("CreateTime"))
    items = _as_list(message.get("List"))
    if not items:
        # Older XML form: <SubscribeMsgPopupEvent><List>...</List></SubscribeMsgPopupEvent>.
        for container in ("SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent", "SubscribeMsgSentEvent"):
            if isinstance(message.get(container), Mapping):
                items = _as_list(message[container].get("List"))
    events: list[SubscribeEvent] = []
    for item in items:
        if not isinstance(item, Mapping) or not item.get("TemplateId"):
            raise MalformedPush(f"{event} item without TemplateId")
        events.append(_event_from_item(item=item, event=event, openid=openid, create_time=create_time))
    return events


def _event_from_item(*, item: Mapping[str, Any], event: str, openid: str, create_time: int | None) -> SubscribeEvent:
    template_id = str(item["TemplateId"])
    if event == "subscribe_msg_sent_event":
        error_code = _optional_int(item.get("ErrorCode"))
        return SubscribeEvent(
            openid=openid,
            template_id=template_id,
            status="success" if error_code == 0 else "failed",
            event=event,
            msg_id=str(item["MsgID"]) if item.get("MsgID") is not None else None,
            error_code=error_code,
            error_status=str(item.get("ErrorStatus") or "") or None,
            create_time=create_time,
        )
    return SubscribeEvent(
        openid=openid,
        template_id=template_id,
        status=str(item.get("SubscribeStatusString") or "").lower(),
        event=event,
        popup_scene=str(item["PopupScene"]) if item.get("PopupScene") is not None else None,
        create_time=create_time,
    )
