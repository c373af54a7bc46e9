"""Suspension and resumption lists for the payment office (停发/恢复发放须同步完成系统操作).

An export takes every approved suspension (or signed-off resumption) in the bureau's scope not yet
sent, writes it as XLSX or CSV with the full ID number the payment system matches on, marks those
records as sent in that export, and keeps the file with who made it and when. Records are claimed
by a conditional update, so two clicks at once cannot send the same person twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from models.confirmation import Resumption, SuspensionProposal, SuspensionStatus
from models.org import OrgUnit
from models.payments import PaymentExport
from models.staff import Role
from server import xlsx
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import Conflict, NotFound
from server.registry.service import decrypt_id_number

KINDS = ("suspensions", "resumptions")
FORMATS = ("xlsx", "csv")
COLUMNS = ["序号", "身份证号码", "姓名", "服务站", "操作", "生效月份", "月发放金额", "补发月数", "审批时间", "业务编号"]
ACTION = {"suspensions": "停发", "resumptions": "恢复发放"}


async def _claim(kind: str, scope: Scope, export_id: int) -> list[Any]:
    if kind == "suspensions":
        query = await scope.filter_by_station(SuspensionProposal.filter(status=SuspensionStatus.APPROVED, payment_export_id__isnull=True))
        ids = await query.values_list("id", flat=True)
        await SuspensionProposal.filter(id__in=list(ids), payment_export_id__isnull=True).update(payment_export_id=export_id)
        return await SuspensionProposal.filter(payment_export_id=export_id).select_related("beneficiary").order_by("station_id", "id")
    query = await scope.filter_by_station(Resumption.filter(status="signed_off", payment_export_id__isnull=True), "beneficiary__station_id")
    ids = await query.values_list("id", flat=True)
    await Resumption.filter(id__in=list(ids), payment_export_id__isnull=True).update(payment_export_id=export_id)
    return await Resumption.filter(payment_export_id=export_id).select_related("beneficiary").order_by("beneficiary__station_id", "id")


def _entry(kind: str, record: Any, stations: dict[int, str]) -> dict[str, Any]:
    person = record.beneficiary
    if kind == "suspensions":
        effective, back_pay, approved = record.effective_from, 0, record.approved_at
        reference = f"SP{record.id}"
    else:
        effective, back_pay, approved = record.resume_from, record.back_pay_months, record.signed_off_at
        reference = f"RS{record.id}"
    return {
        "record_id": record.id,
        "beneficiary_id": person.id,
        "name": person.name,
        "id_number_masked": person.id_number_masked,
        "station": stations.get(person.station_id, ""),
        "action": ACTION[kind],
        "effective_month": effective.strftime("%Y-%m") if effective else "",
        "monthly_amount": str(Decimal(str(person.monthly_amount)).quantize(Decimal("0.01"))),
        "back_pay_months": back_pay,
        "approved_at": approved.isoformat() if approved else "",
        "reference": reference,
    }


def _table(entries: list[dict[str, Any]], full_ids: dict[int, str]) -> list[list[Any]]:
    return [
        [i, full_ids[e["beneficiary_id"]], e["name"], e["station"], e["action"], e["effective_month"], e["monthly_amount"], e["back_pay_months"], e["approved_at"][:19].replace("T", " "), e["reference"]]
        for i, e in enumerate(entries, start=1)
    ]


def render(rows: list[list[Any]], file_format: str) -> bytes:
    if file_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        writer.writerows(xlsx.safe_row(r) for r in rows)
        return buffer.getvalue().encode("utf-8-sig")  # Excel opens UTF-8 with a BOM correctly
    return xlsx.workbook(xlsx.Sheet(title="发放变更", headers=COLUMNS, rows=rows))


def _store(media_dir: Path, data: bytes, file_format: str) -> tuple[str, str]:
    digest = hashlib.sha256(data).hexdigest()
    relative = Path("payment_exports") / f"{digest}.{file_format}"
    target = media_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return relative.as_posix(), digest


async def export_changes(*, scope: Scope, actor: Actor, kind: str, file_format: str, media_dir: Path) -> PaymentExport:
    """Everything of ``kind`` not yet sent, as one file; 409 ``nothing_to_export`` when there is none."""
    scope.require_role(Role.BUREAU)
    scope.require_write()
    async with in_transaction():
        export = await PaymentExport.create(kind=kind, district_id=scope.org_unit_id, staff_id=int(actor.id) if actor.id else None, file_format=file_format, path="", sha256="")
        records = await _claim(kind, scope, export.id)
        if not records:
            raise Conflict("没有待导出的发放变更", code="nothing_to_export")  # rolls the empty export back
        stations = dict(await OrgUnit.filter(id__in=list({r.beneficiary.station_id for r in records})).values_list("id", "name"))
        entries = [_entry(kind, r, stations) for r in records]
        full_ids = {r.beneficiary.id: decrypt_id_number(r.beneficiary) for r in records}
        path, digest = _store(media_dir, render(_table(entries, full_ids), file_format), file_format)
        await PaymentExport.filter(id=export.id).update(path=path, sha256=digest, row_count=len(entries), entries=entries)
        await audit.record(actor=actor, action="payments.exported", entity_type="payment_export", entity_id=export.id, details={"kind": kind, "format": file_format, "rows": len(entries), "sha256": digest, "record_ids": [e["record_id"] for e in entries]})
    return await PaymentExport.get(id=export.id)


async def list_exports(*, scope: Scope) -> list[PaymentExport]:
    query = PaymentExport.all() if scope.is_global else PaymentExport.filter(district_id=scope.org_unit_id)
    return await query.order_by("-id").limit(200)


async def get_export(*, scope: Scope, export_id: int) -> PaymentExport:
    found = await PaymentExport.get_or_none(id=export_id)
    if found is None or (not scope.is_global and found.district_id != scope.org_unit_id):
        raise NotFound("导出记录不存在", code="payment_export_not_found")
    return found


def export_json(e: PaymentExport, *, with_entries: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"id": e.id, "kind": e.kind, "format": e.file_format, "staff_id": e.staff_id, "exported_at": e.created_at.isoformat(), "rows": e.row_count, "sha256": e.sha256, "file": f"/api/payment-exports/{e.id}/file"}
    if with_entries:
        data["entries"] = e.entries
    return data
