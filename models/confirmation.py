from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.base import TimestampedModel
from models.org import OrgUnit
from models.registry import Beneficiary


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class Campaign(TimestampedModel):
    """A yearly annual-confirmation campaign of one county (district)."""

    district: fields.ForeignKeyRelation[OrgUnit] = fields.ForeignKeyField("models.OrgUnit", related_name="campaigns", on_delete=fields.RESTRICT)
    year = fields.IntField()
    name = fields.CharField(max_length=100)
    reference_date = fields.DateField()  # ages (and so home-visit quotas) are taken on this date
    publicity_start = fields.DateField()
    publicity_end = fields.DateField()
    implementation_start = fields.DateField()
    implementation_end = fields.DateField()
    notice_start = fields.DateField()
    notice_end = fields.DateField()
    summary_start = fields.DateField()
    summary_end = fields.DateField()
    categories: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    status = fields.CharEnumField(CampaignStatus, max_length=16, default=CampaignStatus.DRAFT)
    opened_at = fields.DatetimeField(null=True)
    created_by_staff_id = fields.IntField(null=True)
    closed_at = fields.DatetimeField(null=True)
    closed_by_staff_id = fields.IntField(null=True)

    class Meta:
        table = "campaign"
        unique_together = (("district", "year"),)


class AgeBracket(StrEnum):
    AGE_80_PLUS = "80_plus"
    AGE_70_79 = "70_79"
    UNDER_70 = "under_70"


class ConfirmationStatus(StrEnum):
    PENDING = "pending"
    IN_REVIEW = "in_review"  # a self-service attempt awaits a clerk
    CONFIRMED = "confirmed"
    NOT_FOUND = "not_found"
    DECEASED = "deceased"
    MOVED = "moved"


class ConfirmationMethod(StrEnum):
    HOME_VISIT = "home_visit"
    STATION = "station"
    SELF_SERVICE = "self_service"


class Confirmation(TimestampedModel):
    """One person in one campaign: the state of their confirmation this year."""

    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField("models.Campaign", related_name="confirmations", on_delete=fields.CASCADE)
    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField("models.Beneficiary", related_name="confirmations", on_delete=fields.CASCADE)
    station_id = fields.IntField()  # the station at opening: reports group by it
    age_bracket = fields.CharEnumField(AgeBracket, max_length=16)
    status = fields.CharEnumField(ConfirmationStatus, max_length=16, default=ConfirmationStatus.PENDING)
    method = fields.CharEnumField(ConfirmationMethod, max_length=16, null=True)
    confirmed_at = fields.DatetimeField(null=True)
    confirmed_by_staff_id = fields.IntField(null=True)
    home_visited = fields.BooleanField(default=False)
    reviewed = fields.BooleanField(default=False)  # confirmed by a clerk after a face-check review
    failed_attempts = fields.IntField(default=0)
    self_service_locked = fields.BooleanField(default=False)
    recheck_status = fields.CharField(max_length=16, null=True)  # accepted / questioned (bureau 复核)
    recheck_note = fields.CharField(max_length=300, default="")
    rechecked_by_staff_id = fields.IntField(null=True)
    rechecked_at = fields.DatetimeField(null=True)
    last_reminded_at = fields.DatetimeField(null=True)
    # Out of the count to confirm, with the reason (deceased / moved_out): see quotas.py.
    exclusion = fields.CharField(max_length=16, null=True)
    exclusion_note = fields.CharField(max_length=300, default="")
    version = fields.IntField(default=1)

    class Meta:
        table = "confirmation"
        unique_together = (("campaign", "beneficiary"),)
        indexes = (("campaign_id", "station_id", "status"), ("beneficiary_id",))


class ConfirmationTally(Model):
    """Counts of a campaign confirmations per report key, kept by PostgreSQL triggers (see tally.py).

    Append-only deltas: each statement on confirmation adds its signed counts per key, and a compaction
    folds a campaign rows into one per key. The sum of n over a key is the number of confirmations
    with that key (living away is the beneficiary flag, followed when it changes). Empty text stands
    for no method and no exclusion. Not used on SQLite.
    """

    id = fields.BigIntField(primary_key=True)
    campaign_id = fields.IntField()
    station_id = fields.IntField()
    age_bracket = fields.CharField(max_length=16)
    status = fields.CharField(max_length=16)
    method = fields.CharField(max_length=16, default="")
    home_visited = fields.BooleanField()
    exclusion = fields.CharField(max_length=16, default="")
    lives_away = fields.BooleanField(default=False)  # the beneficiary lives away (长期在外)
    n = fields.BigIntField()

    class Meta:
        table = "confirmation_tally"
        indexes = (("campaign_id", "station_id"),)


