from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields

from models.base import TimestampedModel
from models.org import OrgUnit
from models.registry import Beneficiary


class CardKind(StrEnum):
    VETERAN = "veteran"  # 退役军人优待证
    OTHER_BENEFICIARY = "other_beneficiary"  # 其他优抚对象优待证


class ApplicationStatus(StrEnum):
    STATION_CHECK = "station_check"  # 受理及检查
    CENTRE_VERIFICATION = "centre_verification"  # 核实
    BUREAU_REVIEW = "bureau_review"  # 初审
    CITY_REVIEW = "city_review"  # 审核
    APPROVED = "approved"
    RETURNED = "returned"  # back with the applicant to fix and resubmit
    WITHDRAWN = "withdrawn"


class CardApplication(TimestampedModel):
    beneficiary: fields.ForeignKeyRelation[Beneficiary] = fields.ForeignKeyField("models.Beneficiary", related_name="card_applications", on_delete=fields.CASCADE)
    station_id = fields.IntField()
    card_kind = fields.CharEnumField(CardKind, max_length=24)
    batch = fields.IntField()
    channel = fields.CharField(max_length=16)  # online / on_site
    applicant_user_id = fields.IntField(null=True)
    proxy_user_id = fields.IntField(null=True)
    created_by_staff_id = fields.IntField(null=True)
    status = fields.CharEnumField(ApplicationStatus, max_length=24)
    step_started_on = fields.DateField()
    due_date = fields.DateField(null=True)
    return_count = fields.IntField(default=0)
    flagged = fields.BooleanField(default=False)
    problem_note = fields.CharField(max_length=300, default="")
    problem_report = fields.TextField(default="")
    application_form_path = fields.CharField(max_length=255, null=True)
    bank_form_path = fields.CharField(max_length=255, null=True)
    # Set while the application is open, NULL once approved or withdrawn: the database keeps one
    # open application per person and card kind.
    open_key = fields.CharField(max_length=48, null=True, unique=True)
    version = fields.IntField(default=1)
    # The debit card the preferential card is linked to (关联银行借记卡): account number encrypted.
    bank_name = fields.CharField(max_length=64, default="")
    bank_account_encrypted = fields.CharField(max_length=128, null=True)
    bank_account_masked = fields.CharField(max_length=32, default="")
    materials_status = fields.CharField(max_length=16, default="held")  # held / archived / destroyed

    class Meta:
        table = "card_application"
        indexes = (("status", "due_date"), ("station_id", "status"), ("beneficiary_id",))


class CardReviewStep(TimestampedModel):
    application: fields.ForeignKeyRelation[CardApplication] = fields.ForeignKeyField("models.CardApplication", related_name="steps", on_delete=fields.CASCADE)
    from_status = fields.CharField(max_length=24, null=True)
    to_status = fields.CharField(max_length=24)
    action = fields.CharField(max_length=16)  # submit / pass / return / resubmit / withdraw
    reason = fields.CharField(max_length=500, default="")
    staff_id = fields.IntField(null=True)
    user_id = fields.IntField(null=True)

    class Meta:
        table = "card_review_step"
        indexes = (("application_id",),)


class Shipment(TimestampedModel):
    """A parcel of cards from the card maker, received (or refused) at the service centre."""

    district: fields.ForeignKeyRelation[OrgUnit] = fields.ForeignKeyField("models.OrgUnit", related_name="card_shipments", on_delete=fields.RESTRICT)
    tracking_number = fields.CharField(max_length=64, unique=True)
    expected_count = fields.IntField()
    counted_count = fields.IntField()
    envelope_intact = fields.BooleanField()
    cards_intact = fields.BooleanField()
    status = fields.CharField(max_length=16)  # accepted / refused
    damage_description = fields.TextField(default="")
    damage_photos: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    report_to = fields.CharField(max_length=64, default="")
    received_by_staff_id = fields.IntField()

    class Meta:
        table = "card_shipment"
        indexes = (("district_id",),)


