"""The beneficiary registry: the people both jobs (confirmation and cards) work on."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.filters import escape_like
from tortoise.transactions import in_transaction

from models.org import OrgKind, OrgUnit
from models.registry import Beneficiary, Category, PaymentStatus, PaymentStatusChange, PhotoKind, ReferencePhoto
from server import media
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.db import is_postgres
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.registry.categories import CATEGORY_LABELS, STATUS_LABELS
from server.registry.id_numbers import IdNumber, InvalidIdNumber, normalise, parse_id_number
from server.security.fields import cipher
from server.security.uploads import check_image

EDITABLE_FIELDS = ("name", "category", "station_id", "village_id", "address", "phone", "monthly_amount", "on_periodic_payment", "hardship", "hardship_note", "lives_away")


def beneficiary_json(b: Beneficiary, *, full_id_number: str | None = None) -> dict[str, Any]:
    return {
        "id": b.id,
        "name": b.name,
        "id_number": full_id_number or b.id_number_masked,
        "id_number_masked": b.id_number_masked,
        "birth_date": b.birth_date.isoformat(),
        "sex": b.sex.value,
        "category": b.category.value,
        "category_label": CATEGORY_LABELS[b.category],
        "station_id": b.station_id,
        "village_id": b.village_id,
        "address": b.address,
        "phone": b.phone,
        "on_periodic_payment": b.on_periodic_payment,
        "monthly_amount": str(b.monthly_amount),
        "payment_status": b.payment_status.value,
        "payment_status_label": STATUS_LABELS[b.payment_status],
        "death_date": b.death_date.isoformat() if b.death_date else None,
        "hardship": b.hardship,
        "hardship_note": b.hardship_note,
        "lives_away": b.lives_away,
        "version": b.version,
        "updated_at": b.updated_at.isoformat() if b.updated_at else None,
    }


def _audit_view(b: Beneficiary) -> dict[str, Any]:
    view = beneficiary_json(b)
    view.pop("id_number")
    return view


def validated_id_number(raw: str) -> IdNumber:
    try:
        return parse_id_number(raw)
    except InvalidIdNumber as exc:
        raise ValidationFailed(exc.message, code=f"id_number_{exc.reason}") from exc


def id_lookup_hash(raw: str) -> str:
    return cipher().lookup_hash(normalise(raw))


async def find_by_id_number(raw: str) -> Beneficiary | None:
    return await Beneficiary.get_or_none(id_number_hash=id_lookup_hash(raw))


def decrypt_id_number(b: Beneficiary) -> str:
    return cipher().decrypt(b.id_number_encrypted, associated=b"beneficiary.id_number")


async def _station(station_id: int) -> OrgUnit:
    station = await OrgUnit.get_or_none(id=station_id)
    if station is None or station.kind != OrgKind.STATION:
        raise ValidationFailed("服务站不存在", code="unknown_station")
    return station


async def _check_village(village_id: int | None, station_id: int) -> None:
    if village_id is None:
        return
    village = await OrgUnit.get_or_none(id=village_id)
    if village is None or village.kind != OrgKind.VILLAGE or village.parent_id != station_id:
        raise ValidationFailed("村（社区）不属于该服务站", code="unknown_village")


@dataclass
class NewBeneficiary:
    name: str
    id_number: str
    category: Category
    station_id: int
    village_id: int | None = None
    address: str = ""
    phone: str = ""
    monthly_amount: Decimal = Decimal("0")
    on_periodic_payment: bool = True
    hardship: bool = False
    hardship_note: str = ""
    lives_away: bool = False


async def create_beneficiary(*, scope: Scope, actor: Actor, data: NewBeneficiary) -> Beneficiary:
    await scope.require_station_writable(data.station_id)
    await _station(data.station_id)
    await _check_village(data.village_id, data.station_id)
    return await insert_beneficiary(actor=actor, data=data)


async def insert_beneficiary(*, actor: Actor, data: NewBeneficiary) -> Beneficiary:
    """Insert without scope checks (callers: the scoped API above, imports and the demo seeder)."""
    parsed = validated_id_number(data.id_number)
    async with in_transaction():
        try:
            b = await Beneficiary.create(
                name=data.name.strip(),
                id_number_encrypted=cipher().encrypt(parsed.value, associated=b"beneficiary.id_number"),
                id_number_hash=cipher().lookup_hash(parsed.value),
                id_number_masked=parsed.masked,
                birth_date=parsed.birth_date,
                sex=parsed.sex,
                category=data.category,
                station_id=data.station_id,
                village_id=data.village_id,
                address=data.address,
                phone=data.phone,
                monthly_amount=data.monthly_amount,
                on_periodic_payment=data.on_periodic_payment,
                hardship=data.hardship,
                hardship_note=data.hardship_note,
                lives_away=data.lives_away,
            )
        except IntegrityError as exc:
            raise Conflict("该身份证号码已登记", code="duplicate_id_number") from exc
        await PaymentStatusChange.create(beneficiary=b, from_status=None, to_status=b.payment_status, effective_date=date.today(), reason="登记", staff_id=int(actor.id) if actor.type == "staff" and actor.id else None)
        await audit.record(actor=actor, action="beneficiary.created", entity_type="beneficiary", entity_id=b.id, after=_audit_view(b))
    return b


async def get_beneficiary(*, scope: Scope, beneficiary_id: int) -> Beneficiary:
    b = await Beneficiary.get_or_none(id=beneficiary_id)
    if b is None:
        raise NotFound("未找到该优抚对象", code="beneficiary_not_found")
    await scope.require_station_visible(b.station_id)
    return b


# A page's total is counted up to this many rows: past it the API says "more than" instead of
# counting a whole province on every page (``total_capped``).
COUNT_CAP = 10_000
LIST_FIELDS = ("id", "name", "id_number_masked", "birth_date", "sex", "category", "station_id", "village_id", "address", "phone", "on_periodic_payment", "monthly_amount", "payment_status", "death_date", "hardship", "hardship_note", "lives_away", "version", "updated_at")


def _text(value: Any) -> Any:
    return getattr(value, "value", value)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # a timestamp inside aggregated JSON
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.isoformat()


def row_json(row: dict[str, Any]) -> dict[str, Any]:
    """``beneficiary_json`` for a row read as values (no model instance built): the same keys and text."""
    category = Category(_text(row["category"]))
    status = PaymentStatus(_text(row["payment_status"]))
    return {
        "id": row["id"],
        "name": row["name"],
        "id_number": row["id_number_masked"],
        "id_number_masked": row["id_number_masked"],
        "birth_date": _iso(row["birth_date"]),
        "sex": _text(row["sex"]),
        "category": category.value,
        "category_label": CATEGORY_LABELS[category],
        "station_id": row["station_id"],
        "village_id": row["village_id"],
        "address": row["address"],
        "phone": row["phone"],
        "on_periodic_payment": bool(row["on_periodic_payment"]),
        "monthly_amount": str(Decimal(str(row["monthly_amount"])).quantize(Decimal("0.01"))),
        "payment_status": status.value,
        "payment_status_label": STATUS_LABELS[status],
        "death_date": _iso(row["death_date"]),
        "hardship": bool(row["hardship"]),
        "hardship_note": row["hardship_note"],
        "lives_away": bool(row["lives_away"]),
        "version": row["version"],
        "updated_at": _iso(row["updated_at"]),
    }


async def search(
    *,
    scope: Scope,
    name: str | None = None,
    id_number: str | None = None,
    station_id: int | None = None,
    category: Category | None = None,
    status: PaymentStatus | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[dict[str, Any]], int, bool]:
    """One page as JSON-ready dicts, the total (counted up to ``COUNT_CAP``) and whether it was capped.

    On PostgreSQL one hand-written statement per page (and one per count, remembered): building the
    ORM query cost more than running it. Elsewhere the ORM builds the same filters."""
    filters = _Filters(
        station_ids=await scope.station_ids(),
        name=name.strip() if name and name.strip() else None,
        id_hash=id_lookup_hash(id_number) if id_number else None,
        station_id=station_id,
        category=category.value if category is not None else None,
        status=status.value if status is not None else None,
    )
    offset = (page - 1) * page_size
    if is_postgres():
        where, params = filters.postgres()
        # The rows skipped over come from the (station_id, name, id) index alone; only the page's rows
        # are read from the table, by primary key. One prepared statement serves every page: its
        # generic plan stays these two index walks whatever OFFSET and LIMIT are (a join here would
        # be planned as a hash join over the whole table for an unknown LIMIT).
        sql = (
            f"SELECT {_LIST_COLUMNS} FROM beneficiary WHERE id = ANY(ARRAY(SELECT id FROM beneficiary{where}"
            f" ORDER BY station_id, name, id OFFSET ${len(params) + 1} LIMIT ${len(params) + 2})) ORDER BY station_id, name, id"
        )
        params += [offset, page_size]
        rows = await connections.get("default").execute_query_dict(sql, params)
    else:
        rows = await filters.orm().order_by("station_id", "name", "id").offset(offset).limit(page_size).values(*LIST_FIELDS)
    if len(rows) < page_size and (rows or page == 1):
        total, capped = offset + len(rows), False  # the last page: the total is known without counting
    else:
        total, capped = await _bounded_count(filters)
    return [row_json(r) for r in rows], total, capped


_LIST_COLUMNS = ", ".join(LIST_FIELDS)


@dataclass(frozen=True)
class _Filters:
    """A list page's filters: the scope's stations (None: all) and the query's own."""

    station_ids: frozenset[int] | None
    name: str | None
    id_hash: str | None
    station_id: int | None
    category: str | None
    status: str | None

    def orm(self) -> Any:
        query = Beneficiary.all()
        if self.station_ids is not None:
            query = query.filter(station_id__in=list(self.station_ids))
        if self.name:
            query = query.filter(name__icontains=self.name)
        if self.id_hash:
            query = query.filter(id_number_hash=self.id_hash)
        if self.station_id is not None:
            query = query.filter(station_id=self.station_id)
        if self.category is not None:
            query = query.filter(category=self.category)
        if self.status is not None:
            query = query.filter(payment_status=self.status)
        return query

    def postgres(self) -> tuple[str, list[Any]]:
        """The WHERE clause and its parameters: the ORM's filters (``icontains`` as tortoise writes it)."""
        terms: list[str] = []
        params: list[Any] = []

        def add(term: str, value: Any) -> None:
            params.append(value)
            terms.append(term.format(f"${len(params)}"))

        if self.station_ids is not None:
            add("station_id = ANY({}::int[])", sorted(self.station_ids))
        if self.name:
            add("UPPER(CAST(name AS VARCHAR)) LIKE UPPER({}) ESCAPE '\\'", f"%{escape_like(self.name)}%")
        if self.id_hash:
            add("id_number_hash = {}", self.id_hash)
        if self.station_id is not None:
            add("station_id = {}", self.station_id)
        if self.category is not None:
            add("category = {}", self.category)
        if self.status is not None:
            add("payment_status = {}", self.status)
        return (" WHERE " + " AND ".join(terms) if terms else ""), params


