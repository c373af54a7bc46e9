from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json, text

from models.staff import Role
from models.wechat import MiniUser, Notification
from server.auth.guard import staff_required
from server.errors import BadRequest, Forbidden, ValidationFailed
from server.http.openapi import Ok, contract, respond, staff_contract
from server.http.validation import api
from server.miniapp import schemas
from server.miniapp.guard import mini_user_required
from server.notifications import quota
from server.notifications import schemas as ns
from server.notifications import unsent as unsent_service
from server.notifications.templates import default_registry
from server.wechat.push import (
    InvalidPushSignature,
    MalformedPush,
    ReplayedPush,
    accept_push,
    parse_subscribe_events,
    verify_echo,
)

bp = Blueprint("notifications", url_prefix="/api")


class SubscriptionResults(BaseModel):
    results: dict[str, Literal["accept", "reject", "ban", "filter"]] = Field(
        min_length=1,
        max_length=20,
        description="wx.requestSubscribeMessage's result as it came: {WeChat template id (from GET /api/mp/subscriptions): accept|reject|ban|filter}",
        examples=[{"TPL-card_ready_for_pickup": "accept"}],
    )


class UnsentQuery(BaseModel):
    station_id: int | None = None
    include_handled: bool = False


class HandledBody(BaseModel):
    note: str = Field(default="", max_length=200)


@bp.post("/mp/subscriptions")
@contract(response=schemas.SubscriptionsRecorded, body=True, errors={422: ["unknown_template_id"]}, example={"remaining": {"card_ready_for_pickup": 1}})
@api(summary="Report wx.requestSubscribeMessage results (WeChat template ids); each accept allows one message", tag="mini-program", json=SubscriptionResults)
@mini_user_required
async def report_subscriptions(request: Request, body: SubscriptionResults) -> HTTPResponse:
    try:
        remaining = await quota.record_client_results(kv=request.app.ctx.kv, user=request.ctx.mini_user, results=body.results, template_ids=request.app.ctx.settings.wechat.template_ids)
    except quota.UnknownTemplateIds as exc:
        raise ValidationFailed("包含未知的订阅消息模板，请先获取模板列表", code="unknown_template_id", unknown=exc.unknown[:20]) from exc
    return respond(schemas.SubscriptionsRecorded(remaining=remaining))


@bp.get("/mp/subscriptions")
@contract(
    response=schemas.Subscriptions,
    example={
        "templates": [{"key": "card_ready_for_pickup", "template_id": "AbC123…", "title": "优待证领取通知", "when_sent": "卡片送达服务站、可以领取时通知持证人。", "remaining": 0, "last_result": None, "banned": False}],
        "remaining": {"card_ready_for_pickup": 0},
    },
)
@api(summary="Our message templates: the WeChat ids to pass to wx.requestSubscribeMessage, their titles, when each is sent, and how many I may still receive", tag="mini-program")
@mini_user_required
async def my_subscriptions(request: Request) -> HTTPResponse:
    template_ids = request.app.ctx.settings.wechat.template_ids
    rows = await quota.rows_for(user_id=request.ctx.mini_user.id)
    templates = []
    for key in default_registry().keys():
        if not template_ids.get(key):
            continue  # not configured here (reported at start-up): the popup cannot ask for it
        template = default_registry().get(key)
        row = rows.get(key)
        templates.append(
            schemas.SubscriptionTemplate(
                key=key,
                template_id=template_ids[key],
                title=template.title,
                when_sent=template.description,
                remaining=row.remaining if row else 0,
                last_result=(row.last_result or None) if row else None,
                banned=row.banned if row else False,
            )
        )
    return respond(schemas.Subscriptions(templates=templates, remaining={t.key: t.remaining for t in templates}))


def _push_params(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in request.args.items()}


