"""Response models of the audit routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from server.http.openapi import list_of


class ChainVerification(BaseModel):
    ok: bool = Field(description="false (answered with 409) when an entry was edited, removed or re-hashed")
    checked: int
    first_broken_seq: int | None
    problem: str | None


class AuditEntry(BaseModel):
    seq: int
    at: datetime
    actor_type: str = Field(examples=["staff"])
    actor_id: str | None
    actor_role: str | None
    on_behalf_of: str | None = Field(description="the beneficiary a proxy acted for")
    action: str = Field(examples=["card_application.created"])
    entity_type: str
    entity_id: str | None
    summary: dict[str, Any] = Field(description="what changed (before, after, details), as recorded")
    hash: str


AuditEntryList = list_of(AuditEntry)
