from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from models.wechat import ProxyStatus, TransferStatus
from models.staff import Role
from server.auth.guard import staff_required
from server.errors import ApiError, BadRequest
from server.http.uploads import required_upload
from server.http.validation import api
from server.miniapp import proxies, service, sessions
from server.miniapp.acting import ProxyScope
from server.miniapp.guard import mini_user_required
from server.wechat import WeChatError

bp = Blueprint("miniapp", url_prefix="/api/mp")
staff_bp = Blueprint("miniapp_staff", url_prefix="/api/staff")


class LoginBody(BaseModel):
    code: str = Field(min_length=1, max_length=128, description="wx.login() code; valid once, for 5 minutes")


class BindBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=18, max_length=18)
    phone_code: str | None = Field(default=None, max_length=128, description="getPhoneNumber code, when the county requires phone verification")


class TransferBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=18, max_length=18)
    note: str = Field(default="", max_length=200)


class ProxyRequestBody(BaseModel):
    beneficiary_name: str = Field(min_length=1, max_length=64)
    beneficiary_id_number: str = Field(min_length=18, max_length=18)
    proxy_name: str = Field(min_length=1, max_length=64)
    relation: str = Field(min_length=1, max_length=32, description="e.g. 子女, 配偶, 孙子女")
    scopes: list[ProxyScope] = Field(min_length=1)


class DecisionBody(BaseModel):
    approve: bool


class StaffDecisionBody(BaseModel):
    approve: bool
    reason: str = Field(default="", max_length=200)


class ReasonBody(BaseModel):
    reason: str = Field(min_length=2, max_length=200)


class ProxyListQuery(BaseModel):
    status: ProxyStatus | None = None


class TransferListQuery(BaseModel):
    status: TransferStatus | None = None


@bp.post("/login")
@api(summary="Log in with a wx.login() code; returns our own session token (openid and session_key stay on the server)", tag="mini-program", json=LoginBody)
async def login(request: Request, body: LoginBody) -> HTTPResponse:
    token, user = await service.login(wechat=request.app.ctx.wechat, kv=request.app.ctx.kv, code=body.code, ttl=request.app.ctx.settings.security.mini_session_ttl_seconds)
    return json({"token": token, "profile": await service.profile(user=user)}, ensure_ascii=False)


@bp.post("/logout")
@api(summary="Revoke the mini-program session", tag="mini-program")
@mini_user_required
async def logout(request: Request) -> HTTPResponse:
    await sessions.revoke_session(request.app.ctx.kv, request.ctx.mini_token)
    return json({"ok": True})


@bp.get("/me")
@api(summary="Who I am bound as and whom I act for", tag="mini-program")
@mini_user_required
async def me(request: Request) -> HTTPResponse:
    return json(await service.profile(user=request.ctx.mini_user), ensure_ascii=False)


@bp.post("/bind")
@api(summary="Bind this WeChat to a registered beneficiary (name + ID number, optionally a phone code)", tag="mini-program", json=BindBody)
@mini_user_required
async def bind(request: Request, body: BindBody) -> HTTPResponse:
    settings = request.app.ctx.settings
    verified_phone = None
    if settings.wechat.require_phone_for_binding and not body.phone_code:
        raise BadRequest("请先授权手机号", code="phone_code_required")
    if body.phone_code:
        try:
            verified_phone = (await request.app.ctx.wechat.get_phone_number(body.phone_code)).pure_phone_number
        except WeChatError as exc:
            raise ApiError("手机号验证失败，请重试", code="phone_code_invalid", status=400) from exc
    binding, beneficiary = await service.bind_self(kv=request.app.ctx.kv, user=request.ctx.mini_user, actor=request.ctx.actor, name=body.name, id_number=body.id_number, verified_phone=verified_phone)
    return json(service.binding_json(binding, beneficiary), status=201, ensure_ascii=False)


@bp.delete("/bind")
@api(summary="Remove my own binding", tag="mini-program")
@mini_user_required
async def unbind(request: Request) -> HTTPResponse:
    await service.unbind_self(user=request.ctx.mini_user, actor=request.ctx.actor)
    return json({"ok": True})


@bp.post("/bind/transfer")
@api(summary="Ask the station to move a beneficiary's binding to this WeChat (new phone)", tag="mini-program", json=TransferBody)
@mini_user_required
async def transfer(request: Request, body: TransferBody) -> HTTPResponse:
    result = await service.request_transfer(kv=request.app.ctx.kv, user=request.ctx.mini_user, actor=request.ctx.actor, name=body.name, id_number=body.id_number, note=body.note)
    return json({"id": result.id, "status": result.status.value}, status=201)


@bp.post("/proxies")
@api(summary="Ask to act for a beneficiary (relation and scopes); the person or the station approves", tag="mini-program", json=ProxyRequestBody)
@mini_user_required
async def request_proxy(request: Request, body: ProxyRequestBody) -> HTTPResponse:
    grant = await proxies.request_proxy(kv=request.app.ctx.kv, user=request.ctx.mini_user, actor=request.ctx.actor, **body.model_dump())
    return json(proxies.proxy_json(grant), status=201, ensure_ascii=False)


