"""Response models of the registry routes (beneficiaries, photos, imports)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from models.registry import Category, PaymentStatus, PhotoKind
from server.import_jobs import ImportJobError, ImportSummary


class BeneficiaryInfo(BaseModel):
    id: int
    name: str = Field(examples=["周正"])
    id_number: str = Field(description="masked, as every response shows it (the whole number only from .../id-number)", examples=["320723********1234"])
    id_number_masked: str
    birth_date: date
    sex: str = Field(examples=["male"])
    category: Category
    category_label: str = Field(examples=["残疾军人"])
    station_id: int
    village_id: int | None
    address: str
    phone: str
    on_periodic_payment: bool
    monthly_amount: str = Field(description="yuan, as a decimal string", examples=["1580.00"])
    payment_status: PaymentStatus
    payment_status_label: str
    death_date: date | None
    hardship: bool
    hardship_note: str
    lives_away: bool
    version: int = Field(description="send back when updating (optimistic concurrency)")
    updated_at: datetime | None


class BeneficiaryPage(BaseModel):
    items: list[BeneficiaryInfo]
    total: int = Field(description="matching people; when total_capped, at least this many (the count stops at 10,001)")
    total_capped: bool = Field(default=False, description="true when the count stopped at its cap rather than counting a whole province on every page")
    page: int
    page_size: int


class StatusChange(BaseModel):
    from_: PaymentStatus | None = Field(alias="from", serialization_alias="from")
    to: PaymentStatus
    effective_date: date
    reason: str
    at: datetime

    model_config = {"populate_by_name": True}


class PhotoInfo(BaseModel):
    id: int
    kind: PhotoKind
    sha256: str
    content_type: str = Field(examples=["image/jpeg"])
    size_bytes: int
    is_active: bool
    quarantine_reason: str | None = Field(default=None, description="why the photo no longer serves as a reference (python -m server check-photos); the person must send a new one", examples=["corrupt_image"])
    created_at: datetime


class BeneficiaryDetail(BeneficiaryInfo):
    status_history: list[StatusChange]
    photos: list[PhotoInfo]


class RevealedIdNumber(BaseModel):
    id: int
    id_number: str = Field(description="the whole number (audited)")


class ImportRow(BaseModel):
    row: int
    status: str = Field(description="imported, unchanged or rejected", examples=["rejected"])
    reason: str | None = Field(default=None, examples=["bad_checksum"])
    message: str | None = None
    beneficiary_id: int | None = None
    id_number_masked: str | None = None


class ImportProgress(BaseModel):
    job_id: int
    status: str = Field(examples=["running", "done", "failed"])
    filename: str
    file_sha256: str
    processed_rows: int
    total: int
    imported: int
    unchanged: int
    rejected: int
    error: ImportJobError | None
    rows: list[ImportRow]
    progress_url: str = Field(examples=["/api/beneficiaries/imports/3"])


class PhotoImportJob(BaseModel):
    """An ID-photo zip import job (server/import_jobs.py): 200 when finished within the inline wait, else 202 to poll."""

    job_id: int
    kind: str = Field(examples=["photos"])
    status: str = Field(examples=["queued", "running", "done", "failed"])
    filename: str
    file_sha256: str
    processed_rows: int
    total: int
    imported: int
    unchanged: int
    rejected: int
    summary: ImportSummary
    error: ImportJobError | None
    rows: list[ImportRow]
    progress_url: str = Field(examples=["/api/beneficiaries/photos/imports/3"])


