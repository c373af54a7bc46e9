"""Response models of the staff confirmation routes (campaigns, records, review queue, notices,
suspensions, deaths and overpayments, spot checks, reports, hardship cases).

The report documents (progress, summary, visits needed, weekly data) publish their top-level fields;
their tables are objects whose columns follow ``server/confirmation/reports.py`` and are left open
(``additionalProperties``), as the XLSX versions of the same tables are.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.confirmation import ConfirmationStatus
from server.http.openapi import list_of
from server.import_jobs import ImportJobError, ImportSummary


class CampaignInfo(BaseModel):
    id: int
    district_id: int
    year: int
    name: str = Field(examples=["2026年度优抚对象确认"])
    status: Literal["draft", "open", "closed"]
    stage: str = Field(description="today's stage (China date)", examples=["implementation"])
    reference_date: date
    publicity: list[date] = Field(description="[start, end]")
    implementation: list[date]
    notice: list[date]
    summary: list[date]
    categories: list[str] | None
    opened_at: datetime | None
    closed_at: datetime | None


class CampaignOpened(BaseModel):
    """Opening a campaign: the status changes at once and a background job adds the people. 200 when the
    job finished within the inline wait, else 202 to poll ``progress_url``; the progress endpoint answers the same."""

    job_id: int
    campaign_id: int
    status: Literal["queued", "running", "done", "failed"]
    created: int = Field(description="pending confirmations added by this job so far")
    expected: int = Field(description="people in scope when the job started (0 until it has counted them)")
    people: int | None = Field(description="everyone in the campaign, once the job is done (a job after an interrupted one adds only whoever was missing)")
    error: ImportJobError | None
    progress_url: str = Field(examples=["/api/campaigns/3/opening/12"])


class ConfirmationInfo(BaseModel):
    id: int
    campaign_id: int
    beneficiary_id: int
    station_id: int
    age_bracket: str
    status: ConfirmationStatus
    method: str | None
    home_visited: bool
    reviewed: bool
    confirmed_at: datetime | None
    failed_attempts: int
    self_service_locked: bool
    recheck_status: str | None
    recheck_note: str
    version: int
    name: str | None = Field(default=None, description="in lists and the detail")
    id_number: str | None = Field(default=None, description="masked")
    phone: str | None = None
    address: str | None = None


class ConfirmationPage(BaseModel):
    items: list[ConfirmationInfo]
    total: int
    page: int


class RecordInfo(BaseModel):
    id: int
    kind: str = Field(examples=["station", "home_visit", "self_service", "review", "recheck"])
    outcome: str
    staff_id: int | None
    user_id: int | None
    at: datetime
    location: str
    notes: str
    changes: dict[str, Any] | list[Any] | None
    has_photo: bool


class ConfirmationDetail(ConfirmationInfo):
    records: list[RecordInfo]


class ReviewItemSummary(BaseModel):
    id: int
    status: Literal["open", "accepted", "rejected"]
    station_id: int
    due_date: date
    overdue: bool
    due_provisional: bool
    beneficiary_id: int
    name: str
    id_number: str = Field(description="masked")
    decision: str
    reasons: list[str]
    reason_texts: list[str]
    best_similarity: float | None
    submitted_at: datetime


class FrameLink(BaseModel):
    index: int
    url: str


class ReferenceLink(BaseModel):
    photo_id: int
    kind: str
    label: str
    url: str
    added_at: datetime


class AttemptSummary(BaseModel):
    id: int
    at: datetime
    decision: str
    reasons: list[str]
    best_similarity: float | None


class ReviewPerson(BaseModel):
    id: int
    name: str
    id_number: str
    birth_date: date
    phone: str
    address: str


class ReviewEvidence(ReviewItemSummary):
    reason: str
    challenge: Any = Field(description="the liveness challenge the person was given")
    scores: dict[str, Any]
    frames: list[FrameLink]
    references: list[ReferenceLink]
    attempts: list[AttemptSummary]
    beneficiary: ReviewPerson


class ReviewDecided(BaseModel):
    id: int
    status: Literal["open", "accepted", "rejected"]


class ContactAttemptInfo(BaseModel):
    id: int
    at: datetime
    staff_id: int | None
    method: str
    method_label: str
    outcome: str
    outcome_label: str
    contact_name: str
    contact_relation: str
    contact_phone: str
    notes: str


class NoticeEntry(BaseModel):
    station: str
    name: str = Field(description="partly hidden")
    id_number: str = Field(description="masked")
    category: str


class NoticeGeneration(BaseModel):
    """The background job that lists the unconfirmed in a new notice. Generating a notice answers 201 with
    the notice when the job finished within the inline wait, else 202 with the notice still generating and
    this job's ``progress_url`` to poll (the progress endpoint answers this model)."""

    job_id: int
    notice_id: int
    status: Literal["queued", "running", "done", "failed"]
    people: int | None = Field(description="people listed, once done")
    error: ImportJobError | None
    progress_url: str = Field(examples=["/api/notices/7/generation/31"])
    notice_url: str = Field(examples=["/api/notices/7"])


