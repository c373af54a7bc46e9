"""Mini-program login, binding to a beneficiary, and moving a binding to another WeChat account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.registry import Beneficiary
from models.wechat import Binding, BindingStatus, BindingTransfer, MiniUser, ProxyGrant, ProxyStatus, TransferStatus
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import ApiError, Conflict, NotFound, TooManyRequests, ValidationFailed
from server.kv import KeyValueStore
from server.miniapp import sessions
from server.registry.service import find_by_id_number, validated_id_number
from server.security.fields import cipher
from server.wechat import InvalidCode, RateLimited, RiskyUser, WeChatClient, WeChatError

BIND_ATTEMPTS_PER_USER_PER_HOUR = 5
BIND_ATTEMPTS_PER_ID_PER_DAY = 10


class WeChatLoginFailed(ApiError):
    status, code, message = 422, "wechat_login_failed", "微信登录失败，请重新进入小程序"


async def login(*, wechat: WeChatClient, kv: KeyValueStore, code: str, ttl: int) -> tuple[str, MiniUser]:
    try:
        session = await wechat.code2session(code)
    except InvalidCode as exc:
        raise WeChatLoginFailed("登录凭证无效或已使用，请重新进入小程序", code="wechat_code_invalid") from exc
    except RateLimited as exc:
        raise TooManyRequests("登录过于频繁，请稍后再试", code="wechat_rate_limited") from exc
    except RiskyUser as exc:
        raise ApiError("微信账号存在风险，暂不能登录", code="wechat_risky_user", status=403) from exc
    except WeChatError as exc:
        raise ApiError("微信服务暂不可用，请稍后再试", code="wechat_unavailable", status=503) from exc
    now = datetime.now(UTC)
    encrypted_key = cipher().encrypt(session.session_key, associated=b"mini_user.session_key")
    user = await MiniUser.get_or_none(openid=session.openid)
    if user is None:
        try:
            user = await MiniUser.create(openid=session.openid, unionid=session.unionid, session_key_encrypted=encrypted_key, last_login_at=now)
        except IntegrityError:
            user = await MiniUser.get(openid=session.openid)  # two logins of a new user at once
    await MiniUser.filter(id=user.id).update(session_key_encrypted=encrypted_key, last_login_at=now, unionid=session.unionid or user.unionid)
    token, _ = await sessions.create_session(kv, user_id=user.id, ttl=ttl)
    return token, user


async def _rate_limit(kv: KeyValueStore, *, user_id: int, id_hash: str) -> None:
    per_user = await kv.incr(f"bind_attempts:user:{user_id}", ttl=3600)
    per_id = await kv.incr(f"bind_attempts:id:{id_hash}", ttl=86400)
    if per_user > BIND_ATTEMPTS_PER_USER_PER_HOUR or per_id > BIND_ATTEMPTS_PER_ID_PER_DAY:
        raise TooManyRequests("验证次数过多，请稍后再试或到服务站办理", code="bind_rate_limited")


async def _verify_identity(*, kv: KeyValueStore, user: MiniUser, name: str, id_number: str, verified_phone: str | None) -> Beneficiary:
    parsed = validated_id_number(id_number)
    await _rate_limit(kv, user_id=user.id, id_hash=cipher().lookup_hash(parsed.value))
    beneficiary = await find_by_id_number(parsed.value)
    # The same answer whether the number is unknown or the name is wrong: nothing to probe with.
    if beneficiary is None or beneficiary.name.strip() != name.strip():
        raise ValidationFailed("姓名与身份证号码不匹配，或尚未登记", code="identity_mismatch")
    if verified_phone is not None and beneficiary.phone and verified_phone[-11:] != beneficiary.phone[-11:]:
        raise ValidationFailed("手机号与登记的联系电话不一致，请到服务站更新", code="phone_mismatch")
    return beneficiary


def binding_json(binding: Binding, beneficiary: Beneficiary) -> dict[str, Any]:
    return {"id": binding.id, "beneficiary_id": beneficiary.id, "name": beneficiary.name, "id_number": beneficiary.id_number_masked, "station_id": beneficiary.station_id, "status": binding.status.value}


async def bind_self(*, kv: KeyValueStore, user: MiniUser, actor: Actor, name: str, id_number: str, verified_phone: str | None) -> tuple[Binding, Beneficiary, bool]:
    """(binding, beneficiary, created): binding again to the same person returns the existing binding."""
    beneficiary = await _verify_identity(kv=kv, user=user, name=name, id_number=id_number, verified_phone=verified_phone)
    existing = await Binding.get_or_none(beneficiary_id=beneficiary.id, status=BindingStatus.ACTIVE)
    if existing is not None:
        if existing.user_id == user.id:
            return existing, beneficiary, False
        raise Conflict("该优抚对象已绑定其他微信，如需更换请提交更换申请，由服务站审核", code="already_bound_elsewhere")
    if await Binding.filter(user_id=user.id, status=BindingStatus.ACTIVE).exists():
        raise Conflict("您的微信已绑定本人身份；为家人办理请申请代办授权", code="user_already_bound")
    async with in_transaction():
        try:
            binding = await Binding.create(user=user, beneficiary=beneficiary, active_beneficiary_id=beneficiary.id)
        except IntegrityError as exc:
            raise Conflict("该优抚对象已绑定其他微信", code="already_bound_elsewhere") from exc
        if verified_phone:
            await MiniUser.filter(id=user.id).update(phone=verified_phone)
        await audit.record(actor=actor, action="binding.created", entity_type="beneficiary", entity_id=beneficiary.id, details={"user_id": user.id, "phone_verified": bool(verified_phone)})
    return binding, beneficiary, True


async def request_transfer(*, kv: KeyValueStore, user: MiniUser, actor: Actor, name: str, id_number: str, note: str) -> BindingTransfer:
    beneficiary = await _verify_identity(kv=kv, user=user, name=name, id_number=id_number, verified_phone=None)
    current = await Binding.get_or_none(beneficiary_id=beneficiary.id, status=BindingStatus.ACTIVE)
    if current is None or current.user_id == user.id:
        raise Conflict("无需更换：可直接绑定", code="transfer_not_needed")
    if await BindingTransfer.filter(beneficiary_id=beneficiary.id, user_id=user.id, status=TransferStatus.PENDING).exists():
        raise Conflict("更换申请已提交，请等待服务站审核", code="transfer_pending")
    async with in_transaction():
        transfer = await BindingTransfer.create(user=user, beneficiary=beneficiary, note=note)
        await audit.record(actor=actor, action="binding.transfer_requested", entity_type="beneficiary", entity_id=beneficiary.id, details={"transfer_id": transfer.id, "user_id": user.id})
    return transfer


async def list_transfers(*, scope: Scope, status: TransferStatus | None) -> list[BindingTransfer]:
    query = BindingTransfer.all().select_related("beneficiary")
    query = await scope.filter_by_station(query, "beneficiary__station_id")
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("id")


async def decide_transfer(*, scope: Scope, actor: Actor, transfer_id: int, approve: bool, reason: str) -> BindingTransfer:
    transfer = await BindingTransfer.get_or_none(id=transfer_id).select_related("beneficiary")
    if transfer is None:
        raise NotFound("更换申请不存在", code="transfer_not_found")
    await scope.require_station_writable(transfer.beneficiary.station_id)
    now = datetime.now(UTC)
    async with in_transaction():
        changed = await BindingTransfer.filter(id=transfer.id, status=TransferStatus.PENDING).update(
            status=TransferStatus.APPROVED if approve else TransferStatus.REJECTED, decided_by_staff_id=int(actor.id or 0), decided_at=now, decision_reason=reason
        )
        if changed == 0:
            raise Conflict("该申请已处理", code="transfer_already_decided")
        if approve:
            await Binding.filter(beneficiary_id=transfer.beneficiary_id, status=BindingStatus.ACTIVE).update(status=BindingStatus.REVOKED, active_beneficiary_id=None, revoked_at=now, revoked_reason="更换微信")
            await Binding.filter(user_id=transfer.user_id, status=BindingStatus.ACTIVE).update(status=BindingStatus.REVOKED, active_beneficiary_id=None, revoked_at=now, revoked_reason="更换绑定对象")
            await Binding.create(user_id=transfer.user_id, beneficiary_id=transfer.beneficiary_id, active_beneficiary_id=transfer.beneficiary_id)
        await audit.record(actor=actor, action="binding.transfer_approved" if approve else "binding.transfer_rejected", entity_type="beneficiary", entity_id=transfer.beneficiary_id, details={"transfer_id": transfer.id, "reason": reason})
    return await BindingTransfer.get(id=transfer.id)


async def unbind_self(*, user: MiniUser, actor: Actor) -> None:
    binding = await Binding.get_or_none(user_id=user.id, status=BindingStatus.ACTIVE)
    if binding is None:
        raise NotFound("尚未绑定", code="not_bound")
    async with in_transaction():
        await Binding.filter(id=binding.id).update(status=BindingStatus.REVOKED, active_beneficiary_id=None, revoked_at=datetime.now(UTC), revoked_reason="本人解绑")
        await audit.record(actor=actor, action="binding.revoked", entity_type="beneficiary", entity_id=binding.beneficiary_id, details={"user_id": user.id})


async def profile(*, user: MiniUser) -> dict[str, Any]:
    binding = await Binding.get_or_none(user_id=user.id, status=BindingStatus.ACTIVE).select_related("beneficiary")
    acting_for = await ProxyGrant.filter(proxy_user_id=user.id, status__in=[ProxyStatus.PENDING, ProxyStatus.ACTIVE]).select_related("beneficiary")
    return {
        "user_id": user.id,
        "phone_verified": bool(user.phone),
        "self": binding_json(binding, binding.beneficiary) if binding else None,
        "acting_for": [
            {"proxy_id": g.id, "beneficiary_id": g.beneficiary_id, "name": g.beneficiary.name, "relation": g.relation, "scopes": g.scopes, "status": g.status.value}
            for g in acting_for
        ],
    }