class CardStatus(StrEnum):
    AT_CENTRE = "at_centre"
    AT_STATION = "at_station"  # collected by the station from the centre
    DELIVERED = "delivered"


class Card(TimestampedModel):
    application: fields.OneToOneRelation[CardApplication] = fields.OneToOneField("models.CardApplication", related_name="card", on_delete=fields.CASCADE)
    shipment: fields.ForeignKeyRelation[Shipment] = fields.ForeignKeyField("models.Shipment", related_name="cards", on_delete=fields.RESTRICT)
    beneficiary_id = fields.IntField()
    station_id = fields.IntField()
    status = fields.CharEnumField(CardStatus, max_length=16, default=CardStatus.AT_CENTRE)
    collected_at = fields.DatetimeField(null=True)
    delivery_due = fields.DateField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    delivery_method = fields.CharField(max_length=24, null=True)  # active_delivery / group_issuance / agreed / pickup_appointment
    received_by = fields.CharField(max_length=16, null=True)  # holder / proxy
    receiver_user_id = fields.IntField(null=True)
    delivered_by_staff_id = fields.IntField(null=True)
    # Set by a death or cross-check import (or by hand): the card must not be handed over unchecked.
    flagged = fields.BooleanField(default=False)
    flag_note = fields.CharField(max_length=300, default="")

    class Meta:
        table = "card"
        indexes = (("shipment_id",), ("beneficiary_id",), ("station_id",))


class PickupSlot(TimestampedModel):
    station: fields.ForeignKeyRelation[OrgUnit] = fields.ForeignKeyField("models.OrgUnit", related_name="pickup_slots", on_delete=fields.RESTRICT)
    day = fields.DateField()
    start_time = fields.CharField(max_length=5)
    end_time = fields.CharField(max_length=5)
    capacity = fields.IntField()
    booked = fields.IntField(default=0)

    class Meta:
        table = "pickup_slot"
        unique_together = (("station", "day", "start_time"),)


class BookingStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    CHECKED_IN = "checked_in"


class Booking(TimestampedModel):
    slot: fields.ForeignKeyRelation[PickupSlot] = fields.ForeignKeyField("models.PickupSlot", related_name="bookings", on_delete=fields.RESTRICT)
    card: fields.ForeignKeyRelation[Card] = fields.ForeignKeyField("models.Card", related_name="bookings", on_delete=fields.CASCADE)
    user_id = fields.IntField()
    as_proxy = fields.BooleanField(default=False)
    status = fields.CharEnumField(BookingStatus, max_length=16, default=BookingStatus.ACTIVE)
    idempotency_key = fields.CharField(max_length=80)
    # The card id while active, NULL afterwards: one active booking per card, enforced by the database.
    active_card_id = fields.IntField(null=True, unique=True)
    short_code = fields.CharField(max_length=8, unique=True)
    reminder_queued = fields.BooleanField(default=False)

    class Meta:
        table = "booking"
        indexes = (("card_id",), ("slot_id",))
        unique_together = (("user_id", "idempotency_key"),)


# ---- the plan's additions: on-site application appointments, reports sent up, station notices,
# station monthly reports, confidentiality agreements, disposal of materials, the 优待目录.


class ApplicationSlot(TimestampedModel):
    """A time at the station for applying in person (预约…申请现场平稳有序), shaped like pickup slots."""

    station: fields.ForeignKeyRelation[OrgUnit] = fields.ForeignKeyField("models.OrgUnit", related_name="application_slots", on_delete=fields.RESTRICT)
    day = fields.DateField()
    start_time = fields.CharField(max_length=5)
    end_time = fields.CharField(max_length=5)
    capacity = fields.IntField()
    booked = fields.IntField(default=0)

    class Meta:
        table = "card_application_slot"
        unique_together = (("station", "day", "start_time"),)