# Totals of list pages, per worker: paging through a list asks for the same total on every page.
COUNT_TTL_SECONDS = 30.0
_counts: dict[_Filters, tuple[float, int, bool]] = {}


async def _bounded_count(filters: _Filters) -> tuple[int, bool]:
    """At most COUNT_CAP + 1 ids walked (never the whole scope), remembered for COUNT_TTL_SECONDS."""
    now = time.monotonic()
    cached = _counts.get(filters)
    if cached is not None and cached[0] > now:
        return cached[1], cached[2]
    if is_postgres():
        where, params = filters.postgres()
        rows = await connections.get("default").execute_query_dict(f"SELECT count(*) AS n FROM (SELECT 1 FROM beneficiary{where} LIMIT {COUNT_CAP + 1}) AS walked", params)
        found = int(rows[0]["n"])
    else:
        found = len(await filters.orm().limit(COUNT_CAP + 1).values_list("id", flat=True))
    if len(_counts) >= 1024:
        _counts.clear()
    _counts[filters] = (now + COUNT_TTL_SECONDS, min(found, COUNT_CAP), found > COUNT_CAP)
    return min(found, COUNT_CAP), found > COUNT_CAP


_DETAIL_SQL_POSTGRES = """
SELECT b.*,
  (SELECT coalesce(json_agg(json_build_object('from', h.from_status, 'to', h.to_status, 'effective_date', h.effective_date, 'reason', h.reason, 'at', h.created_at) ORDER BY h.id), '[]')
     FROM payment_status_change h WHERE h.beneficiary_id = b.id) AS status_history,
  (SELECT coalesce(json_agg(json_build_object('id', p.id, 'kind', p.kind, 'sha256', p.sha256, 'content_type', p.content_type, 'size_bytes', p.size_bytes, 'is_active', p.is_active, 'quarantine_reason', NULLIF(p.quarantine_reason, ''), 'created_at', p.created_at) ORDER BY p.created_at DESC, p.id DESC), '[]')
     FROM reference_photo p WHERE p.beneficiary_id = b.id) AS photos
FROM beneficiary b WHERE b.id = $1
"""


