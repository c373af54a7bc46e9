"""Response models of the staff card routes (applications, issuance, pickup, statistics, reports,
privacy): what the routes return and what the OpenAPI document publishes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from models.cards import ApplicationStatus, CardKind, CardStatus
from server.cards.mp_schemas import Catalogue, Timeline  # noqa: F401  (the staff routes answer the same)
from server.cards.stats import CATEGORY_COUNTS, COUNTS, RATES
from server.http.openapi import list_of
from server.miniapp.schemas import ApplicationForms


class BankOnFile(BaseModel):
    bank_name: str
    account_masked: str = Field(examples=["6217********1234"])


class StaffCardApplication(BaseModel):
    id: int
    beneficiary_id: int
    station_id: int
    card_kind: CardKind
    card_kind_label: str
    batch: int
    channel: Literal["online", "on_site"]
    status: ApplicationStatus
    status_label: str = Field(examples=["服务站审核"])
    due_date: date | None = Field(description="the current step is due by this day (working days)")
    overdue: bool
    due_provisional: bool = Field(description="the due date was counted on days the calendar has not confirmed (暂定)")
    return_count: int
    flagged: bool
    problem_note: str
    forms: ApplicationForms
    bank: BankOnFile | None
    materials_status: str
    version: int = Field(description="send back with a transition (optimistic concurrency)")
    created_at: datetime


class StaffApplicationStep(BaseModel):
    from_: str | None = Field(alias="from")
    to: str
    action: str
    reason: str
    staff_id: int | None
    user_id: int | None
    at: datetime


class StaffCardApplicationDetail(StaffCardApplication):
    history: list[StaffApplicationStep]


class DamageReport(BaseModel):
    to: Any = Field(description="where the damage report went")
    description: str
    photos: int


class ShipmentInfo(BaseModel):
    id: int
    tracking_number: str
    expected_count: int
    counted_count: int
    envelope_intact: bool
    cards_intact: bool
    status: str = Field(examples=["accepted", "refused"])
    damage_report: DamageReport | None
    discrepancy: int = Field(description="counted minus expected")
    received_at: datetime


class CardReportInfo(BaseModel):
    id: int
    kind: str = Field(examples=["cleanup"])
    kind_label: str
    district_id: int
    title: str
    route: list[str] = Field(description="the offices the report is addressed to")
    shipment_id: int | None
    data: dict[str, Any]
    sha256: str | None
    sent_at: datetime
    received_at: datetime | None


class ShipmentWithReports(ShipmentInfo):
    reports: list[CardReportInfo]


class StationCards(BaseModel):
    station_id: int
    cards: list[int]


class ShipmentSorted(BaseModel):
    shipment: ShipmentWithReports
    stations: list[StationCards] = Field(description="the shipment's card ids per station")


class StaffCardInfo(BaseModel):
    id: int
    application_id: int
    beneficiary_id: int
    station_id: int
    status: CardStatus
    collected_at: datetime | None
    delivery_due: date | None
    delivery_due_provisional: bool
    delivery_overdue: bool
    delivered_at: datetime | None
    delivery_method: str | None
    received_by: str | None
    flagged: bool
    flag_note: str


class StaffSlot(BaseModel):
    id: int
    station_id: int
    day: date
    start_time: str = Field(examples=["09:00"])
    end_time: str = Field(examples=["10:00"])
    capacity: int
    booked: int
    available: int


class StaffBooking(BaseModel):
    id: int
    slot_id: int
    card_id: int
    status: Literal["active", "cancelled", "no_show", "checked_in"]
    short_code: str
    as_proxy: bool
    created_at: datetime


class StaffBookingWithSlot(StaffBooking):
    slot: StaffSlot


class StaffAppointment(BaseModel):
    id: int
    slot_id: int
    beneficiary_id: int
    status: str = Field(examples=["active", "cancelled", "checked_in"])
    short_code: str
    as_proxy: bool
    created_at: datetime


class StaffAppointmentWithSlot(StaffAppointment):
    slot: StaffSlot


class CrossCheckRow(BaseModel):
    row: int
    status: Literal["flagged", "no_open_card_work", "unmatched", "rejected"]
    message: str | None = None
    id_number_masked: str | None = None
    beneficiary_id: int | None = None
    applications: int | None = Field(default=None, description="open applications flagged")
    cards: int | None = Field(default=None, description="undelivered cards flagged")
    bookings_released: int | None = None


class CrossCheckCounts(BaseModel):
    flagged: int
    no_open_card_work: int
    unmatched: int
    rejected: int


class CrossCheckReport(BaseModel):
    counts: CrossCheckCounts
    rows: list[CrossCheckRow]


class DisposalInfo(BaseModel):
    id: int
    application_id: int
    action: Literal["archived", "destroyed"]
    files: list[dict[str, Any]] = Field(description="[{form, sha256}] of the files archived or removed")
    reason: str
    staff_id: int | None
    at: datetime


class StationNoticeInfo(BaseModel):
    id: int
    station_id: int
    kind: str = Field(examples=["cards_ready"])
    message: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class AgreementInfo(BaseModel):
    id: int
    staff_id: int
    signed_on: date
    recorded_by_staff_id: int | None
    has_document: bool
    revoked_at: datetime | None
    recorded_at: datetime


class AgreementRevoked(BaseModel):
    staff_id: int
    revoked: bool


# The statistics table's columns are the counts and rates of server/cards/stats.py, one field each.
_COUNT_FIELDS: dict[str, Any] = {name: (int, ...) for name in COUNTS}
_RATE_FIELDS: dict[str, Any] = {name: (float | None, Field(description="percent, one decimal; null when nobody is eligible")) for name in RATES}
StationStatistics = create_model("StationStatistics", station_id=(int, ...), station=(str, ...), **_COUNT_FIELDS, **_RATE_FIELDS)  # type: ignore[call-overload]
StatisticsTotals = create_model("StatisticsTotals", **_COUNT_FIELDS, **_RATE_FIELDS)  # type: ignore[call-overload]
CategoryStatistics = create_model(  # type: ignore[call-overload]
    "CategoryStatistics",
    category=(str, ...),
    label=(str, ...),
    **{name: (int, ...) for name in CATEGORY_COUNTS},
    application_rate=(float | None, ...),
    delivery_rate=(float | None, ...),
)


class MonthlyStatistics(BaseModel):
    period: str = Field(examples=["2026-03"])
    generated_on: date
    rows: list[StationStatistics]  # type: ignore[valid-type]
    totals: StatisticsTotals  # type: ignore[valid-type]
    categories: list[CategoryStatistics]  # type: ignore[valid-type]


class StationReportStatus(BaseModel):
    station_id: int
    station: str
    submitted_at: datetime | None
    on_time: bool = Field(description="submitted before the freeze day (China time)")
    submitted_by_staff_id: int | None


class DistrictMonth(MonthlyStatistics):
    district_id: int
    district: str
    frozen: bool
    frozen_at: datetime | None = None
    snapshot_id: int | None
    station_reports: list[StationReportStatus]


class StationReportSubmitted(BaseModel):
    id: int
    station_id: int
    period: str
    submitted_at: datetime
    data: StationStatistics  # type: ignore[valid-type]


StaffCardApplicationList = list_of(StaffCardApplication)
ShipmentList = list_of(ShipmentInfo)
StaffCardList = list_of(StaffCardInfo)
StaffSlotList = list_of(StaffSlot)
StaffBookingList = list_of(StaffBookingWithSlot, name="StaffBookingList")
StaffAppointmentList = list_of(StaffAppointmentWithSlot, name="StaffAppointmentList")
DistrictMonthList = list_of(DistrictMonth)
CardReportList = list_of(CardReportInfo)
StationNoticeList = list_of(StationNoticeInfo)
AgreementList = list_of(AgreementInfo)
