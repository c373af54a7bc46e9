"""Who may see and change whose data: the one place where org scoping is decided.

Station staff see only their station's people; district roles (centre, bureau) their district;
city staff their city; the auditor reads everything under their unit and writes nothing; the admin
sees everything. Services receive a ``Scope`` and filter through it; they never check roles by hand.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from tortoise.queryset import QuerySet
from tortoise.signals import post_delete, post_save

from models.org import OrgKind, OrgUnit
from models.staff import Role
from server.errors import Forbidden, NotFound
from server.kv import KeyValueStore

log = logging.getLogger("server.auth.scope")

WRITE_ROLES = {Role.STATION, Role.CENTRE, Role.BUREAU, Role.CITY, Role.ADMIN}
# Roles that may see a whole ID number (they verify identity in person or sign decisions off).
FULL_ID_ROLES = {Role.STATION, Role.CENTRE, Role.BUREAU, Role.ADMIN}


# The org tree changes a few times a year and is read on every request: each worker keeps the stations
# under each unit it has been asked about, valid while the shared version token (read in the same round
# trip as the session) stays the same. Writers set a fresh token after committing.
ORG_VERSION_KEY = "org:version"


class _Unknown:
    """No version token was read for this scope (jobs, scripts): the tree is read from the database."""


UNKNOWN = _Unknown()


@dataclass
class _Tree:
    version: str | None | _Unknown = UNKNOWN
    stations: dict[int, frozenset[int]] = field(default_factory=dict)


_tree = _Tree()
_store: KeyValueStore | None = None


def attach_store(kv: KeyValueStore) -> None:
    """The store whose version token this process bumps when it changes the org tree."""
    global _store
    _store = kv


def forget_org_tree() -> None:
    _tree.version = UNKNOWN
    _tree.stations.clear()


async def publish_org_change() -> None:
    """After an org unit is written (and committed): every worker re-reads the tree on its next request."""
    forget_org_tree()
    if _store is None:
        return
    try:
        await _store.set(ORG_VERSION_KEY, uuid.uuid4().hex)
    except Exception:  # the store being down: this worker forgot its copy; others keep theirs until it is back
        log.warning("org tree version not published", exc_info=True)


@post_save(OrgUnit)
async def _unit_saved(sender: Any, instance: OrgUnit, created: bool, using_db: Any, update_fields: Any) -> None:
    # Catches every writer (service, seed, factories); the service publishes again after its commit.
    await publish_org_change()


@post_delete(OrgUnit)
async def _unit_deleted(sender: Any, instance: OrgUnit, using_db: Any) -> None:
    await publish_org_change()


async def _cached_stations_under(org_unit_id: int, kind: OrgKind, version: str | None) -> frozenset[int]:
    if _tree.version != version:
        _tree.stations.clear()
        _tree.version = version
    found = _tree.stations.get(org_unit_id)
    if found is None:
        found = frozenset(await _stations_under(org_unit_id, kind))
        if _tree.version == version:  # not moved while we read
            _tree.stations[org_unit_id] = found
    return found


@dataclass
class Scope:
    role: Role
    org_unit_id: int
    org_kind: OrgKind
    _station_ids: frozenset[int] | None = field(default=None, repr=False)
    # The org tree version read with the session; UNKNOWN reads the tree from the database.
    tree_version: str | None | _Unknown = field(default=UNKNOWN, repr=False)

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
            if isinstance(self.tree_version, _Unknown):
                self._station_ids = frozenset(await _stations_under(self.org_unit_id, self.org_kind))
            else:
                self._station_ids = await _cached_stations_under(self.org_unit_id, self.org_kind, self.tree_version)
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