class ConfirmationRecord(TimestampedModel):
    """Each event on a confirmation, recorded as it happens (确认一对录入一对)."""

    confirmation: fields.ForeignKeyRelation[Confirmation] = fields.ForeignKeyField("models.Confirmation", related_name="records", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=24)  # home_visit / station / self_service / review / recheck
    outcome = fields.CharField(max_length=24)
    staff_id = fields.IntField(null=True)
    user_id = fields.IntField(null=True)
    happened_at = fields.DatetimeField()
    location = fields.CharField(max_length=200, default="")
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    notes = fields.TextField(default="")
    photo_path = fields.CharField(max_length=255, null=True)
    changes: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)

    class Meta:
        table = "confirmation_record"
        indexes = (("confirmation_id",),)


class FaceDecision(StrEnum):
    """The outcome of one face check (the face library reports it)."""

    PASS = "pass"
    REVIEW = "review"
    FAIL = "fail"


class FaceAttempt(TimestampedModel):
    """One self-service face check: challenge, frames kept as evidence, scores and decision."""

    confirmation: fields.ForeignKeyRelation[Confirmation] = fields.ForeignKeyField("models.Confirmation", related_name="face_attempts", on_delete=fields.CASCADE)
    beneficiary_id = fields.IntField()
    user_id = fields.IntField()
    challenge: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    decision = fields.CharEnumField(FaceDecision, max_length=16)
    reasons: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    scores: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    frame_paths: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    fingerprints: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    embedding = fields.BinaryField(null=True)
    evidence_purge_after = fields.DateField()
    evidence_purged = fields.BooleanField(default=False)

    class Meta:
        table = "face_attempt"
        indexes = (("confirmation_id",), ("beneficiary_id",))


class ReviewStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ReviewItem(TimestampedModel):
    """A face check that did not pass, waiting for a station clerk to decide with the evidence."""

    attempt: fields.ForeignKeyRelation[FaceAttempt] = fields.ForeignKeyField("models.FaceAttempt", related_name="review_items", on_delete=fields.CASCADE)
    confirmation: fields.ForeignKeyRelation[Confirmation] = fields.ForeignKeyField("models.Confirmation", related_name="review_items", on_delete=fields.CASCADE)
    station_id = fields.IntField()
    status = fields.CharEnumField(ReviewStatus, max_length=16, default=ReviewStatus.OPEN)
    due_date = fields.DateField()
    decided_by_staff_id = fields.IntField(null=True)
    decided_at = fields.DatetimeField(null=True)
    reason = fields.CharField(max_length=300, default="")

    class Meta:
        table = "review_item"
        indexes = (("station_id", "status"), ("attempt_id",), ("confirmation_id",))


class PublicNotice(TimestampedModel):
    """The public notice of the unconfirmed, per station or for the whole county (station NULL)."""

    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField("models.Campaign", related_name="notices", on_delete=fields.CASCADE)
    station_id = fields.IntField(null=True)
    village_id = fields.IntField(null=True)  # a village (community) notice: its station is station_id
    published_on = fields.DateField(null=True)  # set by the server when publication is recorded
    published_at = fields.DatetimeField(null=True)
    published_by_staff_id = fields.IntField(null=True)
    channels: fields.JSONField[list[Any]] = fields.JSONField(default=list)  # website / town_board / village_board
    # Notices generated before notice_entry existed kept their entries here, all in one value.
    entries: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    people = fields.IntField(default=0)
    created_by_staff_id = fields.IntField(null=True)

    class Meta:
        table = "public_notice"
        indexes = (("campaign_id",),)


