from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, json

from models.confirmation import AgeBracket, ConfirmationStatus, ReviewStatus
from models.registry import Category
from models.staff import Role
from server import import_jobs, media
from server.auth.guard import staff_required
from server.confirmation import campaigns, contact_attempts, quotas, records, review
from server.confirmation import schemas as s
from server.errors import BadRequest, NotFound, PayloadTooLarge
from server.http.openapi import staff_contract
from server.http.validation import api, parse_json, parse_json_text

bp = Blueprint("confirmation", url_prefix="/api")


class CampaignBody(BaseModel):
    year: int = Field(ge=2020, le=2100)
    name: str | None = Field(default=None, max_length=100)
    district_id: int | None = None
    dates: campaigns.CampaignDates | None = Field(default=None, description="omit for the standard calendar (publicity 10-10, implementation 10-16..11-30, notice 12-01..01-29)")
    categories: list[Category] | None = None


class ConfirmationsQuery(BaseModel):
    station_id: int | None = None
    status: ConfirmationStatus | None = None
    age_bracket: AgeBracket | None = None
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=50, ge=1, le=500)


class PersonUpdatesBody(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    id_number: str | None = Field(default=None, min_length=18, max_length=18)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ]*$")
    address: str | None = Field(default=None, max_length=200)
    hardship: bool | None = None
    hardship_note: str | None = Field(default=None, max_length=1000)


class StationConfirmBody(BaseModel):
    id_card_checked: bool = Field(description="the clerk checked the ID card in person")
    notes: str = Field(default="", max_length=1000)
    updates: PersonUpdatesBody = Field(default_factory=PersonUpdatesBody)

    @model_validator(mode="after")
    def _card_checked(self) -> StationConfirmBody:
        if not self.id_card_checked:
            raise ValueError("id_card_checked must be true: the ID card is checked in person")
        return self


class HomeVisitBody(BaseModel):
    outcome: Literal["confirmed", "not_found", "death_reported", "moved_away"]
    visited_at: datetime
    visitors: str = Field(min_length=1, max_length=100, description="who visited")
    notes: str = Field(default="", max_length=1000)
    location: str = Field(default="", max_length=200)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    death_date: date | None = None
    updates: PersonUpdatesBody = Field(default_factory=PersonUpdatesBody)


class RecheckBody(BaseModel):
    accepted: bool
    note: str = Field(default="", max_length=300)


class ReviewQuery(BaseModel):
    status: ReviewStatus | None = ReviewStatus.OPEN
    overdue: bool = False
    station_id: int | None = None


class ReviewDecisionBody(BaseModel):
    accept: bool
    reason: str = Field(default="", max_length=300)

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> ReviewDecisionBody:
        if not self.accept and len(self.reason.strip()) < 2:
            raise ValueError("a rejection needs a written reason")
        return self


class ContactAttemptBody(BaseModel):
    method: Literal["phone", "sms", "visit", "wechat", "letter", "other"]
    outcome: Literal["reached", "family_reached", "no_answer", "wrong_number", "refused", "other"]
    contact_name: str = Field(default="", max_length=64, description="who was reached or tried (the person or a family member)")
    contact_relation: str = Field(default="", max_length=32, description="本人 / 儿子 / 女儿 / 配偶 ...")
    contact_phone: str = Field(default="", max_length=32, pattern=r"^[0-9+\- ]*$", description="the family contact phone used")
    notes: str = Field(default="", max_length=500)


class MovedOutBody(BaseModel):
    note: str = Field(min_length=2, max_length=300, description="where the file moved to, and on what basis")


def _multipart_json(request: Request, model: type[BaseModel]) -> BaseModel:
    """Record endpoints take JSON, or multipart with the JSON in a `data` field plus a `photo`."""
    if request.content_type.startswith("multipart/form-data"):
        raw = request.form.get("data") if request.form else None
        if raw is None:
            raise BadRequest("缺少 data 字段", code="missing_data")
        return parse_json_text(raw, model)
    return parse_json(request, model)


def _photo(request: Request) -> bytes | None:
    upload = request.files.get("photo") if request.files else None
    if upload is None:
        return None
    if len(upload.body) > request.app.ctx.settings.uploads.max_image_bytes:
        raise PayloadTooLarge("照片过大", code="image_too_large")
    return upload.body


def _updates(body: PersonUpdatesBody) -> records.PersonUpdates:
    return records.PersonUpdates(**body.model_dump())


