"""Response models of the staff session routes (what they return and what the OpenAPI publishes)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.org import OrgKind
from models.staff import Role


class StaffSessionInfo(BaseModel):
    staff_id: int
    username: str
    role: Role
    org_unit_id: int
    org_kind: OrgKind
    csrf_token: str = Field(description="echo as X-CSRF-Token on writes made with the session cookie")
    expires_at: float = Field(description="Unix time the session ends")


class StaffLoginResult(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>` (also set as the HttpOnly cookie)")
    session: StaffSessionInfo


class PasswordChanged(StaffLoginResult):
    ok: bool = True


LOGIN_EXAMPLE = {
    "token": "k3J…",
    "session": {"staff_id": 7, "username": "yishan01", "role": "station", "org_unit_id": 12, "org_kind": "station", "csrf_token": "f0c…", "expires_at": 1795000000.0},
}
