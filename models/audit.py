from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class AuditEntry(Model):
    """Append-only: every state change, chained by hash so an edited or removed row is detected."""

    id = fields.BigIntField(primary_key=True)
    seq = fields.BigIntField(unique=True)
    created_at = fields.DatetimeField()
    actor_type = fields.CharField(max_length=16)  # staff / user / system
    actor_id = fields.CharField(max_length=64, null=True)
    actor_role = fields.CharField(max_length=32, null=True)
    # A family member acting for a beneficiary: both identities are recorded.
    on_behalf_of = fields.CharField(max_length=64, null=True)
    action = fields.CharField(max_length=64)
    entity_type = fields.CharField(max_length=48)
    entity_id = fields.CharField(max_length=64, null=True)
    summary: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    request_id = fields.CharField(max_length=64, null=True)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)
    # The district whose data the entry concerns: who may read it (null: county-wide, admin only).
    district_id = fields.IntField(null=True, db_index=True)

    class Meta:
        table = "audit_entry"
        indexes = (("entity_type", "entity_id"),)


class AuditHead(Model):
    """A single row holding the tip of the chain, and locking it serialises appends in commit order."""

    id = fields.IntField(primary_key=True)
    last_seq = fields.BigIntField(default=0)
    last_hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_head"