@bp.post("/campaigns")
@staff_contract(response=s.CampaignInfo, status=201, errors={403: ["out_of_scope"], 404: ["district_not_found"], 409: ["campaign_exists"], 422: ["district_required", "campaign_dates_out_of_order"]}, body=True, roles=True, write=True)
@api(summary="Create a yearly confirmation campaign for a county (bureau)", tag="confirmation", json=CampaignBody)
@staff_required(Role.BUREAU, write=True)
async def create_campaign(request: Request, body: CampaignBody) -> HTTPResponse:
    campaign = await campaigns.create_campaign(scope=request.ctx.scope, actor=request.ctx.actor, year=body.year, name=body.name, district_id=body.district_id, dates=body.dates, categories=body.categories)
    return json(campaigns.campaign_json(campaign), status=201, ensure_ascii=False)


@bp.get("/campaigns")
@staff_contract(response=s.CampaignList)
@api(summary="Campaigns in scope", tag="confirmation")
@staff_required()
async def list_campaigns(request: Request) -> HTTPResponse:
    return json({"items": [campaigns.campaign_json(c) for c in await campaigns.list_campaigns(scope=request.ctx.scope)]}, ensure_ascii=False)


@bp.get("/campaigns/<campaign_id:int>")
@staff_contract(response=s.CampaignInfo, errors={404: ["campaign_not_found"]}, path_ids=["campaign_id"])
@api(summary="One campaign with its current stage", tag="confirmation")
@staff_required()
async def get_campaign(request: Request, campaign_id: int) -> HTTPResponse:
    return json(campaigns.campaign_json(await campaigns.get_campaign(scope=request.ctx.scope, campaign_id=campaign_id)), ensure_ascii=False)


@bp.post("/campaigns/<campaign_id:int>/open")
@staff_contract(response=s.CampaignOpened, errors={403: ["out_of_scope"], 404: ["campaign_not_found"], 409: ["campaign_already_open", "campaign_closed"]}, roles=True, write=True, path_ids=["campaign_id"])
@api(
    summary="Open the campaign: a background job adds a pending confirmation for everyone in scope",
    description="200 when the job finished within a moment, else 202 with job_id and progress_url to poll. Asking again while it runs answers the same job.",
    tag="confirmation",
)
@staff_required(Role.BUREAU, write=True)
async def open_campaign(request: Request, campaign_id: int) -> HTTPResponse:
    settings = request.app.ctx.settings
    job = await campaigns.start_opening(scope=request.ctx.scope, actor=request.ctx.actor, campaign_id=campaign_id, settings=settings)
    job = await import_jobs.wait_for(job, settings.uploads.import_inline_wait_seconds)
    return json(campaigns.opening_json(job), status=200 if job.status == "done" else 202)


@bp.get("/campaigns/<campaign_id:int>/opening/<job_id:int>")
@staff_contract(response=s.CampaignOpened, errors={404: ["job_not_found", "campaign_not_found"]}, path_ids=["campaign_id", "job_id"])
@api(summary="Progress of a campaign-opening job: people added of those expected", tag="confirmation")
@staff_required()
async def opening_progress(request: Request, campaign_id: int, job_id: int) -> HTTPResponse:
    job = await campaigns.opening_job(scope=request.ctx.scope, job_id=job_id)
    if job.subject_id != campaign_id:
        raise NotFound("任务不存在", code="job_not_found")
    return json(campaigns.opening_json(job))


@bp.get("/campaigns/<campaign_id:int>/confirmations")
@staff_contract(response=s.ConfirmationPage, errors={404: ["campaign_not_found"]}, query=True, path_ids=["campaign_id"])
@api(summary="Confirmations of a campaign in scope (filter by station, status, age bracket)", tag="confirmation", query=ConfirmationsQuery)
@staff_required()
async def list_confirmations(request: Request, campaign_id: int, query: ConfirmationsQuery) -> HTTPResponse:
    items, total = await campaigns.list_confirmations(scope=request.ctx.scope, campaign_id=campaign_id, **query.model_dump())
    return json({"items": [campaigns.confirmation_json(c, c.beneficiary) for c in items], "total": total, "page": query.page}, ensure_ascii=False)


@bp.get("/campaigns/<campaign_id:int>/needs-contact")
@staff_contract(response=s.ConfirmationList, errors={404: ["campaign_not_found"]}, path_ids=["campaign_id"])
@api(summary="People self-service could not confirm (locked, failing, rejected): contact them", tag="confirmation")
@staff_required()
async def needs_contact(request: Request, campaign_id: int) -> HTTPResponse:
    await campaigns.get_campaign(scope=request.ctx.scope, campaign_id=campaign_id)
    rows = await review.needs_contact(scope=request.ctx.scope, campaign_id=campaign_id, max_failures_per_day=request.app.ctx.settings.confirmation.max_failed_attempts_per_day)
    return json({"items": [campaigns.confirmation_json(c, c.beneficiary) for c in rows]}, ensure_ascii=False)


