"""Response models of the mini-program API: what the routes return and what the OpenAPI publishes.

Every status code travels with its Chinese label (``status`` + ``status_label``) so the front end
shows words without keeping its own copy of the vocabulary.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

# ---------------------------------------------------------------- login, binding, proxies


class Station(BaseModel):
    id: int
    name: str = Field(examples=["伊山镇退役军人服务站"])
    address: str = Field(description="empty when the station has not entered it", examples=["伊山镇人民路12号"])
    phone: str = Field(examples=["0518-88881234"])
    opening_hours: str = Field(examples=["工作日 8:30-12:00，14:00-17:30"])


class StationList(BaseModel):
    items: list[Station]


class BindingInfo(BaseModel):
    id: int
    beneficiary_id: int
    name: str
    id_number: str = Field(description="masked, e.g. 320723********1234")
    station_id: int
    status: str


class ActingForItem(BaseModel):
    proxy_id: int
    beneficiary_id: int
    name: str
    relation: str
    scopes: list[Literal["book", "apply", "collect"]]
    status: Literal["pending", "active"]


class Profile(BaseModel):
    user_id: int
    phone_verified: bool
    self: BindingInfo | None = Field(description="my own binding, or null before binding")
    acting_for: list[ActingForItem]


class LoginResult(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    profile: Profile


class TransferRequested(BaseModel):
    id: int
    status: str


class ProxyGrantInfo(BaseModel):
    id: int
    beneficiary_id: int
    proxy_name: str
    relation: str
    scopes: list[Literal["book", "apply", "collect"]]
    status: Literal["pending", "active", "rejected", "revoked"]
    status_label: str
    approved_via: str | None
    requested_at: datetime
    decided_at: datetime | None
    revoked_by: str | None


class ProxyGrantList(BaseModel):
    items: list[ProxyGrantInfo]


# ---------------------------------------------------------------- my year


class YearConfirmation(BaseModel):
    campaign_id: int
    campaign_name: str
    year: int
    status: Literal["pending", "in_review", "confirmed", "not_found", "deceased", "moved"]
    status_label: str = Field(examples=["未确认"])
    deadline: date = Field(description="last day of the implementation stage: confirm by then")
    stage: Literal["before", "publicity", "implementation", "notice", "after"]
    stage_label: str
    self_service_allowed: bool = Field(description="the person (never a proxy) may confirm online with a face check now")


class YearCard(BaseModel):
    status: Literal["none", "applying", "returned", "approved", "at_centre", "at_station", "delivered"]
    status_label: str = Field(examples=["可预约领取"])
    card_kind: Literal["veteran", "other_beneficiary"] | None
    card_kind_label: str | None
    application_id: int | None
    card_id: int | None
    active_booking_id: int | None


class YearTodo(BaseModel):
    code: Literal["confirm", "confirm_at_station", "wait_review", "apply_card", "fix_application", "book_pickup", "pickup_booked", "add_id_photo"]
    label: str


class YearPerson(BaseModel):
    beneficiary_id: int
    name: str
    relation: str = Field(description="本人, or the relation a proxy gave (子女, 配偶…)")
    acting_as: Literal["self", "proxy"]
    scopes: list[Literal["book", "apply", "collect"]] = Field(description="what a proxy may do; empty for oneself")
    confirmation: YearConfirmation | None = Field(description="null when no confirmation campaign is open for the person")
    card: YearCard
    id_photo_on_file: bool = Field(description="an ID-card photo is on file (needed for the online face check)")
    station: Station | None
    todo: list[YearTodo] = Field(description="what is left to do this year, most urgent first")


class MyYear(BaseModel):
    people: list[YearPerson] = Field(description="me first (when bound), then each person I act for")


# ---------------------------------------------------------------- cards, applications, bookings


class ApplicationForms(BaseModel):
    application_form: bool
    bank_form: bool


class CardApplicationInfo(BaseModel):
    id: int
    beneficiary_id: int
    beneficiary_name: str
    station_id: int
    card_kind: Literal["veteran", "other_beneficiary"]
    card_kind_label: str
    batch: int
    channel: str
    status: Literal["station_check", "centre_verification", "bureau_review", "city_review", "approved", "returned", "withdrawn"]
    status_label: str
    due_date: date | None
    overdue: bool
    return_count: int
    flagged: bool
    problem_note: str
    forms: ApplicationForms
    version: int
    created_at: datetime
    card_id: int | None = Field(description="the card made from this application, once it exists")


class ApplicationStep(BaseModel):
    from_status: str | None
    to_status: str
    to_status_label: str
    action: str
    reason: str
    at: datetime


class CardApplicationDetail(CardApplicationInfo):
    history: list[ApplicationStep]


class CardApplicationList(BaseModel):
    items: list[CardApplicationInfo]


class CardInfo(BaseModel):
    id: int
    application_id: int
    beneficiary_id: int
    beneficiary_name: str
    card_kind: Literal["veteran", "other_beneficiary"]
    card_kind_label: str
    status: Literal["at_centre", "at_station", "delivered"]
    status_label: str
    station: Station
    delivery_due: date | None = Field(description="the station hands the card over by this day")
    delivered_at: datetime | None
    active_booking_id: int | None
    can_book: bool = Field(description="at the station, not yet handed out, and I may book for this person")


class CardList(BaseModel):
    items: list[CardInfo]


class Slot(BaseModel):
    id: int
    station_id: int
    day: date
    start_time: str = Field(examples=["09:00"], description="China time")
    end_time: str = Field(examples=["10:00"])
    starts_at: datetime = Field(description="ISO 8601 with +08:00")
    ends_at: datetime
    capacity: int
    booked: int
    available: int


class SlotList(BaseModel):
    card_id: int
    station: Station
    items: list[Slot]


class BookingInfo(BaseModel):
    id: int
    slot_id: int
    card_id: int
    beneficiary_id: int
    beneficiary_name: str
    status: Literal["active", "cancelled", "no_show", "checked_in"]
    status_label: str
    short_code: str = Field(description="8 characters the clerk can type instead of scanning the QR code")
    as_proxy: bool
    created_at: datetime
    slot: Slot
    station: Station


class BookingList(BaseModel):
    items: list[BookingInfo]


class QrToken(BaseModel):
    token: str = Field(description="encode as a QR code; valid until expires_at")
    expires_at: int = Field(description="Unix seconds")
    short_code: str


# ---------------------------------------------------------------- subscribe messages


class SubscriptionTemplate(BaseModel):
    key: str = Field(examples=["card_ready_for_pickup"])
    template_id: str = Field(description="pass to wx.requestSubscribeMessage({tmplIds})")
    title: str = Field(examples=["优待证领取通知"])
    when_sent: str = Field(examples=["卡片送达服务站、可以领取时通知持证人。"])
    remaining: int = Field(description="messages of this template we may still send to me")
    last_result: str | None
    banned: bool = Field(description="I chose 'always reject' in WeChat: asking again shows no popup")


class Subscriptions(BaseModel):
    templates: list[SubscriptionTemplate]
    remaining: dict[str, int] = Field(description="by template key")


class SubscriptionsRecorded(BaseModel):
    remaining: dict[str, int] = Field(description="by template key, after recording the results")


# ---------------------------------------------------------------- annual confirmation (self-service)


class ConfirmationCampaign(BaseModel):
    id: int
    name: str
    implementation_end: date
    stage: Literal["before", "publicity", "implementation", "notice", "after"]


class ConfirmationStatusView(BaseModel):
    campaign: ConfirmationCampaign | None = Field(description="null when no campaign is open for the person (then nothing else is set)")
    status: Literal["pending", "in_review", "confirmed", "not_found", "deceased", "moved"] | None = None
    method: Literal["home_visit", "station", "self_service"] | None = None
    self_service_allowed: bool | None = None
    self_service_locked: bool | None = None


class FrameLimits(BaseModel):
    min: int
    max: int


class FaceChallenge(BaseModel):
    nonce: str = Field(description="send back as the form field `nonce` with the frames; single use")
    actions: list[str]
    instructions: list[str] = Field(examples=[["请眨眨眼", "请向左转头"]])
    expires_in: int = Field(description="seconds")
    frames: FrameLimits


class FaceAttemptResult(BaseModel):
    attempt_id: int
    decision: Literal["pass", "review", "fail"]
    reasons: list[str]
    reason_texts: list[str]
    guidance: str
    hints: list[str] = Field(default_factory=list, description="what to do differently next time, in plain Chinese (hold the phone at eye level, more light, ...)")
    confirmation_status: Literal["pending", "in_review", "confirmed", "not_found", "deceased", "moved"]
    self_service_locked: bool


# ---------------------------------------------------------------- staff side (proxies, binding transfers)


class StaffProxyGrant(BaseModel):
    id: int
    beneficiary_id: int
    proxy_name: str
    relation: str
    scopes: list[Literal["book", "apply", "collect"]]
    status: Literal["pending", "active", "rejected", "revoked"]
    approved_via: str | None
    requested_at: datetime
    decided_at: datetime | None
    revoked_by: str | None
    beneficiary_name: str | None = Field(default=None, description="in lists only")
    beneficiary_id_number: str | None = Field(default=None, description="masked; in lists only")


class StaffProxyGrantList(BaseModel):
    items: list[StaffProxyGrant]


class BindingTransferItem(BaseModel):
    id: int
    beneficiary_id: int
    name: str
    status: Literal["pending", "approved", "rejected"]
    note: str
    requested_at: datetime


class BindingTransferList(BaseModel):
    items: list[BindingTransferItem]


class BindingTransferDecided(BaseModel):
    id: int
    status: Literal["pending", "approved", "rejected"]
