from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields

from models.base import TimestampedModel
from models.registry import Beneficiary


class MiniUser(TimestampedModel):
    """A WeChat user of the mini-program. The openid and session_key never leave the server."""

    openid = fields.CharField(max_length=64, unique=True)
    unionid = fields.CharField(max_length=64, null=True)
    session_key_encrypted = fields.CharField(max_length=200, null=True)
    phone = fields.CharField(max_length=32, default="")
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "mini_user"


class BindingStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Binding(TimestampedModel):
    """A self binding: this WeChat user is the beneficiary. At most one active binding per person."""

    user: fields.ForeignKeyRelation[MiniUser] = fields.ForeignKeyField("models.MiniUser", related_name="bindings", on_delete=fields.CASCADE)
    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField("models.Beneficiary", related_name="bindings", on_delete=fields.CASCADE)
    status = fields.CharEnumField(BindingStatus, max_length=16, default=BindingStatus.ACTIVE)
    # Equals beneficiary_id while active and NULL afterwards: the unique constraint enforces one
    # active binding per beneficiary in the database itself, on SQLite and PostgreSQL alike.
    active_beneficiary_id = fields.IntField(null=True, unique=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_reason = fields.CharField(max_length=200, default="")

    class Meta:
        table = "binding"
        indexes = (("user_id",), ("beneficiary_id",))


class TransferStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class BindingTransfer(TimestampedModel):
    """A request to move a self binding to another WeChat account: the station decides."""

    user: fields.ForeignKeyRelation[MiniUser] = fields.ForeignKeyField("models.MiniUser", related_name="transfer_requests", on_delete=fields.CASCADE)
    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField("models.Beneficiary", related_name="binding_transfers", on_delete=fields.CASCADE)
    status = fields.CharEnumField(TransferStatus, max_length=16, default=TransferStatus.PENDING)
    note = fields.CharField(max_length=200, default="")
    decided_by_staff_id = fields.IntField(null=True)
    decided_at = fields.DatetimeField(null=True)
    decision_reason = fields.CharField(max_length=200, default="")

    class Meta:
        table = "binding_transfer"
        indexes = (("user_id",), ("beneficiary_id",))


class ProxyStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    REVOKED = "revoked"


class ProxyScope(StrEnum):
    """What a proxy may do for the beneficiary (stored in ProxyGrant.scopes)."""

    BOOK = "book"  # book appointments (card pickup and others)
    APPLY = "apply"  # apply for a preferential card
    COLLECT = "collect"  # collect a card on the holder's behalf


class ProxyApprovedVia(StrEnum):
    """Who approved a proxy: the beneficiary in the mini-program or the station with a document."""

    BENEFICIARY = "beneficiary"
    STATION = "station"


class ProxyRevokedBy(StrEnum):
    """Who ended a proxy grant."""

    PROXY = "proxy"
    BENEFICIARY = "beneficiary"
    STATION = "station"


class ProxyGrant(TimestampedModel):
    """A family member acting for a beneficiary, with scopes (book, apply, collect)."""

    proxy_user: fields.ForeignKeyRelation[MiniUser] = fields.ForeignKeyField("models.MiniUser", related_name="proxy_grants", on_delete=fields.CASCADE)
    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField("models.Beneficiary", related_name="proxies", on_delete=fields.CASCADE)
    proxy_name = fields.CharField(max_length=64)
    relation = fields.CharField(max_length=32)
    scopes: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    status = fields.CharEnumField(ProxyStatus, max_length=16, default=ProxyStatus.PENDING)
    approved_via = fields.CharEnumField(ProxyApprovedVia, max_length=16, null=True)
    approved_by_staff_id = fields.IntField(null=True)
    document_path = fields.CharField(max_length=255, null=True)
    document_sha256 = fields.CharField(max_length=64, null=True)
    decided_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_by = fields.CharEnumField(ProxyRevokedBy, max_length=32, null=True)
    reason = fields.CharField(max_length=200, default="")

    class Meta:
        table = "proxy_grant"
        indexes = (("proxy_user_id",), ("beneficiary_id",))


class SubscriptionQuota(TimestampedModel):
    """Remaining one-time subscribe-message sends a user granted for one template."""

    user: fields.ForeignKeyRelation[MiniUser] = fields.ForeignKeyField("models.MiniUser", related_name="quotas", on_delete=fields.CASCADE)
    template_key = fields.CharField(max_length=48)
    remaining = fields.IntField(default=0)
    last_result = fields.CharField(max_length=16, default="")  # accept / reject / ban / filter
    banned = fields.BooleanField(default=False)

    class Meta:
        table = "subscription_quota"
        unique_together = (("user", "template_key"),)


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    NO_QUOTA = "no_quota"  # the person gave no permission to send: staff phone them instead
    REFUSED = "refused"  # WeChat answered 43101
    FAILED = "failed"  # permanent error
    UNCERTAIN = "uncertain"  # the sender died mid-send: it may or may not have gone out


class Notification(TimestampedModel):
    """The outbox: written in the same transaction as the event, sent later by the worker."""

    user: fields.ForeignKeyNullableRelation[MiniUser] = fields.ForeignKeyField("models.MiniUser", related_name="notifications", null=True, on_delete=fields.SET_NULL)
    beneficiary_id = fields.IntField(null=True)
    station_id = fields.IntField(null=True)
    template_key = fields.CharField(max_length=48)
    context: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    dedupe_key = fields.CharField(max_length=160, unique=True)
    status = fields.CharEnumField(NotificationStatus, max_length=16, default=NotificationStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=300, default="")
    sent_at = fields.DatetimeField(null=True)
    wechat_msgid = fields.CharField(max_length=64, null=True)
    handled_by_staff_id = fields.IntField(null=True)  # staff phoned the person instead
    handled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        indexes = (("status", "next_attempt_at"), ("user_id",), ("beneficiary_id",))


class AttemptOutcome(StrEnum):
    """One send attempt of a subscribe message, as it ended."""

    IN_FLIGHT = "in_flight"
    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    REFUSED = "refused"
    NO_QUOTA = "no_quota"


class NotificationAttempt(TimestampedModel):
    notification: fields.ForeignKeyRelation[Notification] = fields.ForeignKeyField("models.Notification", related_name="attempt_log", on_delete=fields.CASCADE)
    outcome = fields.CharEnumField(AttemptOutcome, max_length=16)
    errcode = fields.IntField(null=True)
    errmsg = fields.CharField(max_length=300, default="")
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification_attempt"
        indexes = (("notification_id",),)
