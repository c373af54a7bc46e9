"""Who is acting: a staff member, a mini-program user (possibly for someone else), or the system."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    type: str  # "staff" | "user" | "system"
    id: str | None
    role: str | None = None
    # A family member acting for a beneficiary: the beneficiary's id; the proxy is ``id``.
    on_behalf_of: str | None = None
    request_id: str | None = None


SYSTEM = Actor(type="system", id=None, role="system")