async def detail_json(*, scope: Scope, beneficiary_id: int) -> dict[str, Any]:
    """The detail page: the person, the payment-status history and the photos. On PostgreSQL one
    statement (the history and photos aggregated as JSON); elsewhere three ORM reads."""
    if is_postgres():
        rows = await connections.get("default").execute_query_dict(_DETAIL_SQL_POSTGRES, [beneficiary_id])
        if not rows:
            raise NotFound("未找到该优抚对象", code="beneficiary_not_found")
        row = rows[0]
        await scope.require_station_visible(row["station_id"])
        payload = row_json(row)
        history, photos = (json.loads(v) if isinstance(v, str) else v for v in (row["status_history"], row["photos"]))
        payload["status_history"] = [{"from": h["from"], "to": h["to"], "effective_date": h["effective_date"], "reason": h["reason"], "at": _iso(h["at"])} for h in history]
        payload["photos"] = [{**p, "created_at": _iso(p["created_at"])} for p in photos]
        return payload
    b = await get_beneficiary(scope=scope, beneficiary_id=beneficiary_id)
    payload = beneficiary_json(b)
    payload["status_history"] = [
        {"from": h.from_status.value if h.from_status else None, "to": h.to_status.value, "effective_date": h.effective_date.isoformat(), "reason": h.reason, "at": h.created_at.isoformat()}
        for h in await status_history(beneficiary_id=b.id)
    ]
    payload["photos"] = [photo_json(p) for p in await list_photos(beneficiary_id=b.id)]
    return payload


