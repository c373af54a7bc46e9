"""Response models of the payments ledger routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from server.http.openapi import list_of


class PaymentFileRow(BaseModel):
    row: int = Field(description="the row in the file (1 is the header)")
    status: Literal["recorded", "already_recorded", "amount_differs", "unmatched", "rejected"]
    message: str | None = None
    id_number_masked: str | None = None
    month: str | None = Field(default=None, examples=["2026-03"])
    amount: str | None = Field(default=None, examples=["1580.00"])
    beneficiary_id: int | None = None


class PaymentFileImported(BaseModel):
    id: int
    filename: str
    file_sha256: str
    total: int
    recorded: int
    already_recorded: int
    amount_differs: int
    unmatched: int
    rejected: int
    overpayments_changed: int = Field(description="death records whose overpayment figure changed")
    rows: list[PaymentFileRow]


class PaymentFileInfo(BaseModel):
    id: int
    filename: str
    file_sha256: str
    staff_id: int | None
    imported_at: datetime
    total: int
    recorded: int
    unchanged: int
    rejected: int


class PaymentFileDetail(PaymentFileInfo):
    rows: list[PaymentFileRow]


class PaidMonth(BaseModel):
    month: str = Field(examples=["2026-03"])
    amount: str = Field(examples=["1580.00"])
    paid_on: str | None
    payment_file_id: int | None


class ExportEntry(BaseModel):
    record_id: int
    beneficiary_id: int
    name: str
    id_number_masked: str
    station: str
    action: str
    effective_month: str
    monthly_amount: str
    back_pay_months: int
    approved_at: str = Field(description="ISO time the change was approved or signed off")
    reference: str = Field(examples=["SP12"])


class PaymentExportInfo(BaseModel):
    id: int
    kind: Literal["suspensions", "resumptions"]
    format: Literal["xlsx", "csv"]
    staff_id: int | None
    exported_at: datetime
    rows: int
    sha256: str | None
    file: str = Field(description="where to download the file again")


class PaymentExportDetail(PaymentExportInfo):
    entries: list[ExportEntry]


PaymentFileList = list_of(PaymentFileInfo)
PaidMonthList = list_of(PaidMonth)
PaymentExportList = list_of(PaymentExportInfo)
