"""Public notice of the unconfirmed (公告): per village, per station or for the county, names and IDs masked.

Publication is recorded by the server (its date is the server's date, never typed in) together with
its evidence — the printed notice, a photo of each board, a capture of the website page — and the
channels used (县政府网站, 镇街公示栏, 村(社区)公开栏). The 60 days of suspensions.py run from it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from models.confirmation import (
    Campaign,
    Confirmation,
    ConfirmationStatus,
    NoticeEvidence,
    PublicNotice,
)
from models.org import OrgKind, OrgUnit
from server import clock, media, xlsx
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.clock import china_today
from server.confirmation.campaigns import get_campaign
from server.errors import Conflict, NotFound, ValidationFailed
from server.notifications.outbox import notify_beneficiary
from server.registry.categories import CATEGORY_LABELS

# Everyone not yet confirmed and not deceased is listed in the notice (a pending face-check review too).
UNCONFIRMED = [ConfirmationStatus.PENDING, ConfirmationStatus.IN_REVIEW, ConfirmationStatus.NOT_FOUND, ConfirmationStatus.MOVED]
STATUS_TEXT = {"pending": "未确认", "in_review": "自助确认待核验", "not_found": "未联系上", "moved": "已迁出待核实"}


CHANNELS = {"website": "县政府网站", "town_board": "镇街公示栏", "village_board": "村(社区)公开栏"}


@dataclass
class Evidence:
    channel: str
    data: bytes
    note: str = ""


def mask_name(name: str) -> str:
    """For public display: 张建国 → 张*国, 李四 → 李*, 欧阳小明 → 欧**明."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


async def unconfirmed(*, campaign_id: int, station_id: int | None, village_id: int | None = None) -> list[Confirmation]:
    # Moved-out people left the count with a reason (quotas.py): they are not this county's to notice.
    query = Confirmation.filter(campaign_id=campaign_id, status__in=UNCONFIRMED, exclusion__isnull=True)
    if station_id is not None:
        query = query.filter(station_id=station_id)
    if village_id is not None:
        query = query.filter(beneficiary__village_id=village_id)
    return await query.select_related("beneficiary").order_by("station_id", "beneficiary__name", "id")


async def generate_notice(*, scope: Scope, actor: Actor, campaign_id: int, station_id: int | None, village_id: int | None = None) -> PublicNotice:
    """The notice of everyone still unconfirmed, for one village, one station or (both None) the
    county. Names and ID numbers are masked; the entries are frozen in the notice when generated."""
    today = china_today()
    campaign = await get_campaign(scope=scope, campaign_id=campaign_id)
    if village_id is not None:
        village = await OrgUnit.get_or_none(id=village_id, kind=OrgKind.VILLAGE)
        if village is None or village.parent_id is None or not await scope.contains_station(village.parent_id):
            raise NotFound("村(社区)不存在", code="village_not_found")
        if station_id is not None and station_id != village.parent_id:
            raise ValidationFailed("村(社区)不属于该服务站", code="village_not_in_station")
        station_id = village.parent_id
    if station_id is None and scope.org_kind.value == "station":
        station_id = scope.org_unit_id  # a station publishes its own list; district roles the county's
    if station_id is not None:
        await scope.require_station_writable(station_id)
    else:
        scope.require_write()
    if today <= campaign.implementation_end:
        raise Conflict("实施阶段结束后才能生成未确认人员公告", code="not_notice_stage")
    stations = {u.id: u.name for u in await OrgUnit.filter(parent_id=campaign.district_id)}
    if station_id is not None and station_id not in stations:
        raise NotFound("服务站不属于该区县", code="station_not_found")
    entries = [
        {"station": stations.get(c.station_id, ""), "name": mask_name(c.beneficiary.name), "id_number": c.beneficiary.id_number_masked, "category": CATEGORY_LABELS[c.beneficiary.category], "beneficiary_id": c.beneficiary_id, "station_id": c.station_id}
        for c in await unconfirmed(campaign_id=campaign.id, station_id=station_id, village_id=village_id)
    ]
    async with in_transaction():
        notice = await PublicNotice.create(campaign=campaign, station_id=station_id, village_id=village_id, entries=entries, created_by_staff_id=int(actor.id or 0))
        await audit.record(actor=actor, action="notice.generated", entity_type="campaign", entity_id=campaign.id, details={"notice_id": notice.id, "station_id": station_id, "village_id": village_id, "people": len(entries)})
    return notice


async def list_notices(*, scope: Scope, campaign_id: int) -> list[PublicNotice]:
    await get_campaign(scope=scope, campaign_id=campaign_id)
    items = await PublicNotice.filter(campaign_id=campaign_id).order_by("-id")
    return [n for n in items if n.station_id is None or await scope.contains_station(n.station_id)]


