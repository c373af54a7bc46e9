"""Routes for the payments ledger: payment files in, overpayment evidence, suspension/resumption lists out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, json

from models.staff import Role
from server import media, xlsx
from server.auth.guard import staff_required
from server.http.openapi import XLSX, staff_contract
from server.http.uploads import required_upload
from server.http.validation import api
from server.payments import exports, ledger, schemas

bp = Blueprint("payments", url_prefix="/api")
EXPORT_NAMES = {"suspensions": "暂停发放", "resumptions": "恢复发放"}
MIME = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv; charset=utf-8"}


class ExportBody(BaseModel):
    kind: Literal["suspensions", "resumptions"]
    format: Literal["xlsx", "csv"] = "xlsx"


@bp.post("/payment-files")
@staff_contract(response=schemas.PaymentFileImported, roles=True, write=True, errors={400: ["missing_file", "empty_file"], 413: ["payload_too_large"], 415: ["unsupported_file"], 422: ["import_file_invalid", "import_bad_csv", "import_bad_xlsx", "import_empty", "import_missing_columns"]})
@api(summary="Import a monthly payment file from the payment system (CSV/XLSX: ID number, name, month, amount); per-row report, idempotent", tag="payments", multipart={"file": ".csv or .xlsx"})
@staff_required(Role.BUREAU, write=True)
async def import_file(request: Request) -> HTTPResponse:
    name, data = required_upload(request, "file", limit=request.app.ctx.settings.uploads.max_import_bytes)
    return json(await ledger.import_payment_file(scope=request.ctx.scope, actor=request.ctx.actor, filename=name, data=data), ensure_ascii=False)


@bp.get("/payment-files")
@staff_contract(response=schemas.PaymentFileList, roles=True)
@api(summary="Payment files imported by this county, newest first", tag="payments")
@staff_required(Role.BUREAU, Role.CENTRE)
async def list_files(request: Request) -> HTTPResponse:
    return json({"items": [ledger.file_json(f) for f in await ledger.list_files(scope=request.ctx.scope)]}, ensure_ascii=False)


@bp.get("/payment-files/<file_id:int>")
@staff_contract(response=schemas.PaymentFileDetail, roles=True, path_ids=["file_id"], errors={404: ["payment_file_not_found"]})
@api(summary="One imported payment file with its per-row report", tag="payments")
@staff_required(Role.BUREAU, Role.CENTRE)
async def get_file(request: Request, file_id: int) -> HTTPResponse:
    return json(ledger.file_json(await ledger.get_file(scope=request.ctx.scope, file_id=file_id), with_rows=True), ensure_ascii=False)


@bp.get("/beneficiaries/<beneficiary_id:int>/payments")
@staff_contract(response=schemas.PaidMonthList, path_ids=["beneficiary_id"], errors={404: ["beneficiary_not_found"]})
@api(summary="The months the ledger shows as paid to one person", tag="payments")
@staff_required()
async def person_months(request: Request, beneficiary_id: int) -> HTTPResponse:
    months = await ledger.months_paid(scope=request.ctx.scope, beneficiary_id=beneficiary_id)
    return json({"items": [{"month": m.month.strftime("%Y-%m"), "amount": str(m.amount), "paid_on": m.paid_on.isoformat() if m.paid_on else None, "payment_file_id": m.payment_file_id} for m in months]})


@bp.post("/payment-exports")
@staff_contract(response=schemas.PaymentExportDetail, status=201, roles=True, write=True, body=True, errors={409: ["nothing_to_export"]})
@api(summary="Export the approved suspensions (or signed-off resumptions) not yet sent, as the file the payment office loads", tag="payments", json=ExportBody)
@staff_required(Role.BUREAU, write=True)
async def export(request: Request, body: ExportBody) -> HTTPResponse:
    made = await exports.export_changes(scope=request.ctx.scope, actor=request.ctx.actor, kind=body.kind, file_format=body.format, media_dir=request.app.ctx.settings.media_dir)
    return json(exports.export_json(made, with_entries=True), status=201, ensure_ascii=False)


@bp.get("/payment-exports")
@staff_contract(response=schemas.PaymentExportList, roles=True)
@api(summary="Exports made: who exported what, when", tag="payments")
@staff_required(Role.BUREAU, Role.CENTRE)
async def list_exports(request: Request) -> HTTPResponse:
    return json({"items": [exports.export_json(e) for e in await exports.list_exports(scope=request.ctx.scope)]}, ensure_ascii=False)


@bp.get("/payment-exports/<export_id:int>")
@staff_contract(response=schemas.PaymentExportDetail, roles=True, path_ids=["export_id"], errors={404: ["payment_export_not_found"]})
@api(summary="One export with its entries (ID numbers masked)", tag="payments")
@staff_required(Role.BUREAU, Role.CENTRE)
async def get_export(request: Request, export_id: int) -> HTTPResponse:
    return json(exports.export_json(await exports.get_export(scope=request.ctx.scope, export_id=export_id), with_entries=True), ensure_ascii=False)


@bp.get("/payment-exports/<export_id:int>/file")
@staff_contract(response=None, roles=True, file={XLSX: "the exported file", "text/csv": "the exported file"}, path_ids=["export_id"], errors={404: ["payment_export_not_found"]})
@api(summary="Download the exported file again (the same bytes as sent)", tag="payments")
@staff_required(Role.BUREAU)
async def export_file(request: Request, export_id: int) -> HTTPResponse:
    made = await exports.get_export(scope=request.ctx.scope, export_id=export_id)
    return await file(media.resolve(request.app.ctx.settings.media_dir, made.path), mime_type=MIME[made.file_format], headers=xlsx.download_headers(f"发放变更-{EXPORT_NAMES.get(made.kind, made.kind)}-{made.id}.{made.file_format}"))
