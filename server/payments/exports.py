"""Suspension and resumption lists for the payment office (停发/恢复发放须同步完成系统操作).

An export takes every approved suspension (or signed-off resumption) in the bureau's scope not yet
sent, writes it as XLSX or CSV with the full ID number the payment system matches on, marks those
records as sent in that export, and keeps the file with who made it and when. Records are claimed
by a conditional update, so two clicks at once cannot send the same person twice.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import shutil
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tortoise.expressions import Q
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


# Records are read and written a page at a time: the file is never held in memory.
PAGE_ROWS = 1000


async def _claim(kind: str, scope: Scope, export_id: int) -> int:
    """Mark everything of ``kind`` not yet sent as sent in this export; returns how many."""
    if kind == "suspensions":
        query = await scope.filter_by_station(SuspensionProposal.filter(status=SuspensionStatus.APPROVED, payment_export_id__isnull=True))
        ids = await query.values_list("id", flat=True)
        return await SuspensionProposal.filter(id__in=list(ids), payment_export_id__isnull=True).update(payment_export_id=export_id)
    query = await scope.filter_by_station(Resumption.filter(status="signed_off", payment_export_id__isnull=True), "beneficiary__station_id")
    ids = await query.values_list("id", flat=True)
    return await Resumption.filter(id__in=list(ids), payment_export_id__isnull=True).update(payment_export_id=export_id)


async def _claimed_pages(kind: str, export_id: int) -> AsyncIterator[Sequence[Any]]:
    """The records of an export by station then id (the list clerks check station by station), a page
    at a time: keyset pagination on (station, id)."""
    model: Any = SuspensionProposal if kind == "suspensions" else Resumption
    station = "station_id" if kind == "suspensions" else "beneficiary__station_id"

    async def fetch(after: tuple[int, int] | None, size: int) -> list[Any]:
        query = model.filter(payment_export_id=export_id)
        if after is not None:
            query = query.filter(Q(**{f"{station}__gt": after[0]}) | Q(**{station: after[0], "id__gt": after[1]}))
        return list(await query.select_related("beneficiary").order_by(station, "id").limit(size))

    def key(record: Any) -> tuple[int, int]:
        return (record.station_id if kind == "suspensions" else record.beneficiary.station_id, record.id)

    async for page in xlsx.pages(fetch, key=key, size=PAGE_ROWS):
        yield page


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


def _line(number: int, e: dict[str, Any], full_id: str) -> list[Any]:
    return [number, full_id, e["name"], e["station"], e["action"], e["effective_month"], e["monthly_amount"], e["back_pay_months"], e["approved_at"][:19].replace("T", " "), e["reference"]]


def _table(entries: list[dict[str, Any]], full_ids: dict[int, str]) -> list[list[Any]]:
    return [_line(i, e, full_ids[e["beneficiary_id"]]) for i, e in enumerate(entries, start=1)]


def render(rows: list[list[Any]], file_format: str) -> bytes:
    """The file of a short list, in memory (tests; exports write with ``_write_file``)."""
    if file_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        writer.writerows(xlsx.safe_row(r) for r in rows)
        return buffer.getvalue().encode("utf-8-sig")  # Excel opens UTF-8 with a BOM correctly
    return xlsx.workbook(xlsx.Sheet(title="发放变更", headers=COLUMNS, rows=rows))


async def _write_file(target: Path, lines: AsyncIterator[Sequence[Sequence[Any]]], file_format: str) -> None:
    if file_format == "xlsx":
        await xlsx.write_stream(target, xlsx.StreamSheet(title="发放变更", headers=COLUMNS, rows=lines))
        return
    with target.open("w", encoding="utf-8-sig", newline="") as out:  # Excel opens UTF-8 with a BOM correctly
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        async for page in lines:
            writer.writerows(xlsx.safe_row(r) for r in page)


def _store(media_dir: Path, written: Path, file_format: str) -> tuple[str, str]:
    """Move a written file into media under its SHA-256 (streamed: never read whole)."""
    digest = hashlib.sha256()
    with written.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    relative = Path("payment_exports") / f"{digest.hexdigest()}.{file_format}"
    target = media_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(written), target)
    return relative.as_posix(), digest.hexdigest()


async def export_changes(*, scope: Scope, actor: Actor, kind: str, file_format: str, media_dir: Path) -> PaymentExport:
    """Everything of ``kind`` not yet sent, as one file; 409 ``nothing_to_export`` when there is none."""
    scope.require_role(Role.BUREAU)
    scope.require_write()
    stations: dict[int, str] = {}
    entries: list[dict[str, Any]] = []  # kept on the export row (who was sent): small beside the file

    async def lines() -> AsyncIterator[list[list[Any]]]:
        async for page in _claimed_pages(kind, export.id):
            missing = {r.beneficiary.station_id for r in page} - stations.keys()
            if missing:
                stations.update(dict(await OrgUnit.filter(id__in=list(missing)).values_list("id", "name")))
            out = []
            for record in page:
                entry = _entry(kind, record, stations)
                entries.append(entry)
                out.append(_line(len(entries), entry, decrypt_id_number(record.beneficiary)))
            yield out

    async with in_transaction():
        export = await PaymentExport.create(kind=kind, district_id=scope.org_unit_id, staff_id=int(actor.id) if actor.id else None, file_format=file_format, path="", sha256="")
        if not await _claim(kind, scope, export.id):
            raise Conflict("没有待导出的发放变更", code="nothing_to_export")  # rolls the empty export back
        written = xlsx.temporary_path(f".{file_format}")
        try:
            await _write_file(written, lines(), file_format)
            path, digest = await asyncio.to_thread(_store, media_dir, written, file_format)
        finally:
            written.unlink(missing_ok=True)
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
