"""Who a mini-program user may act for: themselves (a self binding) or, as a proxy, within scopes.

The one rule every mini-program service applies (cards, confirmation, notifications); it lives below
them and below server/miniapp/ (which aggregates them), so none of them imports another's package for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.registry import Beneficiary
from models.wechat import Binding, BindingStatus, MiniUser, ProxyGrant, ProxyScope, ProxyStatus
from server.actors import Actor
from server.errors import Forbidden, NotFound

__all__ = ["ActingAs", "ProxyScope", "acting_for", "require_self"]


@dataclass(frozen=True)
class ActingAs:
    user: MiniUser
    beneficiary: Beneficiary
    proxy: ProxyGrant | None
    actor: Actor

    @property
    def as_proxy(self) -> bool:
        return self.proxy is not None


async def acting_for(*, user: MiniUser, beneficiary_id: int, scope: ProxyScope | None, request_id: str | None = None) -> ActingAs:
    """The user themself, or an active proxy holding ``scope``; anything else is refused (403)."""
    beneficiary = await Beneficiary.get_or_none(id=beneficiary_id)
    if beneficiary is None:
        raise NotFound("未找到该优抚对象", code="beneficiary_not_found")
    binding = await Binding.get_or_none(user_id=user.id, beneficiary_id=beneficiary_id, status=BindingStatus.ACTIVE)
    if binding is not None:
        return ActingAs(user=user, beneficiary=beneficiary, proxy=None, actor=Actor(type="user", id=str(user.id), role="self", request_id=request_id))
    grant = await ProxyGrant.get_or_none(proxy_user_id=user.id, beneficiary_id=beneficiary_id, status=ProxyStatus.ACTIVE)
    if grant is None:
        raise Forbidden("您尚未绑定或获得代办授权", code="not_authorised_for_beneficiary")
    if scope is not None and scope.value not in grant.scopes:
        raise Forbidden("代办授权不包含此项业务", code="proxy_scope_missing", scope=scope.value)
    actor = Actor(type="user", id=str(user.id), role="proxy", on_behalf_of=str(beneficiary_id), request_id=request_id)
    return ActingAs(user=user, beneficiary=beneficiary, proxy=grant, actor=actor)


async def require_self(*, user: MiniUser, beneficiary_id: int, request_id: str | None = None) -> ActingAs:
    """Face checks and confirmations: only the person, never a proxy."""
    acting = await acting_for(user=user, beneficiary_id=beneficiary_id, scope=None, request_id=request_id)
    if acting.as_proxy:
        raise Forbidden("人脸认证须由本人完成，代办人不能代为认证", code="proxy_not_allowed")
    return acting