@bp.get("/proxies/mine")
@api(summary="Proxy requests and grants for me as the beneficiary (to approve or revoke)", tag="mini-program")
@mini_user_required
async def my_proxies(request: Request) -> HTTPResponse:
    grants = await proxies.proxies_of_my_beneficiary(user=request.ctx.mini_user)
    return json({"items": [proxies.proxy_json(g) for g in grants]}, ensure_ascii=False)


@bp.post("/proxies/<grant_id:int>/decision")
@api(summary="The beneficiary approves or rejects a proxy request from their own bound WeChat", tag="mini-program", json=DecisionBody)
@mini_user_required
async def decide(request: Request, grant_id: int, body: DecisionBody) -> HTTPResponse:
    grant = await proxies.approve_by_beneficiary(user=request.ctx.mini_user, actor=request.ctx.actor, grant_id=grant_id, approve=body.approve)
    return json(proxies.proxy_json(grant), ensure_ascii=False)


@bp.post("/proxies/<grant_id:int>/revoke")
@api(summary="Revoke a proxy grant (as the proxy or as the beneficiary)", tag="mini-program")
@mini_user_required
async def revoke(request: Request, grant_id: int) -> HTTPResponse:
    grant = await proxies.revoke_by_user(user=request.ctx.mini_user, actor=request.ctx.actor, grant_id=grant_id)
    return json(proxies.proxy_json(grant), ensure_ascii=False)


# ---- staff side: binding transfers and proxy approvals


@staff_bp.get("/proxies")
@api(summary="Proxy requests and grants of people in scope", tag="mini-program staff", query=ProxyListQuery)
@staff_required()
async def staff_list_proxies(request: Request, query: ProxyListQuery) -> HTTPResponse:
    grants = await proxies.list_for_station(scope=request.ctx.scope, status=query.status)
    return json({"items": [proxies.proxy_json(g, g.beneficiary) for g in grants]}, ensure_ascii=False)


@staff_bp.post("/proxies/<grant_id:int>/approve")
@api(summary="Station approves a proxy request with an uploaded authorisation document", tag="mini-program staff", multipart={"document": "signed authorisation (JPEG, PNG or PDF)"})
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def staff_approve_proxy(request: Request, grant_id: int) -> HTTPResponse:
    upload = request.files.get("document") if request.files else None
    if upload is None or not upload.body:
        raise BadRequest("请上传授权委托书", code="document_required")  # the code the mini-program shows as a prompt
    _, document = required_upload(request, "document", limit=request.app.ctx.settings.uploads.max_document_bytes)
    grant = await proxies.approve_by_station(scope=request.ctx.scope, actor=request.ctx.actor, grant_id=grant_id, document=document, media_dir=request.app.ctx.settings.media_dir)
    return json(proxies.proxy_json(grant), ensure_ascii=False)


@staff_bp.post("/proxies/<grant_id:int>/reject")
@api(summary="Station rejects a proxy request", tag="mini-program staff", json=ReasonBody)
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def staff_reject_proxy(request: Request, grant_id: int, body: ReasonBody) -> HTTPResponse:
    grant = await proxies.reject_by_station(scope=request.ctx.scope, actor=request.ctx.actor, grant_id=grant_id, reason=body.reason)
    return json(proxies.proxy_json(grant), ensure_ascii=False)


@staff_bp.post("/proxies/<grant_id:int>/revoke")
@api(summary="Station revokes a proxy grant", tag="mini-program staff", json=ReasonBody)
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def staff_revoke_proxy(request: Request, grant_id: int, body: ReasonBody) -> HTTPResponse:
    grant = await proxies.revoke(grant_id=grant_id, actor=request.ctx.actor, by="station", scope=request.ctx.scope, reason=body.reason)
    return json(proxies.proxy_json(grant), ensure_ascii=False)


@staff_bp.get("/binding-transfers")
@api(summary="Requests to move a binding to another WeChat, in scope", tag="mini-program staff", query=TransferListQuery)
@staff_required()
async def staff_list_transfers(request: Request, query: TransferListQuery) -> HTTPResponse:
    items = await service.list_transfers(scope=request.ctx.scope, status=query.status)
    return json({"items": [{"id": t.id, "beneficiary_id": t.beneficiary_id, "name": t.beneficiary.name, "status": t.status.value, "note": t.note, "requested_at": t.created_at.isoformat()} for t in items]}, ensure_ascii=False)


@staff_bp.post("/binding-transfers/<transfer_id:int>/decision")
@api(summary="Station approves (moves the binding) or rejects a transfer request", tag="mini-program staff", json=StaffDecisionBody)
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def staff_decide_transfer(request: Request, transfer_id: int, body: StaffDecisionBody) -> HTTPResponse:
    result = await service.decide_transfer(scope=request.ctx.scope, actor=request.ctx.actor, transfer_id=transfer_id, approve=body.approve, reason=body.reason)
    return json({"id": result.id, "status": result.status.value})
