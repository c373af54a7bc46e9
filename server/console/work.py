"""Console-only queries the services do not offer (yet): the clerk's search, pinyin order, the unsent-message
list with name/phone/text, the stored documents of a person, and what became of a message just queued.
Everything goes through the same ``Scope`` as the API; nothing here changes data except the audited view."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypinyin import Style, lazy_pinyin
from tortoise.expressions import Q

from models.cards import Booking, Card, CardApplication, Shipment
from models.confirmation import ConfirmationRecord
from models.org import OrgUnit
from models.registry import Beneficiary, Category, PaymentStatus, ReferencePhoto
from models.wechat import Notification, NotificationStatus, ProxyGrant
from server import media
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import NotFound
from server.notifications.templates import default_registry, render_template
from server.registry import service as registry

UNSENT_STATUSES = (NotificationStatus.NO_QUOTA, NotificationStatus.REFUSED, NotificationStatus.FAILED, NotificationStatus.UNCERTAIN)


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
    order = {"birth": ("birth_date", "id"), "-birth": ("-birth_date", "id"), "station": ("station_id", "id")}.get(sort, ("station_id", "id"))
    return await query.order_by(*order).offset((page - 1) * page_size).limit(page_size), total


async def notification_outcome(*, dedupe_prefix: str) -> str:
    """What the clerk may truthfully say about a message the service just queued."""
    rows = await Notification.filter(dedupe_key__startswith=dedupe_prefix)
    if not rows:
        return "未发送通知"
    if any(r.status == NotificationStatus.SENT for r in rows):
        return "已微信通知本人"
    if all(r.status in UNSENT_STATUSES for r in rows):
        return "但无法通过微信通知本人，已列入“待电话通知”，请电话告知"
    return "微信通知已排队发送（如发送失败会列入“待电话通知”）"


@dataclass
class UnsentRow:
    id: int
    name: str
    phone: str
    station: str
    title: str
    text: str
    status: str
    reason: str
    created_at: Any


async def unsent_messages(*, scope: Scope, include_handled: bool, limit: int = 500) -> list[UnsentRow]:
    """Messages that could not go out, with whom to phone and what to tell them."""
    rows = Notification.filter(status__in=UNSENT_STATUSES)
    rows = await scope.filter_by_station(rows)
    if not include_handled:
        rows = rows.filter(handled_at__isnull=True)
    items = await rows.order_by("-id").limit(limit)
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
        out.append(UnsentRow(id=n.id, name=person.name if person else "—", phone=person.phone if person else "", station=stations.get(n.station_id or 0, ""), title=title, text=text, status=n.status.value, reason=n.last_error, created_at=n.created_at))
    return out


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
    """The booking behind a scanned QR token or a typed short code, without checking it in: the clerk
    first sees whose card it is (holder, or proxy and for whom)."""
    from server.cards.booking import verify_qr_token

    code = code.strip()
    if "." in code:
        booking = await Booking.get_or_none(id=verify_qr_token(code, key=settings.security.qr_signing_key.get_secret_value()))
    else:
        booking = await Booking.get_or_none(short_code=code.upper())
    if booking is None:
        raise NotFound("预约不存在，请核对预约码", code="booking_not_found")
    card = await Card.get(id=booking.card_id)
    if not await scope.contains_station(card.station_id):
        raise NotFound("预约不存在，请核对预约码", code="booking_not_found")
    return booking


async def booking_preview(*, scope: Scope, booking_id: int) -> dict[str, Any] | None:
    booking = await Booking.get_or_none(id=booking_id).select_related("slot", "card")
    if booking is None or not await scope.contains_station(booking.card.station_id):
        return None
    holder = await Beneficiary.get(id=booking.card.beneficiary_id)
    proxy_name = ""
    if booking.as_proxy:
        grant = await ProxyGrant.filter(beneficiary_id=holder.id, proxy_user_id=booking.user_id).order_by("-id").first()
        proxy_name = grant.proxy_name if grant else "代领人"
    return {"id": booking.id, "short_code": booking.short_code, "status": booking.status.value, "holder": holder.name, "holder_id_number": holder.id_number_masked, "as_proxy": booking.as_proxy, "proxy_name": proxy_name, "slot": f"{booking.slot.day.isoformat()} {booking.slot.start_time}–{booking.slot.end_time}"}


async def mark_handled(*, scope: Scope, actor: Actor, staff_id: int, notification: Notification, note: str) -> bool:
    """Staff reached the person another way (the same rule as POST /api/staff/notifications/{id}/handled)."""
    from datetime import UTC, datetime

    await scope.require_station_writable(notification.station_id or 0)
    changed = await Notification.filter(id=notification.id, handled_at__isnull=True).update(handled_at=datetime.now(UTC), handled_by_staff_id=staff_id)
    if changed:
        await audit.record(actor=actor, action="notification.handled_offline", entity_type="notification", entity_id=notification.id, details={"note": note})
    return bool(changed)


def xlsx_table(*, title: str, headers: list[tuple[str, int]], rows: list[list[Any]]) -> bytes:
    """One sheet as clerks expect it: a bold, frozen header row, sensible column widths, text not numbers
    for phone and ID numbers (no 1.39E+10), and the sheet named in Chinese."""
    from io import BytesIO

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([h for h, _ in headers])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(vertical="center")
    for row in rows:
        sheet.append(["" if v is None else str(v) if isinstance(v, str) or (isinstance(v, int) and len(str(v)) > 11) else v for v in row])
    for index, (_, width) in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def attachment(filename: str) -> str:
    """Content-Disposition for a Chinese file name (RFC 6266/5987), with an ASCII fallback for old browsers."""
    from urllib.parse import quote

    fallback = "".join(c if c.isascii() and c.isalnum() or c in ".-_" else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
