"""Mini-program routes for the annual confirmation: status, face-check challenge and attempts."""

from __future__ import annotations

from pydantic import BaseModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from server.confirmation import self_service
from server.errors import BadRequest, ServiceUnavailable
from server.http.validation import api
from server.miniapp.guard import mini_user_required

mp_bp = Blueprint("confirmation_mp", url_prefix="/api/mp/confirmation")

class ChallengeBody(BaseModel):
    beneficiary_id: int

class StatusQuery(BaseModel):
    beneficiary_id: int



def _engine(request: Request):  # type: ignore[no-untyped-def]
    engine = getattr(request.app.ctx, "face", None)
    if engine is None:
        raise ServiceUnavailable("人脸认证暂不可用，请到服务站办理", code="face_unavailable")
    return engine


@mp_bp.get("/status")
@api(summary="This year's confirmation status for me or someone I act for", tag="mini-program confirmation", query=StatusQuery)
@mini_user_required
async def mp_status(request: Request, query: StatusQuery) -> HTTPResponse:
    return json(await self_service.status_for(user=request.ctx.mini_user, beneficiary_id=query.beneficiary_id, request_id=request.ctx.request_id), ensure_ascii=False)


@mp_bp.post("/challenge")
@api(summary="Start a face check (the person only, never a proxy): 2-3 actions, a single-use nonce, a short TTL", tag="mini-program confirmation", json=ChallengeBody)
@mini_user_required
async def mp_challenge(request: Request, body: ChallengeBody) -> HTTPResponse:
    _engine(request)
    result = await self_service.issue_challenge(kv=request.app.ctx.kv, settings=request.app.ctx.settings, user=request.ctx.mini_user, beneficiary_id=body.beneficiary_id, request_id=request.ctx.request_id)
    return json(result, status=201, ensure_ascii=False)


@mp_bp.post("/attempts")
@api(summary="Submit the challenge frames with the nonce: a burst of up to 30 consecutive JPEG/PNG frames (5-10 fps) or 3-10 sparse frames, field `frames`, in capture order", tag="mini-program confirmation", multipart={"nonce": "from /challenge", "frames": "3-30 images in capture order, repeated field"})
@mini_user_required
async def mp_attempt(request: Request) -> HTTPResponse:
    engine = _engine(request)
    nonce = request.form.get("nonce") if request.form else None
    if not nonce:
        raise BadRequest("缺少认证请求编号", code="nonce_missing")
    frames = [f.body for f in (request.files.getlist("frames") or [])] if request.files else []
    outcome = await self_service.submit_attempt(kv=request.app.ctx.kv, settings=request.app.ctx.settings, engine=engine, user=request.ctx.mini_user, nonce=nonce, frames=frames, request_id=request.ctx.request_id)
    return json(outcome.to_dict(), status=201, ensure_ascii=False)


@mp_bp.get("/attempts/<attempt_id:int>")
@api(summary="The result of one of my face checks", tag="mini-program confirmation")
@mini_user_required
async def mp_attempt_result(request: Request, attempt_id: int) -> HTTPResponse:
    outcome = await self_service.get_attempt_for_user(user=request.ctx.mini_user, attempt_id=attempt_id)
    return json(outcome.to_dict(), ensure_ascii=False)