@bp.get("/wechat/push")
@contract(response=None, auth=False, file={"text/plain": "the echostr, echoed"}, errors={403: ["bad_signature"]})
@api(summary="WeChat message-push URL verification (echostr)", tag="wechat push")
async def push_verify(request: Request) -> HTTPResponse:
    args = _push_params(request)
    settings = request.app.ctx.settings.wechat
    try:
        echo = verify_echo(token=settings.push_token.get_secret_value(), signature=args.get("signature", ""), timestamp=args.get("timestamp", ""), nonce=args.get("nonce", ""), echostr=args.get("echostr", ""))
    except InvalidPushSignature as exc:
        raise Forbidden("签名校验失败", code="bad_signature") from exc
    return text(echo)


@bp.post("/wechat/push")
@contract(response=None, auth=False, file={"text/plain": "success"}, errors={400: ["malformed_push"], 403: ["bad_signature"]})
@api(summary="WeChat message push (plain or encrypted JSON): subscribe-message popup and change events update quotas", tag="wechat push")
async def push_receive(request: Request) -> HTTPResponse:
    settings = request.app.ctx.settings.wechat
    try:
        message = await accept_push(
            body=request.body,
            query=_push_params(request),
            token=settings.push_token.get_secret_value(),
            aes_key=settings.push_aes_key.get_secret_value() if settings.push_aes_key else None,
            app_id=settings.app_id,
            kv=request.app.ctx.kv,
        )
    except ReplayedPush:
        return text("success")  # WeChat's retry of a push already handled: nothing to do twice
    except InvalidPushSignature as exc:
        raise Forbidden("签名校验失败", code="bad_signature") from exc
    except MalformedPush as exc:
        raise BadRequest("推送内容无法解析", code="malformed_push") from exc
    keys = quota.template_keys_by_id(settings.template_ids)
    for event in parse_subscribe_events(message):
        user = await MiniUser.get_or_none(openid=event.openid)
        key = keys.get(event.template_id)
        if user is None or key is None:
            continue
        if event.event == "subscribe_msg_popup_event" and event.status in ("accept", "reject"):
            await quota.record_result(kv=request.app.ctx.kv, user_id=user.id, template_key=key, result=event.status, source="push")
        elif event.event == "subscribe_msg_change_event" and event.status == "reject":
            await quota.record_result(kv=request.app.ctx.kv, user_id=user.id, template_key=key, result="ban", source="push")
    return text("success")


def _unsent(n: Notification) -> ns.UnsentNotification:
    return ns.UnsentNotification(
        id=n.id,
        beneficiary_id=n.beneficiary_id,
        station_id=n.station_id,
        template_key=n.template_key,
        status=n.status,
        reason=n.last_error,
        attempts=n.attempts,
        created_at=n.created_at,
        handled_at=n.handled_at,
    )


@bp.get("/staff/notifications/unsent")
@staff_contract(response=ns.UnsentNotificationList, query=True)
@api(summary="Messages that could not go out (no permission, refused, failed, uncertain): phone these people instead", tag="notifications", query=UnsentQuery)
@staff_required()
async def unsent(request: Request, query: UnsentQuery) -> HTTPResponse:
    items = await unsent_service.list_unsent(scope=request.ctx.scope, station_id=query.station_id, include_handled=query.include_handled)
    return respond(ns.UnsentNotificationList(items=[_unsent(n) for n in items]))


@bp.post("/staff/notifications/<notification_id:int>/handled")
@staff_contract(response=Ok, roles=True, write=True, body=True, path_ids=["notification_id"], errors={403: ["out_of_scope"], 404: ["notification_not_found"], 409: ["already_handled"]})
@api(summary="Record that staff reached the person another way", tag="notifications", json=HandledBody)
@staff_required(Role.STATION, Role.CENTRE, Role.BUREAU, write=True)
async def handled(request: Request, notification_id: int, body: HandledBody) -> HTTPResponse:
    await unsent_service.mark_handled(scope=request.ctx.scope, actor=request.ctx.actor, staff_id=request.ctx.staff.staff_id, notification_id=notification_id, note=body.note)
    return json({"ok": True})
