"""Registry imports: CSV/XLSX of beneficiaries (ID-card photo zips: server/registry/photo_import.py).

Row by row, not all-or-nothing: every valid row is imported on its own, every invalid row is
reported with its reason, and nothing is half-written (each row is one transaction). Re-importing
the same file changes nothing: rows already registered with the same data are counted as unchanged.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, TextIO

from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary, ImportBatch
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import ApiError
from server.http.validation import has_control_characters
from server.registry import service
from server.registry.categories import parse_category
from server.registry.id_numbers import InvalidIdNumber, parse_id_number
from server.security.fields import cipher
from server.security.uploads import SHEET, check_xlsx

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
# The longest text any registry column holds is a few hundred characters; a cell past this is an error.
MAX_CELL_CHARS = 4000
# Text columns and the lengths their database columns hold.
_TEXT_LIMITS = {key: Beneficiary._meta.fields_map[key].max_length for key in ("name", "address", "phone")}
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


def read_table(filename: str, data: bytes | Path, *, extra_headers: dict[str, str] | None = None, required: tuple[str, ...] = REQUIRED) -> list[dict[str, str]]:
    """Rows of a CSV/XLSX as dicts keyed by our column names (header aliases mapped).

    Bounded (rows, columns, cell size, XLSX parts and declared dimensions) but whole: for large
    files use ``iter_table`` from a thread, as the registry import job does.
    """
    return list(iter_table(filename, data, extra_headers=extra_headers, required=required))


def iter_table(filename: str, data: bytes | Path, *, extra_headers: dict[str, str] | None = None, required: tuple[str, ...] = REQUIRED) -> Iterator[dict[str, str]]:
    """Check the file's type and header now (errors raise at once); rows come lazily, bounded.

    ``data``: the bytes, or the path of a file on disk (read as it goes: a large roster is never whole
    in memory). Blocking: call it, and advance the iterator, off the event loop.
    """
    aliases = {**HEADERS, **(extra_headers or {})}
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        rows = _xlsx_rows(data)
    elif lower.endswith(".csv") or lower.endswith(".txt"):
        rows = _csv_rows(data)
    else:
        raise ImportFileError("只支持 .csv 和 .xlsx 文件", code="import_file_type")
    try:
        first = next(rows)
    except StopIteration:
        raise ImportFileError("文件为空", code="import_empty") from None
    headers = _normalise_headers(list(first), aliases)
    missing = [h for h in required if h not in headers]
    if missing:
        raise ImportFileError("缺少必填列：" + "、".join(missing), code="import_missing_columns", missing=missing)
    return _records(headers, rows)


def _normalise_headers(raw_headers: list[Any], aliases: dict[str, str]) -> list[str | None]:
    return [aliases.get(str(h).strip().replace(" ", "")) if h is not None else None for h in raw_headers]


def _records(headers: list[str | None], rows: Iterator[tuple[Any, ...]]) -> Iterator[dict[str, str]]:
    for count, values in enumerate(rows, start=2):
        if count > SHEET.max_rows:
            raise ImportFileError(f"行数超过上限（{SHEET.max_rows - 1}行），请分批导入", code="import_too_many_rows")
        record = {}
        for header, value in zip(headers, values, strict=False):
            if header:
                text = "" if value is None else str(value).strip()
                if len(text) > MAX_CELL_CHARS:
                    raise ImportFileError(f"第{count}行有单元格内容过长", code="import_cell_too_long", row=count)
                record[header] = text
        yield record


def _csv_rows(data: bytes | Path) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, Path):
        return _csv_file_rows(data)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError("无法识别文件编码（支持UTF-8和GBK）", code="import_encoding")
    return _csv_iter(text)


def _file_encoding(path: Path) -> str:
    """UTF-8 if the whole file decodes as UTF-8 (checked block by block), else GB18030 (which decodes any bytes)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        try:
            for block in iter(lambda: f.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


def _csv_file_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    encoding = _file_encoding(path)
    handle = path.open(encoding=encoding, newline="")
    return _csv_iter(handle, close=handle)


def _csv_iter(text: str | TextIO, close: TextIO | None = None) -> Iterator[tuple[Any, ...]]:
    reader = csv.reader(io.StringIO(text) if isinstance(text, str) else text)
    try:
        yield from _csv_reader_rows(reader)
    finally:
        if close is not None:
            close.close()


def _csv_reader_rows(reader: Any) -> Iterator[tuple[Any, ...]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # Fields over csv.field_size_limit (128 KiB), NUL bytes, broken quoting.
            raise ImportFileError(f"CSV第{reader.line_num}行格式错误或单元格过长", code="import_bad_csv", row=reader.line_num) from exc
        yield tuple(row[:SHEET.max_columns])


def _xlsx_rows(data: bytes | Path) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    # A file on disk is opened by us (openpyxl judges a path by its extension; a spooled upload has none).
    source: IO[bytes] = data.open("rb") if isinstance(data, Path) else io.BytesIO(data)
    try:
        check_xlsx(source)
        source.seek(0)
        workbook = load_workbook(source, read_only=True, data_only=True)
    except ApiError:
        source.close()
        raise
    except Exception as exc:  # openpyxl raises many types for a bad file
        source.close()
        raise ImportFileError("不是有效的XLSX文件", code="import_bad_xlsx") from exc
    if not workbook.worksheets:
        workbook.close()
        source.close()
        raise ImportFileError("文件为空", code="import_empty")
    return _xlsx_iter(workbook, source)


def _xlsx_iter(workbook: Any, source: IO[bytes]) -> Iterator[tuple[Any, ...]]:
    sheet = workbook.worksheets[0]
    # Ignore the declared dimension (already checked) and bound every row: openpyxl pads rows
    # to the widest column seen, and missing rows up to max_row.
    sheet.reset_dimensions()
    try:
        yield from sheet.iter_rows(min_row=1, max_row=SHEET.max_rows + 1, max_col=SHEET.max_columns, values_only=True)
    except ApiError:
        raise
    except Exception as exc:
        raise ImportFileError("XLSX文件内容损坏", code="import_bad_xlsx") from exc
    finally:
        workbook.close()
        source.close()


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


@dataclass
class Candidate:
    """A row that passed every check that needs no database: what to register, if it is new."""

    row: int
    id_number: str
    masked: str
    birth_date: Any
    sex: str
    record: dict[str, Any]


async def validate_row(*, scope: Scope, row: int, raw: dict[str, str], stations: dict[str, OrgUnit], villages: dict[str, OrgUnit], seen: set[int | str]) -> RowOutcome | Candidate:
    """The checks of one row against the file and the org tree (rejected rows keep their reason)."""

    def reject(reason: str, message: str, masked: str | None = None) -> RowOutcome:
        return RowOutcome(row=row, status="rejected", reason=reason, message=message, id_number_masked=masked)

    for key in REQUIRED:
        if not raw.get(key):
            return reject("missing_field", f"缺少{key}")
    for key, limit in _TEXT_LIMITS.items():
        value = raw.get(key, "")
        if len(value) > limit:
            return reject("too_long", f"{key}超过{limit}个字符")
        if has_control_characters(value):
            return reject("control_characters", f"{key}含有非法字符")
    try:
        parsed = parse_id_number(raw["id_number"])
    except InvalidIdNumber as exc:
        return reject("bad_checksum" if exc.reason == "bad_checksum" else "bad_id_number", exc.message)
    masked = parsed.masked
    # The first 17 digits decide the check character: as an int they cost 30 % less than the text in a
    # million-row file (the set is the one structure that grows with the file).
    key: int | str = int(parsed.value[:17]) if parsed.value[:17].isdigit() else parsed.value
    if key in seen:
        return reject("duplicate", "文件中重复出现的身份证号码", masked)
    seen.add(key)
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
    if not amount.is_finite() or amount < 0 or amount >= Decimal("100000000"):
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
    return Candidate(row=row, id_number=parsed.value, masked=masked, birth_date=parsed.birth_date, sex=str(parsed.sex), record=record)


def _duplicate(candidate: Candidate) -> RowOutcome:
    return RowOutcome(row=candidate.row, status="rejected", reason="duplicate", message="该身份证号码已登记，信息与登记不一致，请在详情页修改", id_number_masked=candidate.masked)


async def _import_row(*, scope: Scope, actor: Actor, row: int, raw: dict[str, str], stations: dict[str, OrgUnit], villages: dict[str, OrgUnit], seen: set[int | str]) -> RowOutcome:
    """One row, one transaction (SQLite, and any database without COPY)."""
    checked = await validate_row(scope=scope, row=row, raw=raw, stations=stations, villages=villages, seen=seen)
    if isinstance(checked, RowOutcome):
        return checked
    masked, record = checked.masked, checked.record
    existing = await service.find_by_id_number(checked.id_number)
    if existing is not None:
        if _same(existing, record):
            return RowOutcome(row=row, status="unchanged", beneficiary_id=existing.id, id_number_masked=masked)
        return _duplicate(checked)
    try:
        created = await service.insert_beneficiary(actor=actor, data=service.NewBeneficiary(id_number=checked.id_number, **record))
    except ApiError as exc:
        return RowOutcome(row=row, status="rejected", reason=exc.code, message=exc.message, id_number_masked=masked)
    return RowOutcome(row=row, status="imported", beneficiary_id=created.id, id_number_masked=masked)


# The staging table for one chunk: the rows as they will be registered, before the merge.
_STAGE_COLUMNS = ("row_no", "name", "id_number_encrypted", "id_number_hash", "id_number_masked", "birth_date", "sex", "category", "station_id", "village_id", "address", "phone", "on_periodic_payment", "monthly_amount", "lives_away")
_STAGE_SQL = """
CREATE TEMPORARY TABLE registry_import_stage (
  row_no INT NOT NULL, name VARCHAR(64) NOT NULL, id_number_encrypted VARCHAR(128) NOT NULL,
  id_number_hash VARCHAR(64) NOT NULL, id_number_masked VARCHAR(18) NOT NULL, birth_date DATE NOT NULL,
  sex VARCHAR(8) NOT NULL, category VARCHAR(32) NOT NULL, station_id INT NOT NULL, village_id INT,
  address VARCHAR(200) NOT NULL, phone VARCHAR(32) NOT NULL, on_periodic_payment BOOL NOT NULL,
  monthly_amount NUMERIC(10, 2) NOT NULL, lives_away BOOL NOT NULL
) ON COMMIT DROP
"""
# Set-based merge: rows already registered are read back for the unchanged/duplicate decision;
# new ones are inserted with their first payment-status entry in the same statement. A row that
# someone else registered meanwhile is skipped by ON CONFLICT and reported as a duplicate.
_EXISTING_SQL = """
SELECT s.row_no, b.id, (b.name = s.name AND b.category = s.category AND b.station_id = s.station_id
  AND b.village_id IS NOT DISTINCT FROM s.village_id AND b.address = s.address AND b.phone = s.phone
  AND b.monthly_amount = s.monthly_amount AND b.on_periodic_payment = s.on_periodic_payment
  AND b.lives_away = s.lives_away) AS same
FROM registry_import_stage s JOIN beneficiary b ON b.id_number_hash = s.id_number_hash
"""
_MERGE_SQL = """
WITH inserted AS (
  INSERT INTO beneficiary (name, id_number_encrypted, id_number_hash, id_number_masked, birth_date, sex, category,
    station_id, village_id, address, phone, on_periodic_payment, monthly_amount, payment_status, hardship,
    hardship_note, lives_away, version, created_at, updated_at)
  SELECT s.name, s.id_number_encrypted, s.id_number_hash, s.id_number_masked, s.birth_date, s.sex, s.category,
    s.station_id, s.village_id, s.address, s.phone, s.on_periodic_payment, s.monthly_amount, 'active', FALSE,
    '', s.lives_away, 1, now(), now()
  FROM registry_import_stage s
  WHERE NOT EXISTS (SELECT 1 FROM beneficiary b WHERE b.id_number_hash = s.id_number_hash)
  ORDER BY s.row_no
  ON CONFLICT (id_number_hash) DO NOTHING
  RETURNING id, id_number_hash
), history AS (
  INSERT INTO payment_status_change (beneficiary_id, from_status, to_status, effective_date, reason, staff_id, created_at, updated_at)
  SELECT i.id, NULL, 'active', $1, '登记', $2, now(), now() FROM inserted i
)
SELECT s.row_no, i.id FROM inserted i JOIN registry_import_stage s ON s.id_number_hash = i.id_number_hash
"""


async def import_chunk_postgres(*, actor: Actor, batch_id: int, candidates: list[Candidate], on_commit: Callable[[list[RowOutcome]], dict[str, Any]]) -> list[RowOutcome]:
    """Register a chunk of checked rows in one transaction: COPY into a staging table, one merge
    statement, one audit entry for the chunk, and the job's progress (``on_commit``: given the chunk's
    outcomes, the ImportBatch fields to write) in the same commit, so a resumed job never counts a
    chunk twice."""
    from datetime import date

    from tortoise.transactions import in_transaction

    if not candidates:
        await ImportBatch.filter(id=batch_id).update(**on_commit([]))
        return []
    c = cipher()
    by_row = {cand.row: cand for cand in candidates}
    records = []
    for cand in candidates:
        r = cand.record
        records.append((
            cand.row, r["name"], c.encrypt(cand.id_number, associated=b"beneficiary.id_number"), c.lookup_hash(cand.id_number), cand.masked,
            cand.birth_date, cand.sex, r["category"].value, r["station_id"], r["village_id"], r["address"], r["phone"],
            r["on_periodic_payment"], r["monthly_amount"], r["lives_away"],
        ))
    staff_id = int(actor.id) if actor.type == "staff" and actor.id else None
    outcomes: dict[int, RowOutcome] = {}
    async with in_transaction() as conn:
        async with conn.acquire_connection() as raw:
            await raw.execute(_STAGE_SQL)
            await raw.copy_records_to_table("registry_import_stage", records=records, columns=list(_STAGE_COLUMNS))
            for found in await raw.fetch(_EXISTING_SQL):
                cand = by_row[found["row_no"]]
                outcomes[cand.row] = RowOutcome(row=cand.row, status="unchanged", beneficiary_id=found["id"], id_number_masked=cand.masked) if found["same"] else _duplicate(cand)
            created = await raw.fetch(_MERGE_SQL, date.today(), staff_id)
        for made in created:
            cand = by_row[made["row_no"]]
            outcomes[cand.row] = RowOutcome(row=cand.row, status="imported", beneficiary_id=made["id"], id_number_masked=cand.masked)
        for cand in candidates:
            if cand.row not in outcomes:  # registered by someone else between the read and the insert
                outcomes[cand.row] = _duplicate(cand)
        if created:
            ids = sorted(made["id"] for made in created)
            digest = hashlib.sha256(",".join(str(i) for i in ids).encode()).hexdigest()
            # One entry per chunk instead of one per person: the chain lock is taken once per chunk.
            await audit.record(actor=actor, action="beneficiary.created_batch", entity_type="import_batch", entity_id=batch_id, details={"created": len(ids), "first_id": ids[0], "last_id": ids[-1], "ids_sha256": digest, "rows": [min(by_row), max(by_row)]})
        result = [outcomes[cand.row] for cand in candidates]
        await ImportBatch.filter(id=batch_id).update(**on_commit(result))
    return result
