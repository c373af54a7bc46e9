from __future__ import annotations

import logging

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from models.staff import Role
from models.wechat import ProxyStatus, TransferStatus
from server.auth.guard import staff_required
from server.errors import ApiError, BadRequest, ValidationFailed
from server.http.openapi import MAX_ID, Ok, contract, respond, staff_contract
from server.http.uploads import required_upload
from server.http.validation import api
from server.miniapp import journeys, proxies, schemas, service, sessions
from server.miniapp.acting import ProxyScope
from server.miniapp.guard import mini_user_required
from server.wechat import InvalidCode, WeChatError

log = logging.getLogger("server.miniapp")

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


class MyYearQuery(BaseModel):
    beneficiary_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="one person only; default: me and everyone I act for")


class StationsQuery(BaseModel):
    district_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class ProxyListQuery(BaseModel):
    status: ProxyStatus | None = None


class TransferListQuery(BaseModel):
    status: TransferStatus | None = None


LOGIN_EXAMPLE = {"token": "Zq3…", "profile": {"user_id": 7, "phone_verified": False, "self": None, "acting_for": []}}


@bp.post("/login")
@contract(response=schemas.LoginResult, example=LOGIN_EXAMPLE, auth=False, body=True, errors={422: ["wechat_code_invalid"], 429: ["wechat_rate_limited"], 403: ["wechat_risky_user"], 503: ["wechat_unavailable"]})
@api(summary="Log in with a wx.login() code; returns our own session token (openid and session_key stay on the server)", tag="mini-program", json=LoginBody)
async def login(request: Request, body: LoginBody) -> HTTPResponse:
    token, user = await service.login(wechat=request.app.ctx.wechat, kv=request.app.ctx.kv, code=body.code, ttl=request.app.ctx.settings.security.mini_session_ttl_seconds)
    return respond(schemas.LoginResult(token=token, profile=schemas.Profile.model_validate(await service.profile(user=user))))


@bp.post("/logout")
@contract(response=Ok)
@api(summary="Revoke the mini-program session", tag="mini-program")
@mini_user_required
async def logout(request: Request) -> HTTPResponse:
    await sessions.revoke_session(request.app.ctx.kv, request.ctx.mini_token)
    return respond(Ok())


@bp.get("/me")
@contract(response=schemas.Profile, example=LOGIN_EXAMPLE["profile"])
@api(summary="Who I am bound as and whom I act for", tag="mini-program")
@mini_user_required
async def me(request: Request) -> HTTPResponse:
    return respond(schemas.Profile.model_validate(await service.profile(user=request.ctx.mini_user)))


BIND_ERRORS = {
    400: ["phone_code_required"],
    409: ["already_bound_elsewhere", "user_already_bound"],
    422: ["identity_mismatch", "phone_mismatch", "phone_code_invalid", "id_number_bad_format", "id_number_bad_checksum", "id_number_bad_birth_date"],
    429: ["bind_rate_limited"],
    503: ["wechat_unavailable"],
}


@bp.post("/bind")
@contract(response=schemas.BindingInfo, status=201, also=[200], body=True, errors=BIND_ERRORS, example={"id": 3, "beneficiary_id": 12, "name": "张建国", "id_number": "320723********1234", "station_id": 4, "status": "active"})
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
        except InvalidCode as exc:
            # Only a refused code is the user's to fix; anything else is ours (token, network).
            raise ValidationFailed("手机号验证失败，请重新授权手机号", code="phone_code_invalid") from exc
        except WeChatError as exc:
            log.error("WeChat phone-number call failed during binding", extra={"errcode": exc.errcode, "wechat_error": type(exc).__name__, "request_id": request.ctx.request_id})
            raise ApiError("微信服务暂不可用，请稍后再试", code="wechat_unavailable", status=503) from exc
    binding, beneficiary, created = await service.bind_self(kv=request.app.ctx.kv, user=request.ctx.mini_user, actor=request.ctx.actor, name=body.name, id_number=body.id_number, verified_phone=verified_phone)
    return respond(schemas.BindingInfo.model_validate(service.binding_json(binding, beneficiary)), status=201 if created else 200)


@bp.delete("/bind")
@contract(response=Ok, errors={404: ["not_bound"]})
@api(summary="Remove my own binding", tag="mini-program")
@mini_user_required
async def unbind(request: Request) -> HTTPResponse:
    await service.unbind_self(user=request.ctx.mini_user, actor=request.ctx.actor)
    return respond(Ok())