class NoticeEntry(Model):
    """One person listed in a notice, masked as published and frozen when the notice was generated."""

    id = fields.BigIntField(primary_key=True)
    notice: fields.ForeignKeyRelation[PublicNotice] = fields.ForeignKeyField("models.PublicNotice", related_name="entry_rows", on_delete=fields.CASCADE)
    seq = fields.IntField()  # the place in the published list, from 1
    beneficiary_id = fields.IntField()
    station_id = fields.IntField()
    name = fields.CharField(max_length=64)  # masked
    id_number = fields.CharField(max_length=18)  # masked
    category = fields.CharField(max_length=32)

    class Meta:
        table = "notice_entry"
        unique_together = (("notice", "seq"),)
        indexes = (("notice_id", "beneficiary_id"),)


class NoticeEvidence(TimestampedModel):
    """Proof that a notice was posted: the printed notice, a photo of the board, a website capture."""

    notice: fields.ForeignKeyRelation[PublicNotice] = fields.ForeignKeyField("models.PublicNotice", related_name="evidence", on_delete=fields.CASCADE)
    channel = fields.CharField(max_length=16)
    path = fields.CharField(max_length=255)
    sha256 = fields.CharField(max_length=64)
    content_type = fields.CharField(max_length=64)
    note = fields.CharField(max_length=300, default="")
    staff_id = fields.IntField(null=True)

    class Meta:
        table = "notice_evidence"
        indexes = (("notice_id",),)


class ContactAttempt(TimestampedModel):
    """One attempt to reach an unconfirmed person or their family (多种方式联系本人或其家属)."""

    confirmation: fields.ForeignKeyRelation[Confirmation] = fields.ForeignKeyField("models.Confirmation", related_name="contact_attempts", on_delete=fields.CASCADE)
    beneficiary_id = fields.IntField()
    station_id = fields.IntField()
    staff_id = fields.IntField(null=True)
    attempted_at = fields.DatetimeField()  # the server's time when recorded
    method = fields.CharField(max_length=16)  # phone / sms / visit / wechat / letter / other
    outcome = fields.CharField(max_length=16)  # reached / family_reached / no_answer / wrong_number / refused / other
    contact_name = fields.CharField(max_length=64, default="")
    contact_relation = fields.CharField(max_length=32, default="")
    contact_phone = fields.CharField(max_length=32, default="")
    notes = fields.CharField(max_length=500, default="")

    class Meta:
        table = "contact_attempt"
        indexes = (("beneficiary_id",), ("confirmation_id",))


class SuspensionStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"


class SuspensionProposal(TimestampedModel):
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField("models.Campaign", related_name="suspensions", on_delete=fields.CASCADE)
    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField("models.Beneficiary", related_name="suspension_proposals", on_delete=fields.CASCADE)
    station_id = fields.IntField()
    status = fields.CharEnumField(SuspensionStatus, max_length=16, default=SuspensionStatus.PROPOSED)
    notice_published_on = fields.DateField()
    approved_by_staff_id = fields.IntField(null=True)
    approved_at = fields.DatetimeField(null=True)
    effective_from = fields.DateField(null=True)
    payment_export_id = fields.IntField(null=True)  # the export that sent it to the payment office

    class Meta:
        table = "suspension_proposal"
        indexes = (("beneficiary_id",),)
        unique_together = (("campaign", "beneficiary"),)


class Resumption(TimestampedModel):
    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField("models.Beneficiary", related_name="resumptions", on_delete=fields.CASCADE)
    suspension: fields.ForeignKeyRelation[SuspensionProposal] = fields.ForeignKeyField("models.SuspensionProposal", related_name="resumptions", on_delete=fields.CASCADE)
    suspended_from = fields.DateField()
    resume_from = fields.DateField()
    back_pay_months = fields.IntField()
    status = fields.CharField(max_length=16, default="pending")  # pending / signed_off
    signed_off_by_staff_id = fields.IntField(null=True)
    signed_off_at = fields.DatetimeField(null=True)
    payment_export_id = fields.IntField(null=True)

    class Meta:
        table = "resumption"
        indexes = (("beneficiary_id",), ("suspension_id",))