async def update_beneficiary(*, scope: Scope, actor: Actor, beneficiary_id: int, changes: dict[str, Any], expected_version: int) -> Beneficiary:
    b = await get_beneficiary(scope=scope, beneficiary_id=beneficiary_id)
    await scope.require_station_writable(b.station_id)
    unknown = set(changes) - set(EDITABLE_FIELDS) - {"id_number"}
    if unknown:
        raise ValidationFailed("不能修改这些字段", code="field_not_editable", fields=sorted(unknown))
    if "station_id" in changes and changes["station_id"] != b.station_id:
        await scope.require_station_writable(changes["station_id"])
        await _station(changes["station_id"])
    if "village_id" in changes:
        await _check_village(changes["village_id"], changes.get("station_id", b.station_id))
    return await apply_changes(actor=actor, beneficiary=b, changes=changes, expected_version=expected_version)


async def apply_changes(*, actor: Actor, beneficiary: Beneficiary, changes: dict[str, Any], expected_version: int | None = None, action: str = "beneficiary.updated") -> Beneficiary:
    """Write changed fields with an optimistic version check; an ID number change re-derives birth date and sex."""
    before = _audit_view(beneficiary)
    updates: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "id_number":
            parsed = validated_id_number(value)
            new_hash = cipher().lookup_hash(parsed.value)
            if new_hash != beneficiary.id_number_hash:
                updates.update(
                    id_number_encrypted=cipher().encrypt(parsed.value, associated=b"beneficiary.id_number"),
                    id_number_hash=new_hash,
                    id_number_masked=parsed.masked,
                    birth_date=parsed.birth_date,
                    sex=parsed.sex,
                )
        elif getattr(beneficiary, field) != value:
            updates[field] = value
    if not updates:
        return beneficiary
    version = beneficiary.version if expected_version is None else expected_version
    async with in_transaction():
        try:
            changed = await Beneficiary.filter(id=beneficiary.id, version=version).update(**updates, version=version + 1)
        except IntegrityError as exc:
            raise Conflict("该身份证号码已登记", code="duplicate_id_number") from exc
        if changed == 0:
            raise Conflict("该记录已被他人修改，请刷新后重试", code="version_conflict")
        fresh = await Beneficiary.get(id=beneficiary.id)
        await audit.record(actor=actor, action=action, entity_type="beneficiary", entity_id=beneficiary.id, before=before, after=_audit_view(fresh))
    return fresh


