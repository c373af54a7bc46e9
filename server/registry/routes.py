from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, json

from models.registry import Category, PaymentStatus, PhotoKind
from models.staff import Role
from server import import_jobs, media
from server.auth.guard import staff_required
from server.errors import BadRequest, NotFound
from server.http.openapi import staff_contract
from server.http.uploads import required_upload, spool_upload
from server.http.validation import api, patch_changes
from server.registry import importer, jobs, photo_import, schemas, service

bp = Blueprint("registry", url_prefix="/api/beneficiaries")


class SearchQuery(BaseModel):
    name: str | None = Field(default=None, max_length=64)
    id_number: str | None = Field(default=None, max_length=18)
    station_id: int | None = None
    category: Category | None = None
    status: PaymentStatus | None = None
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=20, ge=1, le=200)


class CreateBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=18, max_length=18)
    category: Category
    station_id: int
    village_id: int | None = None
    address: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=32, pattern=r"^[0-9+\- ]*$")
    monthly_amount: Decimal = Field(default=Decimal("0"), ge=0, max_digits=10, decimal_places=2)
    on_periodic_payment: bool = True
    hardship: bool = False
    hardship_note: str = Field(default="", max_length=1000)
    lives_away: bool = False


class UpdateBody(BaseModel):
    version: int = Field(description="the version you read; a stale one is refused with version_conflict")
    name: str | None = Field(default=None, min_length=1, max_length=64)
    id_number: str | None = Field(default=None, min_length=18, max_length=18)
    category: Category | None = None
    station_id: int | None = None
    village_id: int | None = None
    address: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ]*$")
    monthly_amount: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=2)
    on_periodic_payment: bool | None = None
    hardship: bool | None = None
    hardship_note: str | None = Field(default=None, max_length=1000)
    lives_away: bool | None = None


class StatusBody(BaseModel):
    status: PaymentStatus
    effective_date: date
    reason: str = Field(min_length=2, max_length=200)
    death_date: date | None = None


@bp.get("/")
@staff_contract(response=schemas.BeneficiaryPage, query=True)
@api(summary="Search beneficiaries in the caller's scope (paginated)", tag="registry", query=SearchQuery)
@staff_required()
async def search(request: Request, query: SearchQuery) -> HTTPResponse:
    items, total, capped = await service.search(scope=request.ctx.scope, **query.model_dump())
    return json({"items": items, "total": total, "total_capped": capped, "page": query.page, "page_size": query.page_size}, ensure_ascii=False)


@bp.post("/")
@staff_contract(response=schemas.BeneficiaryInfo, status=201, write=True, body=True, errors={403: ["out_of_scope"], 404: ["station_not_found", "village_not_found"], 409: ["duplicate_id_number"], 422: ["bad_id_number", "unknown_station", "unknown_village", "village_not_in_station"]})
@api(summary="Register a beneficiary", tag="registry", json=CreateBody)
@staff_required(write=True)
async def create(request: Request, body: CreateBody) -> HTTPResponse:
    b = await service.create_beneficiary(scope=request.ctx.scope, actor=request.ctx.actor, data=service.NewBeneficiary(**body.model_dump()))
    return json(service.beneficiary_json(b), status=201, ensure_ascii=False)


@bp.get("/<beneficiary_id:int>")
@staff_contract(response=schemas.BeneficiaryDetail, path_ids=["beneficiary_id"], errors={404: ["beneficiary_not_found"]})
@api(summary="One beneficiary (ID number masked), with payment-status history and photos", tag="registry")
@staff_required()
async def detail(request: Request, beneficiary_id: int) -> HTTPResponse:
    return json(await service.detail_json(scope=request.ctx.scope, beneficiary_id=beneficiary_id), ensure_ascii=False)


@bp.patch("/<beneficiary_id:int>")
@staff_contract(response=schemas.BeneficiaryInfo, write=True, body=True, path_ids=["beneficiary_id"], errors={403: ["out_of_scope"], 404: ["beneficiary_not_found"], 409: ["version_conflict", "duplicate_id_number"], 422: ["field_not_editable"]})
@api(summary="Update a beneficiary (optimistic concurrency on version)", tag="registry", json=UpdateBody)
@staff_required(write=True)
async def update(request: Request, beneficiary_id: int, body: UpdateBody) -> HTTPResponse:
    changes = patch_changes(body, nullable=("village_id",))
    version = changes.pop("version")
    b = await service.update_beneficiary(scope=request.ctx.scope, actor=request.ctx.actor, beneficiary_id=beneficiary_id, changes=changes, expected_version=version)
    return json(service.beneficiary_json(b), ensure_ascii=False)