@bp.get("/confirmations/<confirmation_id:int>")
@staff_contract(response=s.ConfirmationDetail, errors={404: ["confirmation_not_found"]}, path_ids=["confirmation_id"])
@api(summary="One confirmation with its record history", tag="confirmation")
@staff_required()
async def get_confirmation(request: Request, confirmation_id: int) -> HTTPResponse:
    c = await records.get_confirmation(scope=request.ctx.scope, confirmation_id=confirmation_id)
    return json({**campaigns.confirmation_json(c, c.beneficiary), "records": [records.record_json(r) for r in await records.history(confirmation_id=c.id)]}, ensure_ascii=False)


@bp.post("/confirmations/<confirmation_id:int>/station")
@staff_contract(response=s.ConfirmationInfo, errors={400: ["missing_data"], 413: ["image_too_large"], 403: ["out_of_scope"], 404: ["confirmation_not_found"], 409: ["campaign_closed", "beneficiary_deceased", "version_conflict"]}, body=True, roles=True, write=True, path_ids=["confirmation_id"])
@api(summary="Record a confirmation at the station (ID card checked in person; optional photo becomes a reference)", tag="confirmation", json=StationConfirmBody, parse_body=False, description="JSON, or multipart with the JSON in `data` and an optional `photo`.")
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def station_confirm(request: Request, confirmation_id: int) -> HTTPResponse:
    parsed = _multipart_json(request, StationConfirmBody)
    c = await records.record_station_confirmation(scope=request.ctx.scope, actor=request.ctx.actor, confirmation_id=confirmation_id, notes=parsed.notes, updates=_updates(parsed.updates), photo=_photo(request), media_dir=request.app.ctx.settings.media_dir)
    return json(campaigns.confirmation_json(c), ensure_ascii=False)


@bp.post("/confirmations/<confirmation_id:int>/home-visit")
@staff_contract(response=s.ConfirmationInfo, errors={400: ["missing_data"], 413: ["image_too_large"], 403: ["out_of_scope"], 404: ["confirmation_not_found"], 409: ["campaign_closed", "beneficiary_deceased", "version_conflict"], 422: ["bad_visit_outcome", "death_date_required"]}, body=True, roles=True, write=True, path_ids=["confirmation_id"])
@api(summary="Record a home visit (confirmed / not found / death reported / moved away)", tag="confirmation", json=HomeVisitBody, parse_body=False, description="JSON, or multipart with the JSON in `data` and an optional `photo`.")
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def home_visit(request: Request, confirmation_id: int) -> HTTPResponse:
    parsed = _multipart_json(request, HomeVisitBody)
    visit = records.HomeVisit(**{**parsed.model_dump(exclude={"updates"}), "updates": _updates(parsed.updates)})
    c = await records.record_home_visit(scope=request.ctx.scope, actor=request.ctx.actor, confirmation_id=confirmation_id, visit=visit, photo=_photo(request), media_dir=request.app.ctx.settings.media_dir)
    return json(campaigns.confirmation_json(c), ensure_ascii=False)


@bp.post("/confirmations/<confirmation_id:int>/recheck")
@staff_contract(response=s.ConfirmationInfo, errors={403: ["out_of_scope"], 404: ["confirmation_not_found"], 409: ["not_confirmed", "version_conflict"]}, body=True, roles=True, write=True, path_ids=["confirmation_id"])
@api(summary="Bureau re-check (复核) of a recorded confirmation: accepted or questioned", tag="confirmation", json=RecheckBody)
@staff_required(Role.BUREAU, write=True)
async def recheck(request: Request, confirmation_id: int, body: RecheckBody) -> HTTPResponse:
    c = await records.recheck(scope=request.ctx.scope, actor=request.ctx.actor, confirmation_id=confirmation_id, accepted=body.accepted, note=body.note)
    return json(campaigns.confirmation_json(c), ensure_ascii=False)


@bp.get("/review-items")
@staff_contract(response=s.ReviewItemList, query=True)
@api(summary="The face-review queue in scope (overdue=true lists items past their due date, up the chain)", tag="confirmation", query=ReviewQuery)
@staff_required()
async def review_items(request: Request, query: ReviewQuery) -> HTTPResponse:
    items = await review.list_items(scope=request.ctx.scope, status=query.status, overdue_only=query.overdue, station_id=query.station_id)
    return json({"items": [review.item_summary(i) for i in items]}, ensure_ascii=False)


@bp.get("/review-items/<item_id:int>")
@staff_contract(response=s.ReviewEvidence, errors={404: ["review_item_not_found"]}, path_ids=["item_id"])
@api(summary="A review item with its evidence: frames, references, scores, reasons, attempt history", tag="confirmation")
@staff_required()
async def review_item(request: Request, item_id: int) -> HTTPResponse:
    return json(await review.evidence(scope=request.ctx.scope, item_id=item_id), ensure_ascii=False)


