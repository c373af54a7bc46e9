from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from models.base import TimestampedModel


class OrgKind(StrEnum):
    CITY = "city"  # 市退役军人事务局
    DISTRICT = "district"  # county/district: service centre and bureau
    STATION = "station"  # township/street service station
    VILLAGE = "village"  # village/community station under a township station


# What kind of unit may sit under what kind: the tree's shape, checked when units are created.
ALLOWED_PARENT: dict[OrgKind, OrgKind | None] = {
    OrgKind.CITY: None,
    OrgKind.DISTRICT: OrgKind.CITY,
    OrgKind.STATION: OrgKind.DISTRICT,
    OrgKind.VILLAGE: OrgKind.STATION,
}


class OrgUnit(TimestampedModel):
    name = fields.CharField(max_length=100)
    code = fields.CharField(max_length=32, unique=True)
    kind = fields.CharEnumField(OrgKind, max_length=16)
    parent: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "models.OrgUnit", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    address = fields.CharField(max_length=200, default="")
    phone = fields.CharField(max_length=32, default="")
    # Shown to beneficiaries beside the address and phone, e.g. "工作日 8:30-12:00，14:00-17:30".
    opening_hours = fields.CharField(max_length=100, default="")

    class Meta:
        table = "org_unit"
        indexes = (("parent_id",),)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"
