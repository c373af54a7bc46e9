"""Org units (city → district → station → village) and staff accounts."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.org import ALLOWED_PARENT, OrgKind, OrgUnit
from models.staff import Role, Staff
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope, publish_org_change
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.security.passwords import hash_password

# The level of unit a role's account must belong to.
ROLE_UNIT_KIND: dict[Role, set[OrgKind]] = {
    Role.STATION: {OrgKind.STATION},
    Role.CENTRE: {OrgKind.DISTRICT},
    Role.BUREAU: {OrgKind.DISTRICT},
    Role.CITY: {OrgKind.CITY},
    Role.AUDITOR: {OrgKind.CITY, OrgKind.DISTRICT},
    Role.ADMIN: {OrgKind.CITY, OrgKind.DISTRICT},
}
# What a unit may change after creation: the contact details the mini-program shows.
UNIT_CONTACT_FIELDS = ("address", "phone", "opening_hours")


def unit_json(unit: OrgUnit) -> dict[str, Any]:
    return {"id": unit.id, "name": unit.name, "code": unit.code, "kind": unit.kind.value, "parent_id": unit.parent_id, "address": unit.address, "phone": unit.phone, "opening_hours": unit.opening_hours}


async def list_units(*, scope: Scope) -> list[OrgUnit]:
    units = await OrgUnit.all().order_by("id")
    if scope.is_global:
        return units
    visible_stations = await scope.station_ids() or frozenset()
    by_id = {u.id: u for u in units}
    keep: set[int] = set()
    for unit in units:
        station_id = unit.id if unit.kind == OrgKind.STATION else unit.parent_id if unit.kind == OrgKind.VILLAGE else None
        if station_id in visible_stations:
            keep.add(unit.id)
            # ancestors are shown so the tree is navigable
            parent = by_id.get(unit.parent_id) if unit.parent_id else None
            while parent is not None:
                keep.add(parent.id)
                parent = by_id.get(parent.parent_id) if parent.parent_id else None
    return [u for u in units if u.id in keep]


async def create_unit(*, actor: Actor, name: str, code: str, kind: OrgKind, parent_id: int | None, address: str = "", phone: str = "", opening_hours: str = "") -> OrgUnit:
    expected_parent = ALLOWED_PARENT[kind]
    parent = None
    if expected_parent is None:
        if parent_id is not None:
            raise ValidationFailed("市级单位没有上级", code="invalid_parent")
    else:
        if parent_id is None:
            raise ValidationFailed("需要指定上级单位", code="invalid_parent")
        parent = await OrgUnit.get_or_none(id=parent_id)
        if parent is None or parent.kind != expected_parent:
            raise ValidationFailed(f"{kind.value} 的上级必须是 {expected_parent.value}", code="invalid_parent")
    async with in_transaction():
        try:
            unit = await OrgUnit.create(name=name, code=code, kind=kind, parent=parent, address=address, phone=phone, opening_hours=opening_hours)
        except IntegrityError as exc:
            raise Conflict("单位编码已存在", code="duplicate_code") from exc
        await audit.record(actor=actor, action="org_unit.created", entity_type="org_unit", entity_id=unit.id, after=unit_json(unit))
    await publish_org_change()  # again after the commit: a worker may have re-read the tree before it
    return unit


def staff_json(staff: Staff) -> dict[str, Any]:
    return {
        "id": staff.id,
        "username": staff.username,
        "display_name": staff.display_name,
        "role": staff.role.value,
        "org_unit_id": staff.org_unit_id,
        "phone": staff.phone,
        "is_active": staff.is_active,
        "locked_until": staff.locked_until.isoformat() if staff.locked_until else None,
        "last_login_at": staff.last_login_at.isoformat() if staff.last_login_at else None,
    }


async def create_staff(*, actor: Actor, username: str, display_name: str, password: str, role: Role, org_unit_id: int, phone: str = "", must_change_password: bool = True) -> Staff:
    unit = await OrgUnit.get_or_none(id=org_unit_id)
    if unit is None:
        raise NotFound("单位不存在", code="org_unit_not_found")
    if unit.kind not in ROLE_UNIT_KIND[role]:
        raise ValidationFailed(f"角色 {role.value} 的账号不能属于 {unit.kind.value} 级单位", code="role_unit_mismatch")
    async with in_transaction():
        try:
            staff = await Staff.create(
                username=username,
                display_name=display_name,
                password_hash=hash_password(password),
                role=role,
                org_unit=unit,
                phone=phone,
                must_change_password=must_change_password,
            )
        except IntegrityError as exc:
            raise Conflict("用户名已存在", code="duplicate_username") from exc
        await audit.record(actor=actor, action="staff.created", entity_type="staff", entity_id=staff.id, after=staff_json(staff))
    return staff


async def set_staff_active(*, actor: Actor, staff_id: int, active: bool) -> Staff:
    staff = await Staff.get_or_none(id=staff_id)
    if staff is None:
        raise NotFound("账号不存在")
    async with in_transaction():
        before = staff_json(staff)
        staff.is_active = active
        if active:
            staff.locked_until = None
            staff.failed_login_count = 0
        await staff.save()
        await audit.record(actor=actor, action="staff.activated" if active else "staff.deactivated", entity_type="staff", entity_id=staff.id, before=before, after=staff_json(staff))
    return staff


async def list_staff(*, scope: Scope) -> list[Staff]:
    query = Staff.all().order_by("id")
    if not scope.is_global:
        ids = await scope.station_ids() or frozenset()
        query = query.filter(org_unit_id__in=list(ids) + [scope.org_unit_id])
    return await query


async def _require_unit_writable(*, scope: Scope, unit: OrgUnit) -> None:
    """A station's details are kept by that station and by the district above it (and the admin);
    a district's or city's own details only by staff of that unit."""
    scope.require_write()
    if unit.kind == OrgKind.STATION:
        await scope.require_station_writable(unit.id)
    elif unit.kind == OrgKind.VILLAGE:
        await scope.require_station_writable(unit.parent_id or 0)
    elif not scope.is_global and scope.org_unit_id != unit.id:
        raise Forbidden("不能修改其他单位的信息", code="out_of_scope")


async def update_unit_contact(*, scope: Scope, actor: Actor, unit_id: int, changes: dict[str, Any]) -> OrgUnit:
    """Address, phone and opening hours (what the mini-program shows), editable after creation."""
    unit = await OrgUnit.get_or_none(id=unit_id)
    if unit is None:
        raise NotFound("单位不存在", code="org_unit_not_found")
    await _require_unit_writable(scope=scope, unit=unit)
    editable = {key: value for key, value in changes.items() if key in UNIT_CONTACT_FIELDS}
    if not editable:
        return unit
    async with in_transaction():
        before = unit_json(unit)
        for key, value in editable.items():
            setattr(unit, key, value)
        await unit.save(update_fields=list(editable))
        await audit.record(actor=actor, action="org_unit.updated", entity_type="org_unit", entity_id=unit.id, before=before, after=unit_json(unit))
    return unit