@bp.get("/<beneficiary_id:int>/id-number")
@staff_contract(response=schemas.RevealedIdNumber, path_ids=["beneficiary_id"], errors={403: ["id_number_restricted"], 404: ["beneficiary_not_found"]})
@api(summary="The whole ID number, for roles that verify identity; every view is audited", tag="registry")
@staff_required()
async def reveal(request: Request, beneficiary_id: int) -> HTTPResponse:
    number = await service.reveal_id_number(scope=request.ctx.scope, actor=request.ctx.actor, beneficiary_id=beneficiary_id)
    return json({"id": beneficiary_id, "id_number": number}, headers={"Cache-Control": "no-store"})


@bp.post("/<beneficiary_id:int>/payment-status")
@staff_contract(response=schemas.BeneficiaryInfo, roles=True, write=True, body=True, path_ids=["beneficiary_id"], errors={403: ["out_of_scope"], 404: ["beneficiary_not_found"]})
@api(summary="Change payment status directly (bureau), with history and audit", tag="registry", json=StatusBody)
@staff_required(Role.BUREAU, write=True)
async def change_status(request: Request, beneficiary_id: int, body: StatusBody) -> HTTPResponse:
    b = await service.get_beneficiary(scope=request.ctx.scope, beneficiary_id=beneficiary_id)
    await request.ctx.scope.require_station_writable(b.station_id)
    b = await service.change_payment_status(actor=request.ctx.actor, beneficiary=b, to_status=body.status, effective_date=body.effective_date, reason=body.reason, death_date=body.death_date)
    return json(service.beneficiary_json(b), ensure_ascii=False)


@bp.post("/<beneficiary_id:int>/photos")
@staff_contract(response=schemas.PhotoInfo, status=201, also=[200], write=True, path_ids=["beneficiary_id"], errors={400: ["missing_file", "empty_file", "bad_photo_kind"], 413: ["payload_too_large"], 415: ["unsupported_file"], 403: ["out_of_scope"], 404: ["beneficiary_not_found"], 422: ["unsupported_image", "image_too_large"]})
@api(summary="Upload a reference photo (ID-card chip photo or a station capture)", tag="registry", multipart={"file": "JPEG or PNG", "kind": "id_card | station_capture"})
@staff_required(write=True)
async def upload_photo(request: Request, beneficiary_id: int) -> HTTPResponse:
    b = await service.get_beneficiary(scope=request.ctx.scope, beneficiary_id=beneficiary_id)
    await request.ctx.scope.require_station_writable(b.station_id)
    _, data = required_upload(request, "file", limit=request.app.ctx.settings.uploads.max_image_bytes)
    kind_text = (request.form.get("kind") if request.form else None) or PhotoKind.ID_CARD.value
    try:
        kind = PhotoKind(kind_text)
    except ValueError as exc:
        raise BadRequest("照片类型不正确", code="bad_photo_kind") from exc
    photo, created = await service.add_photo(actor=request.ctx.actor, beneficiary=b, data=data, kind=kind, media_dir=request.app.ctx.settings.media_dir, max_pixels=request.app.ctx.settings.uploads.max_image_pixels)
    return json(service.photo_json(photo), status=201 if created else 200)


@bp.get("/<beneficiary_id:int>/photos/<photo_id:int>")
@staff_contract(response=None, file={"image/jpeg": "the photo", "image/png": "the photo"}, path_ids=["beneficiary_id", "photo_id"], errors={404: ["beneficiary_not_found", "photo_not_found"]})
@api(summary="A reference photo's image (scoped like the person)", tag="registry")
@staff_required()
async def photo_image(request: Request, beneficiary_id: int, photo_id: int) -> HTTPResponse:
    b = await service.get_beneficiary(scope=request.ctx.scope, beneficiary_id=beneficiary_id)
    photos = [p for p in await service.list_photos(beneficiary_id=b.id) if p.id == photo_id]
    if not photos:
        raise NotFound("照片不存在", code="photo_not_found")
    return await file(media.resolve(request.app.ctx.settings.media_dir, photos[0].path), mime_type=photos[0].content_type, headers={"Cache-Control": "private, max-age=300"})