@bp.get("/review-items/<item_id:int>/frames/<index:int>")
@staff_contract(response=None, file={"image/jpeg": "the frame as submitted"}, errors={404: ["review_item_not_found", "frame_not_found"]}, path_ids=["item_id"])
@api(summary="One submitted frame of a review item", tag="confirmation")
@staff_required()
async def review_frame(request: Request, item_id: int, index: int) -> HTTPResponse:
    path = await review.frame_path(scope=request.ctx.scope, item_id=item_id, index=index)
    location = media.resolve(request.app.ctx.settings.media_dir, path)
    return await file(location, headers={"Cache-Control": "private, no-store"})


@bp.post("/review-items/<item_id:int>/decision")
@staff_contract(response=s.ReviewDecided, errors={403: ["out_of_scope"], 404: ["review_item_not_found"], 409: ["review_already_decided"]}, body=True, roles=True, write=True, path_ids=["item_id"])
@api(summary="Accept (confirmed, reviewed) or reject with a reason (the person is told to come in or wait for a visit)", tag="confirmation", json=ReviewDecisionBody)
@staff_required(Role.STATION, Role.CENTRE, write=True)
async def decide_review(request: Request, item_id: int, body: ReviewDecisionBody) -> HTTPResponse:
    item = await review.decide(scope=request.ctx.scope, actor=request.ctx.actor, item_id=item_id, accept=body.accept, reason=body.reason)
    return json({"id": item.id, "status": item.status.value})


@bp.post("/confirmations/<confirmation_id:int>/contact-attempts")
@staff_contract(response=s.ContactAttemptInfo, status=201, errors={403: ["out_of_scope"], 404: ["confirmation_not_found"]}, body=True, roles=True, write=True, path_ids=["confirmation_id"])
@api(summary="Log an attempt to reach the person or their family (who and when are recorded by the server)", tag="confirmation", json=ContactAttemptBody)
@staff_required(Role.STATION, Role.CENTRE, Role.BUREAU, write=True)
async def add_contact_attempt(request: Request, confirmation_id: int, body: ContactAttemptBody) -> HTTPResponse:
    row = await contact_attempts.record_attempt(scope=request.ctx.scope, actor=request.ctx.actor, confirmation_id=confirmation_id, attempt=contact_attempts.Attempt(**body.model_dump()))
    return json(contact_attempts.attempt_json(row), status=201, ensure_ascii=False)


@bp.get("/confirmations/<confirmation_id:int>/contact-attempts")
@staff_contract(response=s.ContactAttemptList, errors={404: ["confirmation_not_found"]}, path_ids=["confirmation_id"])
@api(summary="The contact log of one person in a campaign", tag="confirmation")
@staff_required()
async def list_contact_attempts(request: Request, confirmation_id: int) -> HTTPResponse:
    rows = await contact_attempts.list_attempts(scope=request.ctx.scope, confirmation_id=confirmation_id)
    return json({"items": [contact_attempts.attempt_json(a) for a in rows]}, ensure_ascii=False)


@bp.post("/confirmations/<confirmation_id:int>/moved-out")
@staff_contract(response=s.ConfirmationInfo, errors={403: ["out_of_scope"], 404: ["confirmation_not_found"], 409: ["cannot_exclude", "version_conflict"], 422: ["note_required"]}, body=True, roles=True, write=True, path_ids=["confirmation_id"])
@api(summary="The person's file moved to another county: out of the count to confirm, with the reason", tag="confirmation", json=MovedOutBody)
@staff_required(Role.STATION, Role.CENTRE, Role.BUREAU, write=True)
async def moved_out(request: Request, confirmation_id: int, body: MovedOutBody) -> HTTPResponse:
    c = await quotas.exclude_moved_out(scope=request.ctx.scope, actor=request.ctx.actor, confirmation_id=confirmation_id, note=body.note)
    return json(campaigns.confirmation_json(c), ensure_ascii=False)


@bp.post("/campaigns/<campaign_id:int>/close")
@staff_contract(response=s.CampaignInfo, errors={403: ["out_of_scope"], 404: ["campaign_not_found"], 409: ["campaign_not_open", "implementation_not_over"]}, roles=True, write=True, path_ids=["campaign_id"])
@api(summary="Close the campaign after its notice stage: no more records, Friday reports and reminders stop", tag="confirmation")
@staff_required(Role.BUREAU, write=True)
async def close_campaign(request: Request, campaign_id: int) -> HTTPResponse:
    campaign = await campaigns.close_campaign(scope=request.ctx.scope, actor=request.ctx.actor, campaign_id=campaign_id)
    return json(campaigns.campaign_json(campaign), ensure_ascii=False)
