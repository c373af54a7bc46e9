from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from models.base import TimestampedModel
from models.org import OrgUnit


class Role(StrEnum):
    STATION = "station"  # township station staff: their station's people only
    CENTRE = "centre"  # district service centre
    BUREAU = "bureau"  # district bureau (优抚科 / 优待抚恤股)
    CITY = "city"  # city bureau
    AUDITOR = "auditor"  # discipline inspection: reads everything in scope, writes nothing
    ADMIN = "admin"


class Staff(TimestampedModel):
    username = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=64)
    password_hash = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=16)
    org_unit: fields.ForeignKeyRelation[OrgUnit] = fields.ForeignKeyField(
        "models.OrgUnit", related_name="staff", on_delete=fields.RESTRICT
    )
    phone = fields.CharField(max_length=32, default="")
    is_active = fields.BooleanField(default=True)
    failed_login_count = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    last_login_at = fields.DatetimeField(null=True)
    must_change_password = fields.BooleanField(default=False)
    # Staff sign a confidentiality agreement before handling applicants' data (DOMAIN.md, privacy).
    confidentiality_signed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "staff"
        indexes = (("org_unit_id",),)