async def get_notice(*, scope: Scope, notice_id: int) -> PublicNotice:
    notice = await PublicNotice.get_or_none(id=notice_id).select_related("campaign")
    if notice is None:
        raise NotFound("公告不存在", code="notice_not_found")
    await get_campaign(scope=scope, campaign_id=notice.campaign_id)
    if notice.station_id is not None:
        await scope.require_station_visible(notice.station_id)
    return notice


def _check_evidence(evidence: list[Evidence]) -> None:
    if not evidence:
        raise ValidationFailed("请上传公告张贴或发布的凭证（打印的公告、公示栏照片或网站截图）", code="evidence_required")
    for item in evidence:
        if item.channel not in CHANNELS:
            raise ValidationFailed(f"未知的公告渠道：{item.channel}", code="bad_channel", allowed=list(CHANNELS))


async def _store_evidence(*, actor: Actor, notice: PublicNotice, evidence: list[Evidence], media_dir: Path) -> list[NoticeEvidence]:
    stored = []
    for item in evidence:
        saved = media.store(media_dir, item.data, category="notices", allowed=media.DOCUMENT_TYPES)
        stored.append(await NoticeEvidence.create(notice_id=notice.id, channel=item.channel, path=saved.path, sha256=saved.sha256, content_type=saved.content_type, note=item.note[:300], staff_id=int(actor.id or 0)))
    return stored


NOTIFY_CHUNK = 200


async def publish_notice(*, scope: Scope, actor: Actor, notice_id: int, evidence: list[Evidence], media_dir: Path, issuer: str = "") -> PublicNotice:
    """Record that the notice is published today (the server's date: the 60 days run from it) with
    its evidence and channels, and tell each listed person still unconfirmed."""
    notice = await get_notice(scope=scope, notice_id=notice_id)
    if notice.station_id is not None:
        await scope.require_station_writable(notice.station_id)
    else:
        scope.require_write()
    _check_evidence(evidence)
    now = clock.now()
    published_on = clock.china_today()
    if published_on <= notice.campaign.implementation_end:
        raise Conflict("实施阶段结束后才能发布公告", code="not_notice_stage")
    if notice.published_on is not None:
        raise Conflict("公告已发布", code="notice_already_published")
    title, publisher = await notice_heading(notice, issuer=issuer)
    channels = sorted({e.channel for e in evidence})
    async with in_transaction():
        changed = await PublicNotice.filter(id=notice.id, published_on__isnull=True).update(published_on=published_on, published_at=now, published_by_staff_id=int(actor.id or 0), channels=channels)
        if not changed:
            raise Conflict("公告已发布", code="notice_already_published")
        stored = await _store_evidence(actor=actor, notice=notice, evidence=evidence, media_dir=media_dir)
        await audit.record(actor=actor, action="notice.published", entity_type="campaign", entity_id=notice.campaign_id, details={"notice_id": notice.id, "published_on": published_on.isoformat(), "channels": channels, "evidence_sha256": [e.sha256 for e in stored]})
    # Only those still unconfirmed now; a person listed in both the county and a station notice is
    # told once per campaign (the dedupe key), and the outbox spends quota only where there is some.
    # After the publication commits, in chunks that each commit on their own: no lock is held across
    # a county's worth of messages, and the dedupe key makes a repeated chunk harmless.
    people = await Confirmation.filter(campaign_id=notice.campaign_id, beneficiary_id__in=[e["beneficiary_id"] for e in notice.entries], status__in=UNCONFIRMED).values("beneficiary_id", "station_id")
    for start in range(0, len(people), NOTIFY_CHUNK):
        async with in_transaction():
            for person in people[start : start + NOTIFY_CHUNK]:
                await notify_beneficiary(
                    beneficiary_id=person["beneficiary_id"],
                    station_id=person["station_id"],
                    template_key="notice_published",
                    context={"notice_id": notice.id, "title": title, "publisher": publisher, "published_on": published_on},
                    dedupe_key=f"notice:{notice.campaign_id}:{person['beneficiary_id']}",
                )
    return await PublicNotice.get(id=notice.id)


async def add_evidence(*, scope: Scope, actor: Actor, notice_id: int, evidence: list[Evidence], media_dir: Path) -> PublicNotice:
    """More proof after publication (another village board, the website page): the channels grow."""
    notice = await get_notice(scope=scope, notice_id=notice_id)
    if notice.station_id is not None:
        await scope.require_station_writable(notice.station_id)
    else:
        scope.require_write()
    _check_evidence(evidence)
    if notice.published_on is None:
        raise Conflict("公告尚未发布", code="notice_not_published")
    async with in_transaction():
        stored = await _store_evidence(actor=actor, notice=notice, evidence=evidence, media_dir=media_dir)
        channels = sorted(set(notice.channels or []) | {e.channel for e in evidence})
        await PublicNotice.filter(id=notice.id).update(channels=channels)
        await audit.record(actor=actor, action="notice.evidence_added", entity_type="campaign", entity_id=notice.campaign_id, details={"notice_id": notice.id, "channels": channels, "evidence_sha256": [e.sha256 for e in stored]})
    return await PublicNotice.get(id=notice.id)


