"""Self-service confirmation on the phone: a face challenge, then pass / review / fail.

Only the person (their own binding) may do it, never a proxy. Every review or fail goes to the
station's review queue with the evidence; repeated failures lock self-service so the station can
contact the person instead.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.confirmation import (
    Confirmation,
    ConfirmationMethod,
    ConfirmationRecord,
    ConfirmationStatus,
    FaceAttempt,
    ReviewItem,
)
from models.registry import PhotoKind, ReferencePhoto
from models.wechat import MiniUser
from server import media
from server.acting import require_self
from server.actors import Actor
from server.audit import service as audit
from server.clock import china_today
from server.config import Settings
from server.confirmation import rules
from server.confirmation.campaigns import current_confirmation
from server.confirmation.records import mark_confirmed
from server.errors import ApiError, BadRequest, Conflict, NotFound, PayloadTooLarge
from server.kv import KeyValueStore
from server.workdays import add_working_days

if TYPE_CHECKING:
    from face import Challenge, FaceEngine

# ``face`` (numpy, OpenCV, onnxruntime: about 160 MB and seconds per process) is imported inside the
# functions that run a face check, so a web worker that never serves one never loads it.
# Outcomes as stored and sent: the values of face.Decision, which tests/confirmation checks against.
PASS, REVIEW, FAIL = "pass", "review", "fail"

# What the person is told for each outcome: plain words, and what to do next.
GUIDANCE = {
    "pass": "认证成功，本年度确认已完成。",
    "review": "已提交，服务站工作人员将在几个工作日内人工核对，请留意通知。",
    "fail": "本次认证未通过。请在光线充足处正对镜头，按提示依次完成动作后重试；多次未通过可到服务站办理或等待工作人员上门。",
    "locked": "今日或本年度自助认证失败次数已达上限，请到服务站办理，或等待工作人员联系上门确认。",
}
# Keyed by face.ReasonCode values (tests/confirmation checks every code has its text).
REASON_TEXT = {
    "no_face": "未检测到人脸",
    "multiple_faces": "画面中有多张人脸",
    "low_quality": "画面模糊或光线不足",
    "action_missing": "未完成提示的动作",
    "action_order": "动作顺序不正确",
    "identity_changed": "认证过程中人员发生变化",
    "replay": "疑似翻拍或重复画面",
    "spoof_suspected": "疑似非真人",
    "no_match": "与身份证照片不一致",
    "weak_match": "与身份证照片相似度不足，需人工核对",
    "reference_unusable": "身份证照片无法识别，需人工核对",
    "no_reference_photo": "尚未采集身份证照片，需人工核对",
}
ACTION_TEXT = {"blink": "眨眨眼", "open_mouth": "张张嘴", "turn_left": "向左转头", "turn_right": "向右转头", "nod": "点点头"}
# What to do next, named from the real cause the face check found (face.verification guidance codes).
HINT_TEXT = {
    "face_in_frame": "请把整张脸放在取景框中间。",
    "one_person": "请只让本人出现在画面里，其他人请离开镜头。",
    "move_closer": "请把手机拿近一些，让脸占满取景框。",
    "move_back": "请把手机拿远一点，让整张脸都在框内。",
    "more_light": "光线太暗，请到明亮的地方或打开灯，脸朝向窗户或灯光。",
    "less_light": "光线太强，请避开阳光直射或背对强光。",
    "hold_steady": "请拿稳手机，动作慢一点。",
    "eye_level": "请把手机举到与眼睛一样高，眼睛看着屏幕。",
    "face_camera": "请正对手机，先看着屏幕不动，再做动作。",
    "real_face": "请本人对着手机做动作，不要使用照片或视频。",
    "do_blink": "请慢慢闭一下眼睛再睁开。",
    "do_open_mouth": "请把嘴张大一些，再合上。",
    "do_turn_left": "请把头慢慢向左转，再转回来。",
    "do_turn_right": "请把头慢慢向右转，再转回来。",
    "do_nod": "请慢慢点一下头（低头再抬头）。",
}


class SelfServiceLocked(ApiError):
    status, code, message = 423, "self_service_locked", GUIDANCE["locked"]


class TooManyChallenges(ApiError):
    status, code, message = 429, "too_many_challenges", "今天已多次开始认证而未完成，请明天再试，或到服务站办理。"


def _challenge_counter_keys(confirmation_id: int) -> tuple[str, str]:
    day = china_today().isoformat()
    return f"face_challenges_issued:{confirmation_id}:{day}", f"face_challenges_used:{confirmation_id}:{day}"


async def _count_challenge(*, kv: KeyValueStore, settings: Settings, confirmation: Confirmation) -> None:
    """Per person per day: a cap on challenges, and on challenges asked for but never answered.

    Fishing for an easy challenge (asking again until one looks fakeable) burns
    through the unused allowance quickly; a person who really tries uses them.
    """
    issued_key, used_key = _challenge_counter_keys(confirmation.id)
    issued = int(await kv.get(issued_key) or 0)
    used = int(await kv.get(used_key) or 0)
    if issued >= settings.face.max_challenges_per_day or issued - used >= settings.face.max_unused_challenges_per_day:
        raise TooManyChallenges(issued=issued, unused=issued - used)
    await kv.incr(issued_key, ttl=26 * 3600)


def _nonce_key(nonce: str) -> str:
    return f"face_challenge:{nonce}"


async def _open_confirmation_for_self(*, user: MiniUser, beneficiary_id: int, request_id: str | None) -> tuple[Confirmation, Actor]:
    acting = await require_self(user=user, beneficiary_id=beneficiary_id, request_id=request_id)
    confirmation = await current_confirmation(beneficiary_id=beneficiary_id)
    if confirmation is None:
        raise NotFound("当前没有需要您确认的年度确认", code="no_open_campaign")
    stage = rules.stage_on(confirmation.campaign, date.today())
    if stage not in (rules.Stage.IMPLEMENTATION, rules.Stage.NOTICE):
        raise Conflict("当前不在年度确认办理时间内", code="campaign_not_in_progress", stage=stage.value)
    if confirmation.status == ConfirmationStatus.CONFIRMED:
        raise Conflict("本年度已完成确认，无需重复认证", code="already_confirmed")
    if confirmation.status == ConfirmationStatus.IN_REVIEW:
        raise Conflict("上次认证正在人工核对中，请等待结果", code="in_review")
    if confirmation.status == ConfirmationStatus.DECEASED:
        raise Conflict("无法办理", code="not_allowed")
    return confirmation, acting.actor


async def _check_not_locked(*, kv: KeyValueStore, settings: Settings, confirmation: Confirmation) -> None:
    if confirmation.self_service_locked:
        raise SelfServiceLocked()
    today_failures = int(await kv.get(f"face_failures:{confirmation.id}:{date.today().isoformat()}") or 0)
    if today_failures >= settings.confirmation.max_failed_attempts_per_day:
        raise SelfServiceLocked(scope="today")


async def issue_challenge(*, kv: KeyValueStore, settings: Settings, user: MiniUser, beneficiary_id: int, request_id: str | None) -> dict[str, Any]:
    confirmation, _ = await _open_confirmation_for_self(user=user, beneficiary_id=beneficiary_id, request_id=request_id)
    await _check_not_locked(kv=kv, settings=settings, confirmation=confirmation)
    await _count_challenge(kv=kv, settings=settings, confirmation=confirmation)
    from face import new_challenge

    challenge = new_challenge(random.SystemRandom())
    nonce = secrets.token_urlsafe(24)
    ttl = settings.face.challenge_ttl_seconds
    record = {"user_id": user.id, "beneficiary_id": beneficiary_id, "confirmation_id": confirmation.id, "actions": challenge.to_list(), "expires_at": time.time() + ttl}
    # Kept past its expiry (for an hour) so a late upload is told "expired", not "unknown".
    await kv.set(_nonce_key(nonce), json.dumps(record), ttl=ttl + 3600)
    return {
        "nonce": nonce,
        "actions": challenge.to_list(),
        "instructions": [ACTION_TEXT[a] for a in challenge.to_list()],
        "expires_in": ttl,
        # Sparse: a neutral frame then one per action; burst (preferred): 5-10 fps for 3-4 s, in order.
        "frames": {"min": settings.uploads.min_frames, "max": settings.uploads.max_frames, "burst_fps": [5, 10]},
    }


def validate_frames(frames: list[bytes], settings: Settings) -> None:
    """Refuse bad uploads before the nonce is spent or anything is stored."""
    from face import FaceError
    from face.decode import check_image_bytes

    uploads = settings.uploads
    if len(frames) < uploads.min_frames or len(frames) > uploads.max_frames:
        raise BadRequest(f"请上传{uploads.min_frames}到{uploads.max_frames}张照片", code="frame_count", received=len(frames))
    for index, frame in enumerate(frames):
        if len(frame) > uploads.max_image_bytes:
            raise PayloadTooLarge("照片过大", code="image_too_large", frame=index)
        # Headers only: the pixels are decoded once, on the inference executor, where they are analysed.
        try:
            header = check_image_bytes(frame, max_pixels=uploads.max_image_pixels, max_bytes=uploads.max_image_bytes)
        except FaceError as exc:
            raise BadRequest(_image_error_text(exc.code), code=exc.code, frame=index) from exc
        if header.format not in ("jpeg", "png"):
            raise BadRequest(_image_error_text("not_an_image"), code="not_an_image", frame=index)


_VIDEO_ERRORS = {
    "not_an_image": ("not_a_video", "视频格式不支持，请用小程序录制（MP4）"),
    "corrupt_image": ("corrupt_video", "视频文件已损坏或太短，请重新录制"),
    "video_too_long": ("video_too_long", "视频太长，请录制不超过{seconds:g}秒"),
    "image_too_large": ("video_too_large", "视频画面或文件过大，请重新录制"),
}


async def frames_from_video(video: bytes, settings: Settings) -> list[bytes]:
    """A short clip becomes a burst; decoded off the event loop, bounded in size, length and frames."""
    from face import FaceError
    from face.video import VideoLimits, decode_video

    uploads = settings.uploads
    if len(video) > uploads.max_video_bytes:
        raise PayloadTooLarge("视频文件过大，请重新录制", code="video_too_large")
    limits = VideoLimits(
        max_bytes=uploads.max_video_bytes,
        max_seconds=uploads.max_video_seconds,
        max_pixels=min(uploads.max_image_pixels, VideoLimits().max_pixels),
        max_frames=uploads.max_frames,
        min_frames=uploads.min_frames,
    )
    try:
        decoded = await asyncio.to_thread(decode_video, video, limits)
    except FaceError as exc:
        code, text = _VIDEO_ERRORS.get(exc.code, ("corrupt_video", _VIDEO_ERRORS["corrupt_image"][1]))
        raise BadRequest(text.format(seconds=uploads.max_video_seconds), code=code) from exc
    return decoded.frames


def _image_error_text(code: str) -> str:
    return {
        "empty_image": "照片内容为空",
        "not_an_image": "文件不是照片（仅支持JPG、PNG）",
        "image_too_large": "照片尺寸过大",
        "corrupt_image": "照片文件已损坏或不完整",
    }.get(code, "照片无法识别")


async def _take_nonce(*, kv: KeyValueStore, nonce: str, user: MiniUser) -> dict[str, Any]:
    raw = await kv.take(_nonce_key(nonce))
    if raw is None:
        if await kv.get(f"face_nonce_used:{nonce}"):
            raise ApiError("该认证请求已使用，请重新开始认证", code="nonce_used", status=409)
        raise ApiError("认证请求无效，请重新开始认证", code="nonce_unknown", status=400)
    await kv.set(f"face_nonce_used:{nonce}", "1", ttl=24 * 3600)
    record = json.loads(raw)
    if "confirmation_id" in record:
        await kv.incr(_challenge_counter_keys(int(record["confirmation_id"]))[1], ttl=26 * 3600)
    if record["user_id"] != user.id:
        raise ApiError("认证请求无效，请重新开始认证", code="nonce_unknown", status=400)
    if record["expires_at"] < time.time():
        raise ApiError("认证已超时，请重新开始认证", code="nonce_expired", status=410)
    return record


async def _reference_photos(*, beneficiary_id: int, keep: int) -> list[ReferencePhoto]:
    """The ID-card photo and the newest photos from earlier confirmations."""
    references: list[ReferencePhoto] = []
    id_photo = await ReferencePhoto.filter(beneficiary_id=beneficiary_id, kind=PhotoKind.ID_CARD, is_active=True).order_by("-created_at").first()
    if id_photo is not None:
        references.append(id_photo)
    confirmed = await ReferencePhoto.filter(beneficiary_id=beneficiary_id, kind__in=[PhotoKind.CONFIRMATION, PhotoKind.STATION_CAPTURE], is_active=True).order_by("-created_at").limit(keep)
    references.extend(confirmed)
    return references


def _reference_inputs(*, photos: list[ReferencePhoto], media_dir: Path) -> list[Any]:
    """Stored embeddings, or the photo itself where none is stored yet.

    A photo without an embedding is sent to the engine as an image: it is analysed on the
    inference executor in parallel with the frames (not before them, on the request's path),
    and the engine hands its embedding back (``reference_embeddings``) to be stored.
    """
    import numpy as np

    return [np.frombuffer(photo.embedding, dtype=np.float32) if photo.embedding is not None else media.resolve(media_dir, photo.path).read_bytes() for photo in photos]


async def _store_reference_embeddings(*, photos: list[ReferencePhoto], data: dict[str, Any]) -> None:
    import numpy as np

    for photo, embedding in zip(photos, data.get("reference_embeddings") or [], strict=False):
        if photo.embedding is None and embedding is not None:
            await ReferencePhoto.filter(id=photo.id).update(embedding=np.asarray(embedding, dtype=np.float32).tobytes())


async def _earlier_fingerprints(*, beneficiary_id: int) -> list[Any]:
    """Fingerprints of this person's last 20 attempts: a frame of one of them sent again is a replay."""
    return [fp for attempt in await FaceAttempt.filter(beneficiary_id=beneficiary_id).order_by("-id").limit(20) for fp in attempt.fingerprints if fp]


@dataclass
class AttemptOutcome:
    attempt: FaceAttempt
    confirmation: Confirmation
    review_item: ReviewItem | None

    def to_dict(self) -> dict[str, Any]:
        decision = self.attempt.decision
        return {
            "attempt_id": self.attempt.id,
            "decision": decision,
            "reasons": self.attempt.reasons,
            "reason_texts": [REASON_TEXT.get(r, r) for r in self.attempt.reasons],
            "guidance": GUIDANCE["locked"] if self.confirmation.self_service_locked and decision == "fail" else GUIDANCE[decision],
            # What to do differently next time, named from the real cause.
            "hints": [HINT_TEXT[h] for h in (self.attempt.scores or {}).get("guidance", []) if h in HINT_TEXT] if decision != "pass" else [],
            "confirmation_status": self.confirmation.status.value,
            "self_service_locked": self.confirmation.self_service_locked,
        }


async def submit_attempt(*, kv: KeyValueStore, settings: Settings, engine: FaceEngine, user: MiniUser, nonce: str, frames: list[bytes], request_id: str | None, video: bytes | None = None) -> AttemptOutcome:
    if video is not None:
        if frames:
            raise BadRequest("请只上传照片或只上传视频", code="frames_and_video")
        frames = await frames_from_video(video, settings)
    from face import Challenge
    validate_frames(frames, settings)
    record = await _take_nonce(kv=kv, nonce=nonce, user=user)
    confirmation, actor = await _open_confirmation_for_self(user=user, beneficiary_id=record["beneficiary_id"], request_id=request_id)
    await _check_not_locked(kv=kv, settings=settings, confirmation=confirmation)
    challenge = Challenge.from_list(record["actions"])
    photos = await _reference_photos(beneficiary_id=confirmation.beneficiary_id, keep=settings.face.max_reference_photos)
    references = _reference_inputs(photos=photos, media_dir=settings.media_dir)
    earlier = await _earlier_fingerprints(beneficiary_id=confirmation.beneficiary_id)
    # The evidence files are written on a thread while the frames are analysed, not on the event loop.
    storing = asyncio.ensure_future(asyncio.to_thread(_store_evidence, settings.media_dir, frames))
    try:
        verified = await _verify(engine=engine, frames=frames, challenge=challenge, references=references, earlier=earlier) if references else None
    finally:
        stored_frames = await storing
    if verified is not None:
        data = verified.to_dict()
        await _store_reference_embeddings(photos=photos, data=data)
        decision, reasons = data["decision"], data["reasons"]
        if decision == PASS and not any(p.kind == PhotoKind.ID_CARD for p in photos):
            decision = REVIEW  # matched only earlier self-taken photos: a person looks
    else:
        data = {"scores": {}, "fingerprints": [], "evidence_frames": [], "evidence_embeddings": []}
        decision, reasons = REVIEW, ["no_reference_photo"]
    return await _record_outcome(kv=kv, settings=settings, actor=actor, user=user, confirmation=confirmation, challenge=record["actions"], decision=decision, reasons=reasons, data=data, frames=frames, stored_frames=stored_frames)


def _store_evidence(media_dir: Path, frames: list[bytes]) -> list[str]:
    return [media.store(media_dir, frame, category="evidence", allowed=media.IMAGE_TYPES).path for frame in frames]


async def _verify(*, engine: FaceEngine, frames: list[bytes], challenge: Challenge, references: list[Any], earlier: list[Any]) -> Any:
    from face import FaceError, InvalidRequestError

    try:
        return await engine.verify_challenge(frames, challenge, references, earlier)
    except InvalidRequestError as exc:
        raise BadRequest("照片数量或内容不符合要求", code="invalid_frames") from exc
    except FaceError as exc:
        # A frame whose header was sound but whose pixels are not (found where it is decoded).
        raise BadRequest(_image_error_text(exc.code), code=exc.code, frame=getattr(exc, "frame_index", None)) from exc


async def _record_outcome(*, kv: KeyValueStore, settings: Settings, actor: Actor, user: MiniUser, confirmation: Confirmation, challenge: list[str], decision: str, reasons: list[str], data: dict[str, Any], frames: list[bytes], stored_frames: list[str]) -> AttemptOutcome:
    import numpy as np

    embedding = None
    if data.get("evidence_embeddings"):
        embedding = np.asarray(data["evidence_embeddings"][0], dtype=np.float32).tobytes()
    purge_after = date.today() + timedelta(days=settings.face.evidence_retention_days)
    review_item = None
    async with in_transaction():
        attempt = await FaceAttempt.create(
            confirmation=confirmation,
            beneficiary_id=confirmation.beneficiary_id,
            user_id=user.id,
            challenge=challenge,
            decision=decision,
            reasons=reasons,
            scores={**data.get("scores", {}), "evidence_frames": data.get("evidence_frames", []), "frames": data.get("frames", []), "guidance": data.get("guidance", []), "actions": data.get("actions", {})},
            frame_paths=stored_frames,
            fingerprints=[fp for fp in data.get("fingerprints", []) if fp],
            embedding=embedding,
            evidence_purge_after=purge_after,
        )
        await ConfirmationRecord.create(confirmation=confirmation, kind="self_service", outcome=decision, user_id=user.id, happened_at=datetime.now(UTC), notes=",".join(reasons))
        await audit.record(actor=actor, action=f"confirmation.self_service_{decision}", entity_type="confirmation", entity_id=confirmation.id, details={"attempt_id": attempt.id, "reasons": reasons, "best_similarity": data.get("scores", {}).get("best_similarity")})
        if decision == PASS:
            evidence_index = (data.get("evidence_frames") or [0])[0]
            await _keep_confirmed_photo(settings=settings, beneficiary_id=confirmation.beneficiary_id, frame=frames[evidence_index], embedding=embedding)
        else:
            # Never fails: an unpublished year's arrangement is counted provisionally (server/calendar).
            review_item = await ReviewItem.create(attempt=attempt, confirmation=confirmation, station_id=confirmation.station_id, due_date=add_working_days(china_today(), settings.confirmation.review_due_working_days))
            if decision == FAIL:
                await _count_failure(kv=kv, settings=settings, confirmation=confirmation)
            else:
                await Confirmation.filter(id=confirmation.id).update(status=ConfirmationStatus.IN_REVIEW)
    if decision == PASS:
        confirmation = await mark_confirmed(actor=actor, confirmation=await Confirmation.get(id=confirmation.id), method=ConfirmationMethod.SELF_SERVICE, staff_id=None)
    else:
        confirmation = await Confirmation.get(id=confirmation.id)
    return AttemptOutcome(attempt=attempt, confirmation=confirmation, review_item=review_item)


async def _count_failure(*, kv: KeyValueStore, settings: Settings, confirmation: Confirmation) -> None:
    await kv.incr(f"face_failures:{confirmation.id}:{date.today().isoformat()}", ttl=26 * 3600)
    # Counted in the database (F()): two failures at once from two workers are both counted.
    await Confirmation.filter(id=confirmation.id).update(failed_attempts=F("failed_attempts") + 1)
    limit = settings.confirmation.max_failed_attempts_per_campaign
    await Confirmation.filter(id=confirmation.id, failed_attempts__gte=limit).update(self_service_locked=True)


async def _keep_confirmed_photo(*, settings: Settings, beneficiary_id: int, frame: bytes, embedding: bytes | None) -> None:
    """A passing frame becomes a reference; only the newest N confirmed photos stay active."""
    stored = await asyncio.to_thread(media.store, settings.media_dir, frame, category="photos", allowed=media.IMAGE_TYPES)
    if not await ReferencePhoto.filter(beneficiary_id=beneficiary_id, sha256=stored.sha256).exists():
        await ReferencePhoto.create(beneficiary_id=beneficiary_id, kind=PhotoKind.CONFIRMATION, sha256=stored.sha256, path=stored.path, content_type=stored.content_type, size_bytes=stored.size_bytes, embedding=embedding)
    keep = settings.face.max_reference_photos
    active = await ReferencePhoto.filter(beneficiary_id=beneficiary_id, kind=PhotoKind.CONFIRMATION, is_active=True).order_by("-created_at", "-id")
    for old in active[keep:]:
        await ReferencePhoto.filter(id=old.id).update(is_active=False)


async def get_attempt_for_user(*, user: MiniUser, attempt_id: int) -> AttemptOutcome:
    attempt = await FaceAttempt.get_or_none(id=attempt_id, user_id=user.id)
    if attempt is None:
        raise NotFound("认证记录不存在", code="attempt_not_found")
    confirmation = await Confirmation.get(id=attempt.confirmation_id)
    review = await ReviewItem.filter(attempt_id=attempt.id).first()
    return AttemptOutcome(attempt=attempt, confirmation=confirmation, review_item=review)


async def status_for(*, user: MiniUser, beneficiary_id: int, request_id: str | None) -> dict[str, Any]:
    from server.acting import acting_for

    acting = await acting_for(user=user, beneficiary_id=beneficiary_id, scope=None, request_id=request_id)
    confirmation = await current_confirmation(beneficiary_id=beneficiary_id)
    if confirmation is None:
        return {"campaign": None}
    campaign = confirmation.campaign
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "implementation_end": campaign.implementation_end.isoformat(), "stage": rules.stage_on(campaign, date.today()).value},
        "status": confirmation.status.value,
        "method": confirmation.method.value if confirmation.method else None,
        "self_service_allowed": not acting.as_proxy and not confirmation.self_service_locked,
        "self_service_locked": confirmation.self_service_locked,
    }


async def purge_expired_evidence(*, today: date, media_dir: Path) -> int:
    """Evidence frames are kept for the retention period only (a PeriodicJob runs this daily)."""
    expired = await FaceAttempt.filter(evidence_purge_after__lt=today, evidence_purged=False)
    for attempt in expired:
        # Files are content-addressed: a frame replayed in a later, still-kept attempt stays.
        kept = await FaceAttempt.filter(beneficiary_id=attempt.beneficiary_id, evidence_purged=False, evidence_purge_after__gte=today).values_list("frame_paths", flat=True)
        still_used = {path for paths in kept for path in paths}
        for path in attempt.frame_paths:
            if path not in still_used:
                media.resolve(media_dir, path).unlink(missing_ok=True)
        await FaceAttempt.filter(id=attempt.id).update(evidence_purged=True, frame_paths=[], embedding=None)
    return len(expired)