@bp.post("/bind/transfer")
@contract(response=schemas.TransferRequested, status=201, body=True, errors={409: ["transfer_not_needed", "transfer_pending"], 422: ["identity_mismatch", "id_number_bad_format", "id_number_bad_checksum", "id_number_bad_birth_date"], 429: ["bind_rate_limited"]})
@api(summary="Ask the station to move a beneficiary's binding to this WeChat (new phone)", tag="mini-program", json=TransferBody)
@mini_user_required
async def transfer(request: Request, body: TransferBody) -> HTTPResponse:
    result = await service.request_transfer(kv=request.app.ctx.kv, user=request.ctx.mini_user, actor=request.ctx.actor, name=body.name, id_number=body.id_number, note=body.note)
    return respond(schemas.TransferRequested(id=result.id, status=result.status.value), status=201)


PROXY_EXAMPLE = {"id": 5, "beneficiary_id": 12, "proxy_name": "张小红", "relation": "子女", "scopes": ["book", "collect"], "status": "pending", "status_label": "待审核", "approved_via": None, "requested_at": "2026-11-28T08:00:00+00:00", "decided_at": None, "revoked_by": None}


def _grant(grant) -> schemas.ProxyGrantInfo:  # type: ignore[no-untyped-def]
    data = proxies.proxy_json(grant)
    return schemas.ProxyGrantInfo.model_validate({**data, "status_label": PROXY_STATUS_LABELS.get(data["status"], data["status"])})


PROXY_STATUS_LABELS = {"pending": "待审核", "active": "有效", "rejected": "已拒绝", "revoked": "已撤销"}


@bp.post("/proxies")
@contract(response=schemas.ProxyGrantInfo, status=201, body=True, example=PROXY_EXAMPLE, errors={409: ["proxy_for_self", "proxy_exists"], 422: ["identity_mismatch", "id_number_bad_format", "id_number_bad_checksum", "id_number_bad_birth_date"], 429: ["bind_rate_limited"]})
@api(summary="Ask to act for a beneficiary (relation and scopes); the person or the station approves", tag="mini-program", json=ProxyRequestBody)
@mini_user_required
async def request_proxy(request: Request, body: ProxyRequestBody) -> HTTPResponse:
    grant = await proxies.request_proxy(kv=request.app.ctx.kv, user=request.ctx.mini_user, actor=request.ctx.actor, **body.model_dump())
    return respond(_grant(grant), status=201)


@bp.get("/proxies/mine")
@contract(response=schemas.ProxyGrantList)
@api(summary="Proxy requests and grants for me as the beneficiary (to approve or revoke)", tag="mini-program")
@mini_user_required
async def my_proxies(request: Request) -> HTTPResponse:
    grants = await proxies.proxies_of_my_beneficiary(user=request.ctx.mini_user)
    return respond(schemas.ProxyGrantList(items=[_grant(g) for g in grants]))


@bp.post("/proxies/<grant_id:int>/decision")
@contract(response=schemas.ProxyGrantInfo, body=True, path_ids=["grant_id"], errors={403: ["not_the_beneficiary"], 404: ["proxy_not_found"], 409: ["proxy_already_decided"]})
@api(summary="The beneficiary approves or rejects a proxy request from their own bound WeChat", tag="mini-program", json=DecisionBody)
@mini_user_required
async def decide(request: Request, grant_id: int, body: DecisionBody) -> HTTPResponse:
    grant = await proxies.approve_by_beneficiary(user=request.ctx.mini_user, actor=request.ctx.actor, grant_id=grant_id, approve=body.approve)
    return respond(_grant(grant))


@bp.post("/proxies/<grant_id:int>/revoke")
@contract(response=schemas.ProxyGrantInfo, path_ids=["grant_id"], errors={403: ["not_the_beneficiary", "not_your_proxy"], 404: ["proxy_not_found"], 409: ["proxy_not_active"]})
@api(summary="Revoke a proxy grant (as the proxy or as the beneficiary)", tag="mini-program")
@mini_user_required
async def revoke(request: Request, grant_id: int) -> HTTPResponse:
    grant = await proxies.revoke_by_user(user=request.ctx.mini_user, actor=request.ctx.actor, grant_id=grant_id)
    return respond(_grant(grant))