async def list_evidence(*, notice_id: int) -> list[NoticeEvidence]:
    return await NoticeEvidence.filter(notice_id=notice_id).order_by("id")


def evidence_json(e: NoticeEvidence) -> dict[str, Any]:
    return {"id": e.id, "channel": e.channel, "channel_label": CHANNELS.get(e.channel, e.channel), "sha256": e.sha256, "content_type": e.content_type, "note": e.note, "staff_id": e.staff_id, "uploaded_at": e.created_at.isoformat(), "file": f"/api/notice-evidence/{e.id}"}


async def get_evidence(*, scope: Scope, evidence_id: int) -> NoticeEvidence:
    item = await NoticeEvidence.get_or_none(id=evidence_id)
    if item is None:
        raise NotFound("凭证不存在", code="evidence_not_found")
    await get_notice(scope=scope, notice_id=item.notice_id)
    return item


def notice_json(notice: PublicNotice, *, with_entries: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": notice.id,
        "campaign_id": notice.campaign_id,
        "station_id": notice.station_id,
        "village_id": notice.village_id,
        "published_on": notice.published_on.isoformat() if notice.published_on else None,
        "published_at": notice.published_at.isoformat() if notice.published_at else None,
        "published_by_staff_id": notice.published_by_staff_id,
        "channels": notice.channels or [],
        "people": len(notice.entries),
        "created_at": notice.created_at.isoformat(),
    }
    if with_entries:
        data["entries"] = [{k: v for k, v in e.items() if k not in ("beneficiary_id", "station_id")} for e in notice.entries]
    return data


async def notice_heading(notice: PublicNotice, *, issuer: str = "") -> tuple[str, str]:
    """The notice's title (with the station, and the village for a village notice) and the issuer:
    ``settings.confirmation.notice_issuer`` when set, otherwise the county office's name."""
    campaign = notice.campaign if isinstance(notice.campaign, Campaign) else await Campaign.get(id=notice.campaign_id)
    district = await OrgUnit.get_or_none(id=campaign.district_id)
    station = await OrgUnit.get_or_none(id=notice.station_id) if notice.station_id else None
    village = await OrgUnit.get_or_none(id=notice.village_id) if notice.village_id else None
    place = "".join(u.name for u in (station, village) if u is not None)
    title = f"{campaign.name}未确认人员公告" + (f"（{place}）" if place else "")
    return title, issuer.strip() or (district.name if district else "县退役军人事务局")


def notice_xlsx(notice: PublicNotice, title: str) -> bytes:
    return xlsx.workbook(
        xlsx.Sheet(
            title="未确认人员公告",
            header_rows=[[title]],
            headers=["序号", "服务站", "姓名", "身份证号码", "优抚类别"],
            rows=[[index, entry["station"], entry["name"], entry["id_number"], entry["category"]] for index, entry in enumerate(notice.entries, start=1)],
            widths=[6, 26, 10, 22, 26],
        )
    )


def notice_html(notice: PublicNotice, title: str, publisher: str = "县退役军人事务局") -> str:
    """A page to print for the county website, station boards and village (community) boards."""
    rows = "".join(
        f"<tr><td>{i}</td><td>{html.escape(e['station'])}</td><td>{html.escape(e['name'])}</td><td>{html.escape(e['id_number'])}</td><td>{html.escape(e['category'])}</td></tr>"
        for i, e in enumerate(notice.entries, start=1)
    ) or '<tr><td colspan="5">无</td></tr>'
    day = notice.published_on or china_today()
    published = f"{day.year}年{day.month}月{day.day}日"
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:"SimSun","Songti SC","Noto Serif CJK SC",serif;margin:2cm;}}h1{{text-align:center;font-size:22pt}}table{{border-collapse:collapse;width:100%;font-size:13pt}}td,th{{border:1px solid #000;padding:4px 8px;text-align:center}}p{{font-size:13pt;line-height:1.8;text-indent:2em}}.sign{{text-align:right;text-indent:0}}tr{{page-break-inside:avoid}}@media print{{body{{margin:1cm}}}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>根据享受国家定期抚恤补助优抚对象年度确认工作安排，以下{len(notice.entries)}名优抚对象尚未完成本年度确认。请本人或其家属自公告之日起六十日内，与所在镇（街道）退役军人服务站联系，或通过微信小程序完成线上自助确认。逾期仍未能取得联系、无法确认的，经县级退役军人事务部门审批后，自下月起暂停发放抚恤补助金；完成确认后按规定恢复发放。</p>
<p>为保护个人信息，姓名和身份证号码已作部分隐藏处理。</p>
<table><thead><tr><th>序号</th><th>服务站</th><th>姓名</th><th>身份证号码</th><th>优抚类别</th></tr></thead><tbody>{rows}</tbody></table>
<p class="sign">{html.escape(publisher)}<br>{published}</p></body></html>"""
