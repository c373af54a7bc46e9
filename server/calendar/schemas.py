"""Response models of the working-day calendar routes."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class CalendarYearStatus(BaseModel):
    year: int
    basis: str = Field(description="how the year's days are known (official package, confirmed by staff, provisional)")
    basis_label: str
    provisional: bool
    confirmed_by: str | None
    source: str | None


class CalendarOverrideInfo(BaseModel):
    day: date
    is_working_day: bool
    note: str


class CalendarStatus(BaseModel):
    today: date
    years: list[CalendarYearStatus]
    warning: str | None = Field(description="the banner staff see while a year is provisional")
    overrides: list[CalendarOverrideInfo]


class YearConfirmed(BaseModel):
    year: int
    confirmed_by: str | None
    source: str


class DeadlineInfo(BaseModel):
    start: date
    working_days: int
    due: date
    provisional: bool
    basis: str
    basis_label: str = Field(examples=["暂定"])
