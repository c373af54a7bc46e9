"""The payments ledger: what the payment system actually paid, month by month, and what was sent to it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields

from models.base import TimestampedModel
from models.registry import Beneficiary


class PaymentFile(TimestampedModel):
    """One monthly payment file imported from the payment system, with its per-row report."""

    filename = fields.CharField(max_length=200)
    file_sha256 = fields.CharField(max_length=64)
    district_id = fields.IntField(null=True)
    staff_id = fields.IntField(null=True)
    total_rows = fields.IntField(default=0)
    recorded = fields.IntField(default=0)
    unchanged = fields.IntField(default=0)
    rejected = fields.IntField(default=0)
    report: fields.JSONField[list[Any]] = fields.JSONField(default=list)

    class Meta:
        table = "payment_file"


class PaymentMonth(TimestampedModel):
    """One month paid to one person (the month is its first day). A month is recorded once: the same
    row in a later file changes nothing, a different amount for it is reported, never overwritten."""

    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField("models.Beneficiary", related_name="payment_months", on_delete=fields.CASCADE)
    month = fields.DateField()
    amount = fields.DecimalField(max_digits=12, decimal_places=2)
    paid_on = fields.DateField(null=True)
    payment_file: fields.ForeignKeyRelation[PaymentFile] = fields.ForeignKeyField("models.PaymentFile", related_name="months", on_delete=fields.RESTRICT)

    class Meta:
        table = "payment_month"
        unique_together = (("beneficiary", "month"),)
        indexes = (("payment_file_id",),)


class ExportKind(StrEnum):
    """Which payment changes an export lists."""

    SUSPENSIONS = "suspensions"
    RESUMPTIONS = "resumptions"


class ExportFormat(StrEnum):
    """The file type of a payment export."""

    XLSX = "xlsx"
    CSV = "csv"


class PaymentExport(TimestampedModel):
    """A suspension or resumption list handed to the payment office: who exported what, when, the file."""

    kind = fields.CharEnumField(ExportKind, max_length=16)
    district_id = fields.IntField()
    staff_id = fields.IntField(null=True)
    file_format = fields.CharEnumField(ExportFormat, max_length=8)
    path = fields.CharField(max_length=255)
    sha256 = fields.CharField(max_length=64)
    row_count = fields.IntField(default=0)
    entries: fields.JSONField[list[Any]] = fields.JSONField(default=list)  # [{record_id, beneficiary_id, effective_month, ...}] without ID numbers

    class Meta:
        table = "payment_export"
