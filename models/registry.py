from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields

from models.base import TimestampedModel
from models.org import OrgUnit


class Category(StrEnum):
    DISABLED_SERVICEMAN = "disabled_serviceman"  # 残疾军人
    DISABLED_POLICE = "disabled_police"  # 伤残人民警察
    DISABLED_STATE_OFFICIAL = "disabled_state_official"  # 伤残国家机关工作人员
    DISABLED_FIREFIGHTER = "disabled_firefighter"  # 残疾消防救援人员
    DISABLED_RESERVIST = "disabled_reservist"  # 伤残预备役人员
    DISABLED_MILITIA = "disabled_militia"  # 伤残民兵民工
    OTHER_DUTY_DISABLED = "other_duty_disabled"  # 其他因公伤残人员
    MARTYR_FAMILY = "martyr_family"  # 烈士遗属
    DUTY_DEATH_FAMILY = "duty_death_family"  # 因公牺牲军人遗属
    ILLNESS_DEATH_FAMILY = "illness_death_family"  # 病故军人遗属
    DEMOBILISED_AT_HOME = "demobilised_at_home"  # 在乡老复员军人
    RETURNED_ILL = "returned_ill"  # 带病回乡退伍军人
    WAR_VETERAN = "war_veteran"  # 参战退役人员
    TEST_VETERAN = "test_veteran"  # 参试退役人员
    RURAL_VETERAN_60 = "rural_veteran_60"  # 年满60周岁农村籍退役士兵
    MARTYR_ELDERLY_CHILD = "martyr_elderly_child"  # 烈士老年子女
    VETERAN = "veteran"  # 退役军人 (no periodic payment; may hold a card)
    OTHER = "other"  # 其他


class PaymentStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DECEASED = "deceased"
    STOPPED = "stopped"


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Beneficiary(TimestampedModel):
    name = fields.CharField(max_length=64)
    # The ID number never sits in a row in plaintext: AES-GCM ciphertext, an HMAC for exact lookup,
    # and the masked form shown to roles that do not need the whole number.
    id_number_encrypted = fields.CharField(max_length=128)
    id_number_hash = fields.CharField(max_length=64, unique=True)
    id_number_masked = fields.CharField(max_length=18)
    birth_date = fields.DateField()
    sex = fields.CharEnumField(Sex, max_length=8)
    category = fields.CharEnumField(Category, max_length=32)
    station: fields.ForeignKeyRelation[OrgUnit] = fields.ForeignKeyField(
        "models.OrgUnit", related_name="beneficiaries", on_delete=fields.RESTRICT
    )
    village: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "models.OrgUnit", related_name="village_beneficiaries", null=True, on_delete=fields.SET_NULL
    )
    address = fields.CharField(max_length=200, default="")
    phone = fields.CharField(max_length=32, default="")
    # Periodic pension/subsidy: these people are in scope for annual confirmation.
    on_periodic_payment = fields.BooleanField(default=True)
    monthly_amount = fields.DecimalField(max_digits=10, decimal_places=2, default=0)
    payment_status = fields.CharEnumField(PaymentStatus, max_length=16, default=PaymentStatus.ACTIVE)
    death_date = fields.DateField(null=True)
    # Still in hardship after payments (建档立卡): followed up by the station.
    hardship = fields.BooleanField(default=False)
    hardship_note = fields.TextField(default="")
    lives_away = fields.BooleanField(default=False)
    # Bumped on every update: concurrent edits by two clerks are refused instead of lost.
    version = fields.IntField(default=1)

    class Meta:
        table = "beneficiary"
        indexes = (("station_id", "payment_status"), ("category",), ("name",), ("village_id",), ("station_id", "name", "id"))


class PaymentStatusChange(TimestampedModel):
    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField(
        "models.Beneficiary", related_name="status_history", on_delete=fields.CASCADE
    )
    from_status = fields.CharEnumField(PaymentStatus, max_length=16, null=True)
    to_status = fields.CharEnumField(PaymentStatus, max_length=16)
    effective_date = fields.DateField()
    reason = fields.CharField(max_length=200)
    staff_id = fields.IntField(null=True)

    class Meta:
        table = "payment_status_change"
        indexes = (("beneficiary_id",),)


class PhotoKind(StrEnum):
    ID_CARD = "id_card"  # chip photo of the second-generation ID card
    CONFIRMATION = "confirmation"  # a frame from a successful self-service confirmation
    STATION_CAPTURE = "station_capture"  # taken by staff at the station or on a home visit


class ReferencePhoto(TimestampedModel):
    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField(
        "models.Beneficiary", related_name="photos", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(PhotoKind, max_length=24)
    sha256 = fields.CharField(max_length=64)
    path = fields.CharField(max_length=255)  # relative to the media directory
    content_type = fields.CharField(max_length=32)
    size_bytes = fields.IntField()
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    embedding = fields.BinaryField(null=True)
    quality = fields.FloatField(null=True)
    is_active = fields.BooleanField(default=True)
    added_by_staff_id = fields.IntField(null=True)
    # Set when a stored photo fails the current decode checks: it is no longer a reference (is_active
    # false) and the person must submit a new one. The reason is a machine-readable code.
    quarantined_at = fields.DatetimeField(null=True)
    quarantine_reason = fields.CharField(max_length=64, default="")

    class Meta:
        table = "reference_photo"
        unique_together = (("beneficiary", "sha256"),)


class ImportKind(StrEnum):
    """What an uploaded file imported."""

    REGISTRY = "registry"
    PHOTOS = "photos"
    DEATHS = "deaths"
    # Long writes run on the same job machinery (server/import_jobs.py) without a file.
    CAMPAIGN_OPEN = "campaign_open"
    NOTICE_PUBLISH = "notice_publish"
    NOTICE_GENERATE = "notice_generate"


class ImportBatch(TimestampedModel):
    """One uploaded registry file: kept so a re-import of the same file is recognised."""

    kind = fields.CharEnumField(ImportKind, max_length=32)
    file_sha256 = fields.CharField(max_length=64)
    filename = fields.CharField(max_length=200)
    staff_id = fields.IntField(null=True)
    total_rows = fields.IntField(default=0)
    imported = fields.IntField(default=0)
    unchanged = fields.IntField(default=0)
    rejected = fields.IntField(default=0)
    report: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    # Imports run as background jobs: queued -> running -> done | failed; resumable from processed_rows.
    status = fields.CharField(max_length=16, default="done")
    processed_rows = fields.IntField(default=0)
    error = fields.CharField(max_length=300, default="")
    # The uploaded file kept under the var directory until the job ends (for resuming).
    upload_path = fields.CharField(max_length=300, default="")
    # Outcome counts by the import kind's own statuses (deaths: recorded, conflict ...), kept across resumes.
    outcome_counts: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # A job without a file works on one record (the campaign to fill, the notice to send): its id.
    subject_id = fields.IntField(null=True)

    class Meta:
        table = "import_batch"