async def reveal_id_number(*, scope: Scope, actor: Actor, beneficiary_id: int, purpose: str = "viewed", details: dict[str, Any] | None = None) -> str:
    """The whole ID number, for roles that may see it; every reveal (a view, a printed form) is audited."""
    b = await get_beneficiary(scope=scope, beneficiary_id=beneficiary_id)
    if not scope.can_see_full_id_number:
        raise Forbidden("当前角色不能查看完整身份证号码", code="id_number_restricted")
    await audit.record(actor=actor, action=f"beneficiary.id_number_{purpose}", entity_type="beneficiary", entity_id=b.id, details=details)
    return decrypt_id_number(b)


async def change_payment_status(*, actor: Actor, beneficiary: Beneficiary, to_status: PaymentStatus, effective_date: date, reason: str, death_date: date | None = None) -> Beneficiary:
    """The one place payment status changes: history row, audit entry and the new status together."""
    if beneficiary.payment_status == to_status and death_date is None:
        return beneficiary
    async with in_transaction():
        before = beneficiary.payment_status
        updates: dict[str, Any] = {"payment_status": to_status, "version": beneficiary.version + 1}
        if death_date is not None:
            updates["death_date"] = death_date
        await Beneficiary.filter(id=beneficiary.id).update(**updates)
        await PaymentStatusChange.create(beneficiary_id=beneficiary.id, from_status=before, to_status=to_status, effective_date=effective_date, reason=reason, staff_id=int(actor.id) if actor.type == "staff" and actor.id else None)
        await audit.record(
            actor=actor,
            action="beneficiary.payment_status_changed",
            entity_type="beneficiary",
            entity_id=beneficiary.id,
            before={"payment_status": before.value},
            after={"payment_status": to_status.value, "effective_date": effective_date.isoformat(), "death_date": death_date.isoformat() if death_date else None},
            details={"reason": reason},
        )
    return await Beneficiary.get(id=beneficiary.id)


async def status_history(*, beneficiary_id: int) -> list[PaymentStatusChange]:
    return await PaymentStatusChange.filter(beneficiary_id=beneficiary_id).order_by("id")


def photo_json(p: ReferencePhoto) -> dict[str, Any]:
    return {"id": p.id, "kind": p.kind.value, "sha256": p.sha256, "content_type": p.content_type, "size_bytes": p.size_bytes, "is_active": p.is_active, "quarantine_reason": p.quarantine_reason or None, "created_at": p.created_at.isoformat()}


async def add_photo(*, actor: Actor, beneficiary: Beneficiary, data: bytes, kind: PhotoKind, media_dir: Path, max_pixels: int = 24_000_000) -> tuple[ReferencePhoto, bool]:
    """Store a reference photo; returns (photo, created). The same image twice is one photo.

    The image is decoded first (off the event loop): one that cannot be decoded would make every
    later face check of this person fail.
    """
    media.sniff_type(data, allowed=media.IMAGE_TYPES)
    await asyncio.to_thread(check_image, data, max_pixels=max_pixels)
    stored = media.store(media_dir, data, category="photos", allowed=media.IMAGE_TYPES)
    existing = await ReferencePhoto.get_or_none(beneficiary_id=beneficiary.id, sha256=stored.sha256)
    if existing is not None:
        return existing, False
    async with in_transaction():
        if kind == PhotoKind.ID_CARD:
            # A newer ID card replaces the old chip photo as the matching reference.
            await ReferencePhoto.filter(beneficiary_id=beneficiary.id, kind=PhotoKind.ID_CARD, is_active=True).update(is_active=False)
        photo = await ReferencePhoto.create(
            beneficiary_id=beneficiary.id,
            kind=kind,
            sha256=stored.sha256,
            path=stored.path,
            content_type=stored.content_type,
            size_bytes=stored.size_bytes,
            added_by_staff_id=int(actor.id) if actor.type == "staff" and actor.id else None,
        )
        await audit.record(actor=actor, action="beneficiary.photo_added", entity_type="beneficiary", entity_id=beneficiary.id, details={"photo_id": photo.id, "kind": kind.value, "sha256": stored.sha256})
    return photo, True


async def list_photos(*, beneficiary_id: int) -> list[ReferencePhoto]:
    return await ReferencePhoto.filter(beneficiary_id=beneficiary_id).order_by("-created_at")
