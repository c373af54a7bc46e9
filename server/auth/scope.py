"""Who may see and change whose data: the one place where org scoping is decided.

Station staff see only their station's people; district roles (centre, bureau) their district;
city staff their city; the auditor reads everything under their unit and writes nothing; the admin
sees everything. Services receive a ``Scope`` and filter through it; they never check roles by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.queryset import QuerySet

from models.org import OrgKind, OrgUnit
from models.staff import Role
from server.errors import Forbidden, NotFound

WRITE_ROLES = {Role.STATION, Role.CENTRE, Role.BUREAU, Role.CITY, Role.ADMIN}
# Roles that may see a whole ID number (they verify identity in person or sign decisions off).
FULL_ID_ROLES = {Role.STATION, Role.CENTRE, Role.BUREAU, Role.ADMIN}


@dataclass
class Scope:
    role: Role
    org_unit_id: int
    org_kind: OrgKind
    _station_ids: frozenset[int] | None = field(default=None, repr=False)

    @property
    def is_global(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES

    @property
    def can_see_full_id_number(self) -> bool:
        return self.role in FULL_ID_ROLES

    def require_write(self) -> None:
        if not self.can_write:
            raise Forbidden("只读账号不能修改数据", code="read_only")

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles and self.role != Role.ADMIN:
            raise Forbidden("当前角色无权进行此操作", code="role_not_allowed", allowed=[r.value for r in roles])

    async def station_ids(self) -> frozenset[int] | None:
        """Township stations in scope; ``None`` means every station (admin)."""
        if self.is_global:
            return None
        if self._station_ids is None:
            self._station_ids = frozenset(await _stations_under(self.org_unit_id, self.org_kind))
        return self._station_ids

    async def filter_by_station(self, query: QuerySet, field_name: str = "station_id") -> QuerySet:
        ids = await self.station_ids()
        if ids is None:
            return query
        return query.filter(**{f"{field_name}__in": list(ids)})

    async def contains_station(self, station_id: int) -> bool:
        ids = await self.station_ids()
        return ids is None or station_id in ids

    async def require_station_visible(self, station_id: int) -> None:
        """For an object found by id: out of scope looks exactly like absent (no existence leak)."""
        if not await self.contains_station(station_id):
            raise NotFound()

    async def require_station_writable(self, station_id: int) -> None:
        self.require_write()
        if not await self.contains_station(station_id):
            raise Forbidden("不能操作其他服务站的数据", code="out_of_scope")


async def _stations_under(org_unit_id: int, kind: OrgKind) -> list[int]:
    if kind == OrgKind.STATION:
        return [org_unit_id]
    if kind == OrgKind.VILLAGE:
        unit = await OrgUnit.get(id=org_unit_id)
        return [unit.parent_id] if unit.parent_id else []
    if kind == OrgKind.DISTRICT:
        return await OrgUnit.filter(parent_id=org_unit_id, kind=OrgKind.STATION).values_list("id", flat=True)
    return await OrgUnit.filter(parent__parent_id=org_unit_id, kind=OrgKind.STATION).values_list("id", flat=True)
