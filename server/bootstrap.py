"""First-run set-up: the root org unit and the first admin account."""

from __future__ import annotations

from dataclasses import dataclass

from models.org import OrgKind, OrgUnit
from models.staff import Role, Staff
from server.actors import SYSTEM
from server.audit import service as audit
from server.security.passwords import generate_password, hash_password


@dataclass
class FirstAdmin:
    username: str
    password: str | None  # set only when generated here: shown once, never stored in plaintext


async def ensure_first_admin(*, username: str, password: str | None) -> FirstAdmin | None:
    """Create the first admin if there is no admin yet; returns it, or None if one existed."""
    if await Staff.filter(role=Role.ADMIN).exists():
        return None
    root = await OrgUnit.filter(kind=OrgKind.CITY).order_by("id").first()
    if root is None:
        root = await OrgUnit.create(name="市退役军人事务局", code="CITY", kind=OrgKind.CITY)
    generated = None
    if not password:
        generated = password = generate_password()
    staff = await Staff.create(
        username=username,
        display_name="系统管理员",
        password_hash=hash_password(password),
        role=Role.ADMIN,
        org_unit=root,
        must_change_password=generated is not None,
    )
    await audit.record(actor=SYSTEM, action="staff.first_admin_created", entity_type="staff", entity_id=staff.id, after={"username": username})
    return FirstAdmin(username=username, password=generated)