class NoticeInfo(BaseModel):
    id: int
    campaign_id: int
    station_id: int | None
    village_id: int | None
    published_on: date | None
    published_at: datetime | None
    published_by_staff_id: int | None
    channels: list[str]
    people: int
    created_at: datetime
    state: Literal["ready", "generating", "failed"] = Field(default="ready", description="generating: its entries are being listed (it cannot be published yet); failed: generate another")
    generation: NoticeGeneration | None = Field(default=None, description="the job that generated it (none for notices generated before such jobs)")


class NoticeMessages(BaseModel):
    """The job that tells the listed people once the notice is published (server/import_jobs.py)."""

    job_id: int
    status: Literal["queued", "running", "done", "failed"]
    handled: int = Field(description="listed people handled so far")
    listed: int
    messages: int = Field(description="messages queued (one per WeChat reader, or one for staff to phone)")
    error: ImportJobError | None


class NoticeDetail(NoticeInfo):
    """One page of the entries (in the notice's order); ``people`` is how many there are in all."""

    entries: list[NoticeEntry]
    page: int
    page_size: int
    messages: NoticeMessages | None = None


class EvidenceInfo(BaseModel):
    id: int
    channel: str
    channel_label: str
    sha256: str
    content_type: str
    note: str
    staff_id: int | None
    uploaded_at: datetime
    file: str


class NoticeWithEvidence(NoticeInfo):
    evidence: list[EvidenceInfo]
    messages: NoticeMessages | None


class ProposalsCreated(BaseModel):
    created: int


class ProposalInfo(BaseModel):
    id: int
    campaign_id: int
    beneficiary_id: int
    station_id: int
    status: Literal["proposed", "approved", "withdrawn"]
    notice_published_on: date
    approved_at: datetime | None
    effective_from: date | None
    name: str | None = None
    id_number: str | None = None
    monthly_amount: str | None = None
    payment_status: str | None = None
    confirmation_status: str | None = None


class ProposalWithContacts(ProposalInfo):
    confirmation_id: int | None
    days_since_notice: int
    contact_attempts: list[ContactAttemptInfo]
    contact_attempt_count: int


class ApprovalResult(BaseModel):
    approved: list[int]
    withdrawn: list[int] = Field(description="withdrawn because the person confirmed meanwhile")
    skipped: list[int]


class ResumptionInfo(BaseModel):
    id: int
    beneficiary_id: int
    suspension_id: int | None
    suspended_from: date
    resume_from: date
    back_pay_months: int
    status: str = Field(examples=["pending", "signed_off"])
    signed_off_at: datetime | None
    name: str | None = None
    id_number: str | None = None
    station_id: int | None = None
    monthly_amount: str | None = None
    payment_status: str | None = None


class DeathImportRow(BaseModel):
    row: int
    status: Literal["recorded", "already_recorded", "unmatched", "rejected", "conflict"]
    reason: str | None = None
    message: str | None = None
    id_number_masked: str | None = None
    beneficiary_id: int | None = None
    death_record_id: int | None = None
    overpaid_months: int | None = None
    overpayment: str | None = None




class DeathImportJob(BaseModel):
    """A death-list import job (server/import_jobs.py): 200 when finished within the inline wait, else 202 to poll."""

    job_id: int
    kind: str = Field(examples=["deaths"])
    status: str = Field(examples=["queued", "running", "done", "failed"])
    filename: str
    file_sha256: str
    processed_rows: int
    total: int
    recorded: int
    already_recorded: int
    unmatched: int
    rejected: int
    conflict: int
    summary: ImportSummary
    error: ImportJobError | None
    rows: list[DeathImportRow]
    progress_url: str = Field(examples=["/api/confirmation/deaths/imports/3"])


