"""Response models of the staff notification routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.wechat import NotificationStatus
from server.http.openapi import list_of


class UnsentNotification(BaseModel):
    id: int
    beneficiary_id: int | None
    station_id: int | None
    template_key: str = Field(examples=["card_ready_for_pickup"])
    status: NotificationStatus
    reason: str | None = Field(description="the last error, e.g. no quota or WeChat's refusal")
    attempts: int
    created_at: datetime
    handled_at: datetime | None


UnsentNotificationList = list_of(UnsentNotification)
