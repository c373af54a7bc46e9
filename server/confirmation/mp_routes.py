"""Mini-program routes for the annual confirmation: status, face-check challenge and attempts."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from server.confirmation import self_service
from server.errors import BadRequest, ServiceUnavailable
from server.http.openapi import ANY_CODE, MAX_ID, contract, respond
from server.http.validation import api
from server.miniapp import schemas
from server.miniapp.guard import mini_user_required

mp_bp = Blueprint("confirmation_mp", url_prefix="/api/mp/confirmation")

class ChallengeBody(BaseModel):
    beneficiary_id: int = Field(ge=1, le=MAX_ID)

class StatusQuery(BaseModel):
    beneficiary_id: int = Field(ge=1, le=MAX_ID)

ACTING_ERRORS = {403: ["not_authorised_for_beneficiary", "proxy_not_allowed"], 404: ["beneficiary_not_found"]}
SELF_SERVICE_ERRORS = {403: ["not_authorised_for_beneficiary", "proxy_not_allowed"], 404: ["beneficiary_not_found", "no_open_campaign"], 409: ["campaign_not_in_progress", "already_confirmed", "in_review", "not_allowed"], 423: ["self_service_locked"], 503: ["face_unavailable"]}



def _engine(request: Request):  # type: ignore[no-untyped-def]
    engine = getattr(request.app.ctx, "face", None)
    if engine is None:
        raise ServiceUnavailable("人脸认证暂不可用，请到服务站办理", code="face_unavailable")
    return engine


@mp_bp.get("/status")
@contract(response=schemas.ConfirmationStatusView, errors={**ACTING_ERRORS, 422: ["validation_failed"]})
@api(summary="This year's confirmation status for me or someone I act for", tag="mini-program confirmation", query=StatusQuery)
@mini_user_required
async def mp_status(request: Request, query: StatusQuery) -> HTTPResponse:
    return respond(schemas.ConfirmationStatusView.model_validate(await self_service.status_for(user=request.ctx.mini_user, beneficiary_id=query.beneficiary_id, request_id=request.ctx.request_id)))


@mp_bp.post("/challenge")
@contract(response=schemas.FaceChallenge, status=201, body=True, errors={**SELF_SERVICE_ERRORS, 429: ["too_many_challenges"]})
@api(summary="Start a face check (the person only, never a proxy): 2-3 actions, a single-use nonce, a short TTL", tag="mini-program confirmation", json=ChallengeBody)
@mini_user_required
async def mp_challenge(request: Request, body: ChallengeBody) -> HTTPResponse:
    _engine(request)
    result = await self_service.issue_challenge(kv=request.app.ctx.kv, settings=request.app.ctx.settings, user=request.ctx.mini_user, beneficiary_id=body.beneficiary_id, request_id=request.ctx.request_id)
    return respond(schemas.FaceChallenge.model_validate(result), status=201)


@mp_bp.post("/attempts")
@contract(response=schemas.FaceAttemptResult, status=201, errors={**SELF_SERVICE_ERRORS, 400: ["nonce_missing", "nonce_unknown", "frame_count", "invalid_frames", "frames_and_video", "not_a_video", "corrupt_video", "video_too_long", ANY_CODE], 409: [*SELF_SERVICE_ERRORS[409], "nonce_used"], 410: ["nonce_expired"], 413: ["image_too_large", "video_too_large", "payload_too_large"]})
@api(summary="Submit the challenge frames with the nonce: a burst of up to 30 consecutive JPEG/PNG frames (5-10 fps) or 3-10 sparse frames, field `frames`, in capture order; or instead one MP4 clip of at most 6 s (CameraContext.startRecord), field `video`", tag="mini-program confirmation", multipart={"nonce": ("from /challenge", "text"), "frames": ("3-30 images in capture order, repeated field", "files"), "video": ("or: one MP4/MOV clip, at most 6 s and 8 MB", "file")})
@mini_user_required
async def mp_attempt(request: Request) -> HTTPResponse:
    engine = _engine(request)
    nonce = request.form.get("nonce") if request.form else None
    if not nonce:
        raise BadRequest("缺少认证请求编号", code="nonce_missing")
    frames = [f.body for f in (request.files.getlist("frames") or [])] if request.files else []
    videos = (request.files.getlist("video") or []) if request.files else []
    if len(videos) > 1:
        raise BadRequest("请只上传一段视频", code="frames_and_video")
    video = videos[0].body if videos else None
    outcome = await self_service.submit_attempt(kv=request.app.ctx.kv, settings=request.app.ctx.settings, engine=engine, user=request.ctx.mini_user, nonce=nonce, frames=frames, request_id=request.ctx.request_id, video=video)
    return respond(schemas.FaceAttemptResult.model_validate(outcome.to_dict()), status=201)


@mp_bp.get("/attempts/<attempt_id:int>")
@contract(response=schemas.FaceAttemptResult, errors={404: ["attempt_not_found"]}, path_ids=["attempt_id"])
@api(summary="The result of one of my face checks", tag="mini-program confirmation")
@mini_user_required
async def mp_attempt_result(request: Request, attempt_id: int) -> HTTPResponse:
    outcome = await self_service.get_attempt_for_user(user=request.ctx.mini_user, attempt_id=attempt_id)
    return respond(schemas.FaceAttemptResult.model_validate(outcome.to_dict()))
