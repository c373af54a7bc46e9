"""Response models of the plan's mini-program routes (server/cards/mp_plan_routes.py): the year's
timeline, the linked debit card, withdrawal, appointments to apply on site and the 优待目录.

They mirror what the services build (``timeline.year_timeline``, ``applications.application_json``,
``appointments.slot_json`` / ``appointment_json``, ``catalogue.catalogue_json``), so the document
publishes exactly what the routes answer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from server.miniapp.schemas import CardApplicationInfo

# ---------------------------------------------------------------- the year's timeline


class _Span(BaseModel):
    # ``from`` is a Python keyword: the field is ``from_`` here and ``from`` on the wire (and in the document).
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: date = Field(alias="from")
    to: date


class TimelineBatch(_Span):
    batch: int = Field(examples=[1])
    label: str = Field(examples=["第一批次"])
    current: bool = Field(description="today falls in this batch's acceptance window")


class TimelineStage(_Span):
    stage: Literal["acceptance", "issuance", "cleanup"]
    label: str = Field(examples=["集中受理阶段"])
    current: bool


class ReviewPeriod(_Span):
    enforced: bool = Field(description="applications are refused (outside_review_period) outside the period")


class Timeline(BaseModel):
    year: int
    today: date = Field(description="China date")
    stage: Literal["acceptance", "issuance", "cleanup", "outside"] | None = Field(description="today's stage; null when `year` is not this year")
    batches: list[TimelineBatch]
    stages: list[TimelineStage]
    review_period: ReviewPeriod = Field(description="受理及检查、核实、初审和审核 take place in this period")
    statistics_due_day: int = Field(description="day of the month by which the month's figures are frozen")


# ---------------------------------------------------------------- bank account, withdrawal


class BankAccount(BaseModel):
    bank_name: str = Field(examples=["中国农业银行"])
    account_masked: str = Field(description="only the last four digits are ever shown", examples=["****8901"])


class CardApplicationWithBank(CardApplicationInfo):
    """An application as the holder sees it, with the linked debit card (masked)."""

    bank: BankAccount | None = Field(description="null until a debit card is linked")
    due_provisional: bool = Field(description="the due date may move (the working-day calendar of that year is not published yet)")
    materials_status: Literal["held", "archived", "destroyed"]


# ---------------------------------------------------------------- appointments to apply on site


class ApplicationSlotInfo(BaseModel):
    id: int
    station_id: int
    day: date
    start_time: str = Field(examples=["09:00"], description="China time")
    end_time: str = Field(examples=["10:00"])
    capacity: int
    booked: int
    available: int


class ApplicationSlotList(BaseModel):
    items: list[ApplicationSlotInfo] = Field(description="at the person's station, from today, earliest first; full slots left out")


class ApplicationAppointmentInfo(BaseModel):
    id: int
    slot_id: int
    beneficiary_id: int
    status: Literal["active", "cancelled", "no_show", "checked_in"]
    short_code: str = Field(description="8 characters to tell the clerk on arrival", examples=["K7Q2M9XD"])
    as_proxy: bool
    created_at: datetime


# ---------------------------------------------------------------- 优待目录


class CatalogueItem(BaseModel):
    area: str = Field(examples=["交通出行"])
    content: str = Field(examples=["乘坐市内公交车免费"])
    provider: str = Field(description="who grants it; may be empty", examples=["县交通运输局"])


class Catalogue(BaseModel):
    id: int
    district_id: int
    version: int = Field(description="the latest published version of the district's catalogue")
    title: str = Field(examples=["灌云县优待目录"])
    items: list[CatalogueItem]
    note: str = Field(description="优待证 is not a privilege or free pass: the catalogue is what it covers")
    published_at: datetime