@bp.get("/my-year")
@contract(response=schemas.MyYear, errors={403: ["not_authorised_for_beneficiary"], 422: ["validation_failed"]})
@api(summary="My year in one call: confirmation status and deadline, card status, ID photo on file, station contact, what is left to do (for me and each person I act for)", tag="mini-program", query=MyYearQuery)
@mini_user_required
async def my_year(request: Request, query: MyYearQuery) -> HTTPResponse:
    return respond(await journeys.my_year(user=request.ctx.mini_user, beneficiary_id=query.beneficiary_id))


@bp.get("/stations")
@contract(response=schemas.StationList, errors={422: ["validation_failed"]})
@api(summary="Service stations with address, phone and opening hours", tag="mini-program", query=StationsQuery)
@mini_user_required
async def stations(request: Request, query: StationsQuery) -> HTTPResponse:
    return respond(await journeys.stations(district_id=query.district_id))


# ---- staff side: binding transfers and proxy approvals


@staff_bp.get("/proxies")
@staff_contract(response=schemas.StaffProxyGrantList, query=True)
@api(summary="Proxy requests and grants of people in scope", tag="mini-program staff", query=ProxyListQuery)
@staff_required()
async def staff_list_proxies(request: Request, query: ProxyListQuery) -> HTTPResponse:
    grants = await proxies.list_for_station(scope=request.ctx.scope, status=query.status)
    return json({"items": [proxies.proxy_json(g, g.beneficiary) for g in grants]}, ensure_ascii=False)


@staff_bp.post("/proxies/<grant_id:int>/approve")
@staff_contract(response=schemas.StaffProxyGrant, roles=True, write=True, path_ids=["grant_id"], errors={400: ["missing_file", "empty_file", "document_required"], 413: ["payload_too_large"], 415: ["unsupported_file"], 403: ["out_of_scope"], 404: ["proxy_not_found"], 409: ["proxy_already_decided"]})
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
@staff_contract(response=schemas.StaffProxyGrant, roles=True, write=True, body=True, path_ids=["grant_id"], errors={403: ["out_of_scope"], 404: ["proxy_not_found"], 409: ["proxy_already_decided"]})
@api(summary="Station rejects a proxy request", tag="mini-program staff", json=ReasonBody)
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def staff_reject_proxy(request: Request, grant_id: int, body: ReasonBody) -> HTTPResponse:
    grant = await proxies.reject_by_station(scope=request.ctx.scope, actor=request.ctx.actor, grant_id=grant_id, reason=body.reason)
    return json(proxies.proxy_json(grant), ensure_ascii=False)


@staff_bp.post("/proxies/<grant_id:int>/revoke")
@staff_contract(response=schemas.StaffProxyGrant, roles=True, write=True, body=True, path_ids=["grant_id"], errors={403: ["out_of_scope"], 404: ["proxy_not_found"], 409: ["proxy_not_active"]})
@api(summary="Station revokes a proxy grant", tag="mini-program staff", json=ReasonBody)
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def staff_revoke_proxy(request: Request, grant_id: int, body: ReasonBody) -> HTTPResponse:
    grant = await proxies.revoke(grant_id=grant_id, actor=request.ctx.actor, by="station", scope=request.ctx.scope, reason=body.reason)
    return json(proxies.proxy_json(grant), ensure_ascii=False)


@staff_bp.get("/binding-transfers")
@staff_contract(response=schemas.BindingTransferList, query=True)
@api(summary="Requests to move a binding to another WeChat, in scope", tag="mini-program staff", query=TransferListQuery)
@staff_required()
async def staff_list_transfers(request: Request, query: TransferListQuery) -> HTTPResponse:
    items = await service.list_transfers(scope=request.ctx.scope, status=query.status)
    return json({"items": [{"id": t.id, "beneficiary_id": t.beneficiary_id, "name": t.beneficiary.name, "status": t.status.value, "note": t.note, "requested_at": t.created_at.isoformat()} for t in items]}, ensure_ascii=False)


@staff_bp.post("/binding-transfers/<transfer_id:int>/decision")
@staff_contract(response=schemas.BindingTransferDecided, roles=True, write=True, body=True, path_ids=["transfer_id"], errors={403: ["out_of_scope"], 404: ["transfer_not_found"], 409: ["transfer_already_decided"]})
@api(summary="Station approves (moves the binding) or rejects a transfer request", tag="mini-program staff", json=StaffDecisionBody)
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def staff_decide_transfer(request: Request, transfer_id: int, body: StaffDecisionBody) -> HTTPResponse:
    result = await service.decide_transfer(scope=request.ctx.scope, actor=request.ctx.actor, transfer_id=transfer_id, approve=body.approve, reason=body.reason)
    return json({"id": result.id, "status": result.status.value})
