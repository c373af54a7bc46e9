"""The working-day calendar maintained by administrators: single-day exceptions and confirmed years."""

from __future__ import annotations

from tortoise import fields

from models.base import TimestampedModel


class CalendarOverride(TimestampedModel):
    """One day whose status an administrator has set from the State Council notice: a holiday or a make-up working weekend."""

    day = fields.DateField(unique=True)
    is_working_day = fields.BooleanField()
    note = fields.CharField(max_length=100, default="")

    class Meta:
        table = "calendar_override"


class CalendarYear(TimestampedModel):
    """A year whose arrangement an administrator has checked against the State Council notice.

    Until a year is confirmed, days the holiday package only estimates are provisional."""

    year = fields.IntField(unique=True)
    confirmed_by = fields.CharField(max_length=64)
    source = fields.CharField(max_length=200, default="", description="the notice, e.g. 国办发明电〔2026〕x号")

    class Meta:
        table = "calendar_year"
