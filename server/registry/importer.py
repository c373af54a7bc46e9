"""Registry imports: CSV/XLSX of beneficiaries and a zip of ID-card photos named by ID number.

Row by row, not all-or-nothing: every valid row is imported on its own, every invalid row is
reported with its reason, and nothing is half-written (each row is one transaction). Re-importing
the same file changes nothing: rows already registered with the same data are counted as unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any

from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary, ImportBatch, PhotoKind
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import ApiError, BadRequest
from server.registry import service
from server.registry.categories import parse_category
from server.registry.id_numbers import InvalidIdNumber, normalise, parse_id_number

# Header aliases: county spreadsheets use Chinese headers; English ones are accepted too.
HEADERS: dict[str, str] = {
    "姓名": "name", "name": "name",
    "身份证号": "id_number", "身份证号码": "id_number", "公民身份号码": "id_number", "id_number": "id_number",
    "类别": "category", "优抚对象类别": "category", "category": "category",
    "服务站": "station", "所属服务站": "station", "镇街": "station", "station": "station",
    "村社区": "village", "村(社区)": "village", "村（社区）": "village", "village": "village",
    "地址": "address", "家庭住址": "address", "address": "address",
    "电话": "phone", "联系电话": "phone", "phone": "phone",
    "月发放金额": "monthly_amount", "月标准": "monthly_amount", "monthly_amount": "monthly_amount",
    "定期抚恤": "on_periodic_payment", "on_periodic_payment": "on_periodic_payment",
    "长期在外": "lives_away", "lives_away": "lives_away",
}
REQUIRED = ("name", "id_number", "category", "station")
_TRUE = {"1", "是", "true", "yes", "y", "t"}


class ImportFileError(ApiError):
    status, code, message = 422, "import_file_invalid", "导入文件无法读取"


@dataclass
class RowOutcome:
    row: int
    status: str  # imported / unchanged / rejected
    reason: str | None = None
    message: str | None = None
    beneficiary_id: int | None = None
    id_number_masked: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ImportReport:
    filename: str
    file_sha256: str
    rows: list[RowOutcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        result = {"total": len(self.rows), "imported": 0, "unchanged": 0, "rejected": 0}
        for row in self.rows:
            result[row.status] += 1
        return result

    def to_dict(self) -> dict[str, Any]:
        return {"filename": self.filename, "file_sha256": self.file_sha256, **self.counts(), "rows": [r.to_dict() for r in self.rows]}


def read_table(filename: str, data: bytes, *, extra_headers: dict[str, str] | None = None, required: tuple[str, ...] = REQUIRED) -> list[dict[str, str]]:
    """Rows of a CSV/XLSX as dicts keyed by our column names (header aliases mapped)."""
    aliases = {**HEADERS, **(extra_headers or {})}
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        return _read_xlsx(data, aliases, required)
    if lower.endswith(".csv") or lower.endswith(".txt"):
        return _read_csv(data, aliases, required)
    raise ImportFileError("只支持 .csv 和 .xlsx 文件", code="import_file_type")


def _normalise_headers(raw_headers: list[Any], aliases: dict[str, str]) -> list[str | None]:
    return [aliases.get(str(h).strip().replace(" ", "")) if h is not None else None for h in raw_headers]


def _rows_from(headers: list[str | None], rows: list[list[Any]], required: tuple[str, ...]) -> list[dict[str, str]]:
    missing = [h for h in required if h not in headers]
    if missing:
        raise ImportFileError("缺少必填列：" + "、".join(missing), code="import_missing_columns", missing=missing)
    out = []
    for values in rows:
        record = {}
        for header, value in zip(headers, values, strict=False):
            if header:
                record[header] = "" if value is None else str(value).strip()
        out.append(record)
    return out


def _read_csv(data: bytes, aliases: dict[str, str], required: tuple[str, ...]) -> list[dict[str, str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError("无法识别文件编码（支持UTF-8和GBK）", code="import_encoding")
    reader = list(csv.reader(io.StringIO(text)))
    if not reader:
        raise ImportFileError("文件为空", code="import_empty")
    return _rows_from(_normalise_headers(reader[0], aliases), reader[1:], required)


def _read_xlsx(data: bytes, aliases: dict[str, str], required: tuple[str, ...]) -> list[dict[str, str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        raise ImportFileError("不是有效的XLSX文件", code="import_bad_xlsx") from exc
    sheet = workbook.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    workbook.close()
    if not rows:
        raise ImportFileError("文件为空", code="import_empty")
    # Numbers typed into Excel as numbers lose the trailing X and precision; IDs must be text.
    return _rows_from(_normalise_headers(rows[0], aliases), rows[1:], required)


async def _station_lookup() -> tuple[dict[str, OrgUnit], dict[str, OrgUnit]]:
    units = await OrgUnit.filter(kind__in=[OrgKind.STATION, OrgKind.VILLAGE])
    stations = {}
    villages = {}
    for unit in units:
        target = stations if unit.kind == OrgKind.STATION else villages
        target[unit.code] = unit
        target[unit.name] = unit
    return stations, villages


def _same(b: Beneficiary, record: dict[str, Any]) -> bool:
    return all(getattr(b, key) == value for key, value in record.items())


async def import_registry(*, scope: Scope, actor: Actor, filename: str, data: bytes) -> ImportReport:
    scope.require_write()
    digest = hashlib.sha256(data).hexdigest()
    table = read_table(filename, data)
    report = ImportReport(filename=filename, file_sha256=digest)
    stations, villages = await _station_lookup()
    seen: set[str] = set()
    for index, raw in enumerate(table, start=2):  # row 1 is the header
        if not any(raw.values()):
            continue
        outcome = await _import_row(scope=scope, actor=actor, row=index, raw=raw, stations=stations, villages=villages, seen=seen)
        report.rows.append(outcome)
    counts = report.counts()
    await ImportBatch.create(kind="registry", file_sha256=digest, filename=filename, staff_id=int(actor.id) if actor.id else None, total_rows=counts["total"], imported=counts["imported"], unchanged=counts["unchanged"], rejected=counts["rejected"], report=[r.to_dict() for r in report.rows])
    await audit.record(actor=actor, action="registry.imported", entity_type="import_batch", entity_id=digest[:16], details={"filename": filename, **counts})
    return report


async def _import_row(*, scope: Scope, actor: Actor, row: int, raw: dict[str, str], stations: dict[str, OrgUnit], villages: dict[str, OrgUnit], seen: set[str]) -> RowOutcome:
    def reject(reason: str, message: str, masked: str | None = None) -> RowOutcome:
        return RowOutcome(row=row, status="rejected", reason=reason, message=message, id_number_masked=masked)

    for key in REQUIRED:
        if not raw.get(key):
            return reject("missing_field", f"缺少{key}")
    try:
        parsed = parse_id_number(raw["id_number"])
    except InvalidIdNumber as exc:
        return reject("bad_checksum" if exc.reason == "bad_checksum" else "bad_id_number", exc.message)
    masked = parsed.masked
    if parsed.value in seen:
        return reject("duplicate", "文件中重复出现的身份证号码", masked)
    seen.add(parsed.value)
    category = parse_category(raw["category"])
    if category is None:
        return reject("unknown_category", f"未知的优抚对象类别：{raw['category']}", masked)
    station = stations.get(raw["station"])
    if station is None:
        return reject("unknown_station", f"未知的服务站：{raw['station']}", masked)
    if not await scope.contains_station(station.id):
        return reject("out_of_scope", "不能导入其他服务站的人员", masked)
    village = villages.get(raw.get("village", "")) if raw.get("village") else None
    if raw.get("village") and (village is None or village.parent_id != station.id):
        return reject("unknown_village", f"未知的村（社区）：{raw['village']}", masked)
    try:
        amount = Decimal(raw.get("monthly_amount") or "0").quantize(Decimal("0.01"))
    except InvalidOperation:
        return reject("bad_amount", f"金额格式不正确：{raw.get('monthly_amount')}", masked)
    record = {
        "name": raw["name"],
        "category": category,
        "station_id": station.id,
        "village_id": village.id if village else None,
        "address": raw.get("address", ""),
        "phone": raw.get("phone", ""),
        "monthly_amount": amount,
        "on_periodic_payment": raw.get("on_periodic_payment", "是").lower() in _TRUE,
        "lives_away": raw.get("lives_away", "").lower() in _TRUE,
    }
    existing = await service.find_by_id_number(parsed.value)
    if existing is not None:
        if _same(existing, record):
            return RowOutcome(row=row, status="unchanged", beneficiary_id=existing.id, id_number_masked=masked)
        return reject("duplicate", "该身份证号码已登记，信息与登记不一致，请在详情页修改", masked)
    try:
        created = await service.insert_beneficiary(actor=actor, data=service.NewBeneficiary(id_number=parsed.value, **record))
    except ApiError as exc:
        return reject(exc.code, exc.message, masked)
    return RowOutcome(row=row, status="imported", beneficiary_id=created.id, id_number_masked=masked)


async def import_photos(*, scope: Scope, actor: Actor, filename: str, data: bytes, media_dir: Path, max_image_bytes: int) -> ImportReport:
    """A zip of ID-card photos, each named by the holder's ID number (e.g. 320723195001011234.jpg)."""
    scope.require_write()
    digest = hashlib.sha256(data).hexdigest()
    report = ImportReport(filename=filename, file_sha256=digest)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BadRequest("不是有效的ZIP文件", code="import_bad_zip") from exc
    with archive:
        for index, info in enumerate(archive.infolist(), start=1):
            if info.is_dir() or PurePosixPath(info.filename).name.startswith("."):
                continue
            name = PurePosixPath(info.filename).stem
            if info.file_size > max_image_bytes:
                report.rows.append(RowOutcome(row=index, status="rejected", reason="file_too_large", message=f"{info.filename} 超过大小限制"))
                continue
            try:
                parsed = parse_id_number(normalise(name))
            except InvalidIdNumber as exc:
                report.rows.append(RowOutcome(row=index, status="rejected", reason="bad_id_number", message=f"{info.filename}: {exc.message}"))
                continue
            beneficiary = await service.find_by_id_number(parsed.value)
            if beneficiary is None or not await scope.contains_station(beneficiary.station_id):
                report.rows.append(RowOutcome(row=index, status="rejected", reason="unknown_person", message="未找到该身份证号码对应的人员", id_number_masked=parsed.masked))
                continue
            try:
                photo, created = await service.add_photo(actor=actor, beneficiary=beneficiary, data=archive.read(info), kind=PhotoKind.ID_CARD, media_dir=media_dir)
            except ApiError as exc:
                report.rows.append(RowOutcome(row=index, status="rejected", reason=exc.code, message=exc.message, id_number_masked=parsed.masked))
                continue
            report.rows.append(RowOutcome(row=index, status="imported" if created else "unchanged", beneficiary_id=beneficiary.id, id_number_masked=parsed.masked))
    counts = report.counts()
    await ImportBatch.create(kind="photos", file_sha256=digest, filename=filename, staff_id=int(actor.id) if actor.id else None, total_rows=counts["total"], imported=counts["imported"], unchanged=counts["unchanged"], rejected=counts["rejected"], report=[r.to_dict() for r in report.rows])
    await audit.record(actor=actor, action="registry.photos_imported", entity_type="import_batch", entity_id=digest[:16], details={"filename": filename, **counts})
    return report