class DeathRecordInfo(BaseModel):
    id: int
    beneficiary_id: int
    death_date: date
    source: str
    overpaid_months: int
    overpayment_amount: str
    recovered_amount: str
    outstanding_amount: str
    status: str = Field(examples=["outstanding", "recovered", "none"])
    recorded_at: datetime
    name: str | None = None
    id_number: str | None = None
    station_id: int | None = None
    monthly_amount: str | None = None


class RecoveryInfo(BaseModel):
    id: int
    amount: str
    recovered_on: date
    note: str
    staff_id: int | None


class SpotCheckDrawn(BaseModel):
    id: int
    seed: str = Field(description="publish it: anyone can redraw the same sample")
    sample_size: int
    population: int


class SpotCheckSummary(BaseModel):
    id: int
    seed: str
    sample_size: int
    population: int
    drawn_at: datetime


class SpotCheckStatus(BaseModel):
    campaign_id: int
    spot_checks: list[SpotCheckSummary]
    required_per_year: int
    warning: str | None


class SpotCheckItemInfo(BaseModel):
    id: int
    confirmation_id: int
    station_id: int
    name: str
    id_number: str
    result: str | None
    notes: str


class SpotCheckVerification(BaseModel):
    spot_check_id: int
    seed: str
    sample_size: int
    population: int
    population_now: int
    population_unchanged: bool
    matches: bool = Field(description="redrawing from the seed gives the recorded sample")
    sample: list[Any]
    redrawn: list[Any]


class SpotResult(BaseModel):
    id: int
    result: str | None


class Progress(BaseModel):
    """《年度确认工作进度》: per station and age bracket, with the home-visit quota."""

    model_config = ConfigDict(extra="allow")
    campaign_id: int
    campaign: str
    reference_date: date
    generated_at: datetime
    first_year: bool
    quota: dict[str, Any]
    expected_pct: float | None
    rows: list[dict[str, Any]]
    by_bracket: Any
    totals: dict[str, Any]
    ranking: Any


class VisitsNeeded(BaseModel):
    campaign_id: int
    first_year: bool
    quota: Any
    still_needed: int
    face_to_face_missing: int
    items: list[dict[str, Any]]


class CampaignSummary(BaseModel):
    """The year's summary (the figures of the written summary document)."""

    model_config = ConfigDict(extra="allow")
    campaign_id: int
    campaign: str
    year: int
    stage: str
    status: str
    generated_at: datetime
    people: int
    confirmed: int
    open_problems: dict[str, Any]


class SnapshotInfo(BaseModel):
    id: int
    kind: str
    district_id: int
    period: str
    created_at: datetime
    xlsx: str | None


class SnapshotDetail(SnapshotInfo):
    data: dict[str, Any]


class FollowUpInfo(BaseModel):
    at: datetime
    staff_id: int | None
    note: str
    effect: str
    next_due: date | None


class HardshipCaseInfo(BaseModel):
    id: int
    beneficiary_id: int
    station_id: int
    situation: str
    measures: list[str]
    owner_name: str
    owner_staff_id: int | None
    next_follow_up_due: date
    overdue: bool
    status: str = Field(examples=["open", "closed"])
    outcome: str
    opened_at: datetime
    closed_at: datetime | None
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None
    follow_ups: list[FollowUpInfo] | None = Field(default=None, description="in the detail")


class HardshipPerStation(BaseModel):
    station_id: int
    open: int
    overdue: int


class HardshipCaseList(BaseModel):
    items: list[HardshipCaseInfo]
    per_station: list[HardshipPerStation]


CampaignList = list_of(CampaignInfo)
ConfirmationList = list_of(ConfirmationInfo)
ReviewItemList = list_of(ReviewItemSummary)
ContactAttemptList = list_of(ContactAttemptInfo)
NoticeList = list_of(NoticeInfo)
EvidenceList = list_of(EvidenceInfo)
ProposalList = list_of(ProposalWithContacts, name="ProposalList")
ResumptionList = list_of(ResumptionInfo)
DeathRecordList = list_of(DeathRecordInfo)
RecoveryList = list_of(RecoveryInfo)
SpotCheckItemList = list_of(SpotCheckItemInfo)
SnapshotList = list_of(SnapshotInfo)
