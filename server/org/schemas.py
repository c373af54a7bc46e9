"""Response models of the org routes (units and staff accounts)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.org import OrgKind, OrgUnit
from models.staff import Role, Staff
from server.http.openapi import list_of


class OrgUnitInfo(BaseModel):
    id: int
    name: str = Field(examples=["伊山镇退役军人服务站"])
    code: str = Field(examples=["GY-YS"])
    kind: OrgKind
    parent_id: int | None
    address: str = Field(examples=["伊山镇人民路12号"])
    phone: str = Field(examples=["0518-88881234"])
    opening_hours: str = Field(description="shown in the mini-program", examples=["工作日 8:30-12:00，14:00-17:30"])

    @classmethod
    def of(cls, unit: OrgUnit) -> OrgUnitInfo:
        return cls(id=unit.id, name=unit.name, code=unit.code, kind=unit.kind, parent_id=unit.parent_id, address=unit.address, phone=unit.phone, opening_hours=unit.opening_hours)


class StaffInfo(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    org_unit_id: int
    phone: str
    is_active: bool
    locked_until: datetime | None
    last_login_at: datetime | None

    @classmethod
    def of(cls, staff: Staff) -> StaffInfo:
        return cls(
            id=staff.id,
            username=staff.username,
            display_name=staff.display_name,
            role=staff.role,
            org_unit_id=staff.org_unit_id,
            phone=staff.phone,
            is_active=staff.is_active,
            locked_until=staff.locked_until,
            last_login_at=staff.last_login_at,
        )


OrgUnitList = list_of(OrgUnitInfo, description="a flat list forming a tree via parent_id")
StaffList = list_of(StaffInfo)