class DeathRecord(TimestampedModel):
    """A death found by cross-checking civil-affairs, police or funeral data."""

    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField("models.Beneficiary", related_name="death_records", on_delete=fields.CASCADE)
    death_date = fields.DateField()
    source = fields.CharField(max_length=32)
    import_sha256 = fields.CharField(max_length=64)
    overpaid_months = fields.IntField(default=0)
    overpayment_amount = fields.DecimalField(max_digits=12, decimal_places=2, default=0)
    recovered_amount = fields.DecimalField(max_digits=12, decimal_places=2, default=0)
    status = fields.CharField(max_length=16, default="none")  # none / outstanding / recovered

    class Meta:
        table = "death_record"
        unique_together = (("beneficiary", "death_date"),)


class OverpaymentRecovery(TimestampedModel):
    death_record: fields.ForeignKeyRelation[DeathRecord] = fields.ForeignKeyField("models.DeathRecord", related_name="recoveries", on_delete=fields.CASCADE)
    amount = fields.DecimalField(max_digits=12, decimal_places=2)
    recovered_on = fields.DateField()
    note = fields.CharField(max_length=200, default="")
    staff_id = fields.IntField(null=True)

    class Meta:
        table = "overpayment_recovery"
        indexes = (("death_record_id",),)


class SpotCheck(TimestampedModel):
    """A random sample of confirmed people drawn after implementation, the seed makes it re-drawable."""

    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField("models.Campaign", related_name="spot_checks", on_delete=fields.CASCADE)
    seed = fields.CharField(max_length=64)
    sample_size = fields.IntField()
    population = fields.IntField()
    drawn_by_staff_id = fields.IntField(null=True)

    class Meta:
        table = "spot_check"
        indexes = (("campaign_id",),)


class SpotCheckItem(TimestampedModel):
    spot_check: fields.ForeignKeyRelation[SpotCheck] = fields.ForeignKeyField("models.SpotCheck", related_name="items", on_delete=fields.CASCADE)
    confirmation: fields.ForeignKeyRelation[Confirmation] = fields.ForeignKeyField("models.Confirmation", related_name="spot_check_items", on_delete=fields.CASCADE)
    station_id = fields.IntField()
    result = fields.CharField(max_length=24, null=True)  # verified / discrepancy / not_reached
    notes = fields.CharField(max_length=300, default="")
    checked_by_staff_id = fields.IntField(null=True)
    checked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "spot_check_item"
        indexes = (("spot_check_id",), ("confirmation_id",))


class SnapshotKind(StrEnum):
    """Which frozen report a snapshot holds."""

    WEEKLY_PROGRESS = "weekly_progress"
    CAMPAIGN_SUMMARY = "campaign_summary"
    CARD_MONTHLY = "card_monthly"


class ReportSnapshot(TimestampedModel):
    """A report as it was when generated (the Friday progress report, summaries)."""

    kind = fields.CharEnumField(SnapshotKind, max_length=32)
    scope_unit_id = fields.IntField()
    period = fields.CharField(max_length=32)
    data: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    xlsx_path = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "report_snapshot"
        unique_together = (("kind", "scope_unit_id", "period"),)


class HardshipCase(TimestampedModel):
    """A person still in hardship after payments (建档立卡): measures, who is responsible, follow-ups."""

    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField("models.Beneficiary", related_name="hardship_cases", on_delete=fields.CASCADE)
    station_id = fields.IntField()
    campaign_id = fields.IntField(null=True)
    situation = fields.TextField()
    measures: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    owner_staff_id = fields.IntField(null=True)
    owner_name = fields.CharField(max_length=64)
    next_follow_up_due = fields.DateField()
    status = fields.CharField(max_length=16, default="open")  # open / closed
    outcome = fields.CharField(max_length=500, default="")
    created_by_staff_id = fields.IntField(null=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "hardship_case"
        indexes = (("station_id", "status"), ("beneficiary_id",))


class HardshipFollowUp(TimestampedModel):
    case: fields.ForeignKeyRelation[HardshipCase] = fields.ForeignKeyField("models.HardshipCase", related_name="follow_ups", on_delete=fields.CASCADE)
    staff_id = fields.IntField(null=True)
    happened_at = fields.DatetimeField()
    note = fields.TextField()
    effect = fields.CharField(max_length=300, default="")
    next_due = fields.DateField(null=True)

    class Meta:
        table = "hardship_follow_up"
        indexes = (("case_id",),)
