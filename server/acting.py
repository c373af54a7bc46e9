"""Who a mini-program user may act for: themselves (a self binding) or, as a proxy, within scopes.

The one rule every mini-program service applies (cards, confirmation, notifications); it lives below
them and below server/miniapp/ (which aggregates them), so none of them imports another's package for it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import RawSQL

from models.registry import Beneficiary
from models.wechat import Binding, BindingStatus, MiniUser, ProxyGrant, ProxyScope, ProxyStatus
from server.actors import Actor
from server.errors import Forbidden, NotFound

__all__ = ["ActingAs", "ProxyScope", "acting_for", "acting_judged", "require_self", "standing_columns"]


@dataclass(frozen=True)
class ActingAs:
    user: MiniUser
    beneficiary: Beneficiary
    proxy: ProxyGrant | None
    actor: Actor

    @property
    def as_proxy(self) -> bool:
        return self.proxy is not None


def _self_actor(user_id: int, request_id: str | None) -> Actor:
    return Actor(type="user", id=str(user_id), role="self", request_id=request_id)


def _proxy_actor(user_id: int, beneficiary_id: int, request_id: str | None) -> Actor:
    return Actor(type="user", id=str(user_id), role="proxy", on_behalf_of=str(beneficiary_id), request_id=request_id)


def _refuse_grant(grant_scopes: list[Any] | None, scopes: Sequence[ProxyScope]) -> None:
    """No active grant, or one holding none of ``scopes`` (the error names the last one asked for)."""
    if grant_scopes is None:
        raise Forbidden("您尚未绑定或获得代办授权", code="not_authorised_for_beneficiary")
    if scopes and not any(scope.value in grant_scopes for scope in scopes):
        raise Forbidden("代办授权不包含此项业务", code="proxy_scope_missing", scope=scopes[-1].value)


async def acting_for(*, user: MiniUser, beneficiary_id: int, scope: ProxyScope | Sequence[ProxyScope] | None, request_id: str | None = None) -> ActingAs:
    """The user themself, or an active proxy holding ``scope`` (or any of several); anything else is refused (403)."""
    beneficiary = await Beneficiary.get_or_none(id=beneficiary_id)
    if beneficiary is None:
        raise NotFound("未找到该优抚对象", code="beneficiary_not_found")
    binding = await Binding.get_or_none(user_id=user.id, beneficiary_id=beneficiary_id, status=BindingStatus.ACTIVE)
    if binding is not None:
        return ActingAs(user=user, beneficiary=beneficiary, proxy=None, actor=_self_actor(user.id, request_id))
    grant = await ProxyGrant.get_or_none(proxy_user_id=user.id, beneficiary_id=beneficiary_id, status=ProxyStatus.ACTIVE)
    _refuse_grant(grant.scopes if grant is not None else None, [scope] if isinstance(scope, ProxyScope) else list(scope or ()))
    assert grant is not None
    return ActingAs(user=user, beneficiary=beneficiary, proxy=grant, actor=_proxy_actor(user.id, beneficiary_id, request_id))


def standing_columns(*, user: str, beneficiary: str) -> dict[str, RawSQL]:
    """Annotations that read, in the statement that fetches the object itself, what ``acting_judged``
    needs about a user and a beneficiary: whether the person exists, an active self binding, the scopes
    of an active grant. ``user`` and ``beneficiary`` are SQL expressions of that statement (a parameter
    placeholder, an integer, a quoted column): never text from a request."""
    return {
        "standing_person": RawSQL(f'(SELECT COUNT(*) FROM "beneficiary" sp WHERE sp."id" = {beneficiary})'),
        "standing_bound": RawSQL(f'(SELECT COUNT(*) FROM "binding" sb WHERE sb."user_id" = {user} AND sb."beneficiary_id" = {beneficiary} AND sb."status" = \'{BindingStatus.ACTIVE.value}\')'),
        "standing_scopes": RawSQL(f'(SELECT sg."scopes" FROM "proxy_grant" sg WHERE sg."proxy_user_id" = {user} AND sg."beneficiary_id" = {beneficiary} AND sg."status" = \'{ProxyStatus.ACTIVE.value}\' ORDER BY sg."id" LIMIT 1)'),
    }


def acting_judged(row: dict[str, Any], *, user_id: int, beneficiary_id: int, scopes: Sequence[ProxyScope], request_id: str | None = None) -> tuple[Actor, bool]:
    """``acting_for``'s rule on the ``standing_columns`` of a row: (actor, as_proxy), or the same refusal.
    ``scopes``: a proxy holding any of them may act."""
    if not row["standing_person"]:
        raise NotFound("未找到该优抚对象", code="beneficiary_not_found")
    if row["standing_bound"]:
        return _self_actor(user_id, request_id), False
    raw = row["standing_scopes"]
    grant_scopes = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    _refuse_grant(grant_scopes, scopes)
    return _proxy_actor(user_id, beneficiary_id, request_id), True


async def require_self(*, user: MiniUser, beneficiary_id: int, request_id: str | None = None) -> ActingAs:
    """Face checks and confirmations: only the person, never a proxy."""
    acting = await acting_for(user=user, beneficiary_id=beneficiary_id, scope=None, request_id=request_id)
    if acting.as_proxy:
        raise Forbidden("人脸认证须由本人完成，代办人不能代为认证", code="proxy_not_allowed")
    return acting