@bp.post("/import", stream=True)
@staff_contract(response=schemas.ImportProgress, also=[202], write=True, errors={400: ["missing_file", "empty_file", "bad_multipart"], 413: ["payload_too_large"], 415: ["unsupported_file"], 422: ["import_file_invalid", "import_bad_csv", "import_bad_xlsx", "import_empty", "import_file_type", "import_missing_columns", "import_too_many_rows", "import_encoding"]})
@api(
    summary="Import beneficiaries from CSV or XLSX as a background job, row by row with a per-row report",
    description="A file that is finished within a moment answers 200 with the report; a larger one answers 202 with job_id and progress_url to poll. The upload is streamed to disk (up to uploads.max_registry_import_bytes, 128 MB by default: a million-row CSV is about 56 MB); a larger one is a 413 payload_too_large.",
    tag="registry",
    multipart={"file": ".csv or .xlsx"},
)
@staff_required(write=True)
async def import_registry(request: Request) -> HTTPResponse:
    settings = request.app.ctx.settings
    upload = await spool_upload(request, "file", limit=settings.uploads.max_registry_import_bytes, directory=jobs.upload_dir(settings.var_dir))
    batch = await jobs.start_registry_import(scope=request.ctx.scope, actor=request.ctx.actor, filename=upload.name, upload=upload.path, var_dir=settings.var_dir)
    task = jobs.running_task(batch.id)
    if task is not None and settings.uploads.import_inline_wait_seconds > 0:
        # Small files finish at once: answer with the report as before. The job continues regardless.
        await asyncio.wait([task], timeout=settings.uploads.import_inline_wait_seconds)
    batch = await jobs.get_import(scope=request.ctx.scope, actor=request.ctx.actor, job_id=batch.id)
    failed = jobs.failure(batch)
    if failed is not None:
        raise importer.ImportFileError(failed[1], code=failed[0], job_id=batch.id)
    return json(jobs.progress_json(batch), status=200 if batch.status == "done" else 202, ensure_ascii=False)


@bp.get("/imports/<job_id:int>")
@staff_contract(response=schemas.ImportProgress, path_ids=["job_id"], errors={404: ["import_not_found"]})
@api(summary="Progress and row report of a registry import job", tag="registry")
@staff_required()
async def import_progress(request: Request, job_id: int) -> HTTPResponse:
    batch = await jobs.get_import(scope=request.ctx.scope, actor=request.ctx.actor, job_id=job_id)
    return json(jobs.progress_json(batch), ensure_ascii=False)


@bp.post("/photos/import")
@staff_contract(response=schemas.PhotoImportJob, also=[202], write=True, errors={400: ["missing_file", "empty_file"], 413: ["payload_too_large"], 415: ["unsupported_file"], 422: ["import_bad_zip", "zip_too_large", "zip_too_many_entries", "zip_ratio"]})
@api(
    summary="Import ID-card photos from a zip of images named by ID number, as a background job with a per-entry report",
    description="A zip that is finished within a moment answers 200 with the report; a larger one answers 202 with job_id and progress_url to poll.",
    tag="registry",
    multipart={"file": ".zip"},
)
@staff_required(write=True)
async def import_photos(request: Request) -> HTTPResponse:
    settings = request.app.ctx.settings
    name, data = required_upload(request, "file", limit=settings.uploads.max_import_bytes)
    batch = await import_jobs.start_and_wait(kind=photo_import.PHOTOS, scope=request.ctx.scope, actor=request.ctx.actor, filename=name, data=data, settings=settings, wait_seconds=settings.uploads.import_inline_wait_seconds)
    return json(import_jobs.progress_json(batch), status=200 if batch.status == "done" else 202, ensure_ascii=False)


@bp.get("/photos/imports/<job_id:int>")
@staff_contract(response=schemas.PhotoImportJob, path_ids=["job_id"], errors={404: ["import_not_found"]})
@api(summary="Progress and per-entry report of an ID-photo import job", tag="registry")
@staff_required()
async def photo_import_progress(request: Request, job_id: int) -> HTTPResponse:
    batch = await import_jobs.get_import(kind=photo_import.PHOTOS, scope=request.ctx.scope, actor=request.ctx.actor, job_id=job_id)
    return json(import_jobs.progress_json(batch), ensure_ascii=False)