class ApplicationAppointment(TimestampedModel):
    slot: fields.ForeignKeyRelation[ApplicationSlot] = fields.ForeignKeyField("models.ApplicationSlot", related_name="appointments", on_delete=fields.RESTRICT)
    beneficiary_id = fields.IntField()
    user_id = fields.IntField()
    as_proxy = fields.BooleanField(default=False)
    status = fields.CharEnumField(BookingStatus, max_length=16, default=BookingStatus.ACTIVE)
    idempotency_key = fields.CharField(max_length=80)
    # The beneficiary id while active, NULL afterwards: one active appointment per person.
    active_beneficiary_id = fields.IntField(null=True, unique=True)
    short_code = fields.CharField(max_length=8, unique=True)

    class Meta:
        table = "card_application_appointment"
        unique_together = (("user_id", "idempotency_key"),)
        indexes = (("slot_id",),)


class CardReport(TimestampedModel):
    """A document produced by the card work and sent up the chain (refused or short shipments,
    the November clean-up, the written report of difficult cases)."""

    kind = fields.CharField(max_length=32)  # shipment_refused / shipment_discrepancy / cleanup / difficult_cases
    district_id = fields.IntField()
    title = fields.CharField(max_length=200)
    path = fields.CharField(max_length=255)
    sha256 = fields.CharField(max_length=64)
    # Who it goes to, level by level (逐级上报): e.g. ["市退役军人事务局", "省退役军人服务中心"].
    route: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    shipment_id = fields.IntField(null=True)
    data: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_by_staff_id = fields.IntField(null=True)
    received_by_staff_id = fields.IntField(null=True)  # the city bureau's acknowledgement
    received_at = fields.DatetimeField(null=True)

    class Meta:
        table = "card_report"
        indexes = (("district_id", "kind"),)


class StationNotice(TimestampedModel):
    """A message to the staff of a station (cards ready to collect at the centre)."""

    station_id = fields.IntField()
    kind = fields.CharField(max_length=32)
    message = fields.CharField(max_length=300)
    data: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    dedupe_key = fields.CharField(max_length=80, unique=True)
    read_at = fields.DatetimeField(null=True)
    read_by_staff_id = fields.IntField(null=True)

    class Meta:
        table = "card_station_notice"
        indexes = (("station_id", "read_at"),)


class StationMonthlyReport(TimestampedModel):
    """The 推进情况统计 of a station for a month, as submitted (due before the 20th)."""

    station_id = fields.IntField()
    period = fields.CharField(max_length=7)  # YYYY-MM
    submitted_by_staff_id = fields.IntField()
    data: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)

    class Meta:
        table = "card_station_report"
        unique_together = (("station_id", "period"),)


class ConfidentialityAgreement(TimestampedModel):
    """A signed 保密协议: required before a staff member sees the personal data of applicants."""

    staff_id = fields.IntField(db_index=True)
    signed_on = fields.DateField()
    recorded_by_staff_id = fields.IntField()
    document_path = fields.CharField(max_length=255, null=True)
    document_sha256 = fields.CharField(max_length=64, default="")
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "confidentiality_agreement"


class MaterialDisposal(TimestampedModel):
    """Archive or destruction of the paper/electronic materials of an application (依规归档或销毁)."""

    application_id = fields.IntField(db_index=True)
    action = fields.CharField(max_length=16)  # archived / destroyed
    files: fields.JSONField[list[Any]] = fields.JSONField(default=list)  # [{"form": ..., "sha256": ...}]
    reason = fields.CharField(max_length=300)
    staff_id = fields.IntField()

    class Meta:
        table = "card_material_disposal"


class PrivilegeCatalogue(TimestampedModel):
    """The 优待目录 of a district, published to card holders in the mini-program."""

    district_id = fields.IntField()
    version = fields.IntField()
    title = fields.CharField(max_length=200)
    items: fields.JSONField[list[Any]] = fields.JSONField(default=list)  # [{"area": "交通出行", "content": "...", "provider": "..."}]
    published_by_staff_id = fields.IntField()

    class Meta:
        table = "privilege_catalogue"
        unique_together = (("district_id", "version"),)
