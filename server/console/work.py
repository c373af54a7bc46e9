"""What the console shows beside the services' own data: the clerk's search and pinyin order, the unsent-message
list with name/phone/text, the stored documents of a person, whose card a booking is. The rules themselves
(which messages count as unsent, marking one handled, what became of a message, finding a booking to check in)
live in the domain services and are called from here. Nothing here changes data except the audited view."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypinyin import Style, lazy_pinyin
from tortoise.expressions import Q

from models.cards import Booking, CardApplication, Shipment
from models.confirmation import ConfirmationRecord
from models.org import OrgUnit
from models.registry import Beneficiary, Category, PaymentStatus, ReferencePhoto
from models.wechat import ProxyGrant
from server import media, xlsx
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.cards import booking as booking_service
from server.errors import NotFound
from server.notifications import unsent as unsent_service
from server.notifications.templates import default_registry, render_template
from server.registry import service as registry


def pinyin_key(name: str) -> str:
    """Sort key for Chinese names as a clerk expects (张 after 王, by reading, not by code point)."""
    return " ".join(lazy_pinyin(name or "", style=Style.TONE3))


async def search_people(
    *, scope: Scope, q: str, station_id: int | None, category: Category | None, status: PaymentStatus | None, sort: str, page: int, page_size: int
) -> tuple[list[Beneficiary], int]:
    """Search the way clerks do: a name (or part), the last 4 characters of the ID number, a phone number
    (or its end), a village or address, or a full 18-digit ID number."""
    query = await scope.filter_by_station(Beneficiary.all())
    q = q.strip()
    if len(q) == 18 and q[:17].isdigit():
        query = query.filter(id_number_hash=registry.id_lookup_hash(q.upper()))
    elif len(q) == 4 and (q.isdigit() or (q[:3].isdigit() and q[3] in "xX")):
        query = query.filter(Q(id_number_masked__endswith=q.upper()) | Q(phone__endswith=q))  # last 4 of the ID number or the phone
    elif q.isdigit() and len(q) >= 5:
        query = query.filter(phone__contains=q)
    elif q:
        query = query.filter(Q(name__icontains=q) | Q(address__icontains=q) | Q(village__name__icontains=q))
    if station_id is not None:
        query = query.filter(station_id=station_id)
    if category is not None:
        query = query.filter(category=category)
    if status is not None:
        query = query.filter(payment_status=status)
    total = await query.count()
    if sort in ("name", "-name"):
        # Pinyin order is computed in Python: fine for one district's few thousand rows, ids only.
        rows = await query.values_list("id", "name")
        ordered = sorted(rows, key=lambda r: (pinyin_key(r[1]), r[0]), reverse=sort == "-name")
        ids = [r[0] for r in ordered[(page - 1) * page_size : page * page_size]]
        by_id = {b.id: b for b in await Beneficiary.filter(id__in=ids)}
        return [by_id[i] for i in ids if i in by_id], total
    order = {"birth": ("birth_date", "id"), "-birth": ("-birth_date", "id"), "station": ("station_id", "id"), "-station": ("-station_id", "id")}.get(sort, ("station_id", "id"))
    return await query.order_by(*order).offset((page - 1) * page_size).limit(page_size), total


OUTCOME_TEXT = {
    "none": "未发送通知",
    "sent": "已微信通知本人",
    "unsent": "但无法通过微信通知本人，已列入“待电话通知”，请电话告知",
    "queued": "微信通知已排队发送（如发送失败会列入“待电话通知”）",
}


async def notification_outcome(*, dedupe_prefix: str) -> str:
    """What the clerk may truthfully say about a message the service just queued (the rule is the outbox's)."""
    return OUTCOME_TEXT[await unsent_service.outcome(dedupe_prefix=dedupe_prefix)]


@dataclass
class UnsentRow:
    id: int
    name: str
    phone: str
    station_id: int | None
    station: str
    title: str
    text: str
    status: str
    reason: str
    created_at: Any


async def unsent_messages(*, scope: Scope, include_handled: bool, limit: int = 500, before_id: int | None = None) -> list[UnsentRow]:
    """Messages that could not go out, with whom to phone and what to tell them."""
    items = await unsent_service.list_unsent(scope=scope, include_handled=include_handled, limit=limit, before_id=before_id)
    people = {b.id: b for b in await Beneficiary.filter(id__in=[n.beneficiary_id for n in items if n.beneficiary_id])}
    stations = dict(await OrgUnit.filter(id__in=[n.station_id for n in items if n.station_id]).values_list("id", "name"))
    templates = default_registry()
    out = []
    for n in items:
        person = people.get(n.beneficiary_id or 0)
        try:
            template = templates.get(n.template_key)
            rendered = render_template(template, n.context)
            values = rendered.values()
            text = "；".join(f"{f.label + '：' if f.label else ''}{values.get(f.name, '')}" for f in template.fields if values.get(f.name))
            title = template.title
        except (KeyError, ValueError, TypeError, IndexError):  # a context the template no longer fits is still listed for phoning
            title, text = "通知", ""
        out.append(UnsentRow(id=n.id, name=person.name if person else "—", phone=person.phone if person else "", station_id=n.station_id, station=stations.get(n.station_id or 0, ""), title=title, text=text, status=n.status.value, reason=n.last_error, created_at=n.created_at))
    return out


def unsent_pages(*, scope: Scope, include_handled: bool, size: int = 1000) -> AsyncIterator[Sequence[UnsentRow]]:
    """Every unsent message, newest first, a page at a time (the phoning list export, any length)."""

    async def fetch(before: int | None, limit: int) -> list[UnsentRow]:
        return await unsent_messages(scope=scope, include_handled=include_handled, limit=limit, before_id=before)

    return xlsx.pages(fetch, key=lambda row: row.id, size=size)


# ---- stored documents and photos -------------------------------------------------------------------


@dataclass
class StoredDocument:
    key: str  # what the console's viewing route takes: kind-id[-n]
    title: str
    added_at: Any


async def documents_of(*, scope: Scope, beneficiary_id: int) -> list[StoredDocument]:
    person = await registry.get_beneficiary(scope=scope, beneficiary_id=beneficiary_id)
    docs: list[StoredDocument] = []
    for p in await ReferencePhoto.filter(beneficiary_id=person.id).order_by("-id"):
        docs.append(StoredDocument(f"photo-{p.id}", {"id_card": "身份证照片", "confirmation": "确认照片", "station_capture": "站内采集照片"}.get(p.kind.value, "照片"), p.created_at))
    for r in await ConfirmationRecord.filter(confirmation__beneficiary_id=person.id, photo_path__isnull=False).order_by("-id"):
        docs.append(StoredDocument(f"record-{r.id}", "上门走访照片" if r.kind == "home_visit" else "办理照片", r.happened_at))
    for a in await CardApplication.filter(beneficiary_id=person.id).order_by("-id"):
        if a.application_form_path:
            docs.append(StoredDocument(f"appform-{a.id}", f"优待证申请 {a.id}：签字的申领表", a.updated_at))
        if a.bank_form_path:
            docs.append(StoredDocument(f"bankform-{a.id}", f"优待证申请 {a.id}：签字的银行借记卡信息确认书", a.updated_at))
    for g in await ProxyGrant.filter(beneficiary_id=person.id).order_by("-id"):
        if getattr(g, "document_path", None):
            docs.append(StoredDocument(f"proxy-{g.id}", f"代办授权材料（{g.proxy_name}）", g.updated_at))
    return docs


async def open_document(*, scope: Scope, actor: Actor, media_dir: Path, key: str) -> Path:
    """The file behind one document key, after the scope check; each view is audited."""
    kind, _, rest = key.partition("-")
    ident, _, index = rest.partition("-")
    if not ident.isdigit():
        raise NotFound("文件不存在", code="document_not_found")
    path: str | None = None
    station_id: int | None = None
    beneficiary_id: int | None = None
    if kind == "photo":
        photo = await ReferencePhoto.get_or_none(id=int(ident)).select_related("beneficiary")
        if photo:
            path, station_id, beneficiary_id = photo.path, photo.beneficiary.station_id, photo.beneficiary_id
    elif kind == "record":
        record = await ConfirmationRecord.get_or_none(id=int(ident)).select_related("confirmation")
        if record:
            path, station_id, beneficiary_id = record.photo_path, record.confirmation.station_id, record.confirmation.beneficiary_id
    elif kind in ("appform", "bankform"):
        application = await CardApplication.get_or_none(id=int(ident))
        if application:
            path = application.application_form_path if kind == "appform" else application.bank_form_path
            station_id, beneficiary_id = application.station_id, application.beneficiary_id
    elif kind == "proxy":
        grant = await ProxyGrant.get_or_none(id=int(ident)).select_related("beneficiary")
        if grant:
            path, station_id, beneficiary_id = getattr(grant, "document_path", None), grant.beneficiary.station_id, grant.beneficiary_id
    elif kind == "damage" and index.isdigit():
        shipment = await Shipment.get_or_none(id=int(ident))
        if shipment and int(index) < len(shipment.damage_photos or []):
            stations = await scope.station_ids()
            district_ok = scope.is_global or (stations is not None and shipment.district_id in set(await OrgUnit.filter(id__in=list(stations)).values_list("parent_id", flat=True)))
            if district_ok:
                path = shipment.damage_photos[int(index)]
                await audit.record(actor=actor, action="document.viewed", entity_type="shipment", entity_id=shipment.id, details={"document": key})
                return media.resolve(media_dir, path)
    if not path or station_id is None or not await scope.contains_station(station_id):
        raise NotFound("文件不存在，或您无权查看", code="document_not_found")
    await audit.record(actor=actor, action="document.viewed", entity_type="beneficiary", entity_id=beneficiary_id or 0, details={"document": key})
    return media.resolve(media_dir, path)


async def find_booking(*, scope: Scope, settings: Any, code: str) -> Booking:
    """The booking behind a scanned QR token or a typed short code, without checking it in (the same
    lookup ``check_in`` uses): the clerk first sees whose card it is."""
    code = code.strip()
    found, _ = await booking_service.find_for_check_in(scope=scope, settings=settings, token=code if "." in code else None, short_code=None if "." in code else code)
    return found


async def booking_preview(*, scope: Scope, booking_id: int) -> dict[str, Any] | None:
    booking = await Booking.get_or_none(id=booking_id).select_related("slot", "card")
    if booking is None or not await scope.contains_station(booking.card.station_id):
        return None
    holder = await Beneficiary.get(id=booking.card.beneficiary_id)
    proxy_name = await booking_service.collector_name(booking) or ""
    return {"id": booking.id, "short_code": booking.short_code, "status": booking.status.value, "holder": holder.name, "holder_id_number": holder.id_number_masked, "as_proxy": booking.as_proxy, "proxy_name": proxy_name, "slot": f"{booking.slot.day.isoformat()} {booking.slot.start_time}–{booking.slot.end_time}"}


async def with_people(rows: list[dict[str, Any]], *, key: str = "beneficiary_id") -> list[dict[str, Any]]:
    """Rows of a list, each with its person's name, masked ID number, phone, village and station (what the
    clerk's search and the table need), read in three queries whatever the list's length."""
    people = {b.id: b for b in await Beneficiary.filter(id__in=list({r[key] for r in rows if r.get(key)}))}
    units = dict(await OrgUnit.filter(id__in=list({p.village_id for p in people.values() if p.village_id} | {p.station_id for p in people.values()} | {r["station_id"] for r in rows if r.get("station_id")})).values_list("id", "name"))
    out = []
    for r in rows:
        p = people.get(r.get(key) or 0)
        person = {"name": p.name, "id_number": p.id_number_masked, "phone": p.phone, "village": units.get(p.village_id or 0, ""), "address": p.address} if p else {}
        out.append({**person, **{k: v for k, v in r.items() if v is not None or k not in person}, "station": units.get(r.get("station_id") or (p.station_id if p else 0), "")})
    return out
