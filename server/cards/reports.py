"""Documents the card work produces and sends up the chain (逐级上报): refused and short shipments,
the November clean-up, the written report of difficult cases. Each is a stored HTML document with a
record of where it goes and when the city bureau received it."""

from __future__ import annotations

import hashlib
import html
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from models.cards import CardReport
from models.org import OrgKind, OrgUnit
from models.staff import Role
from server import media
from server.actors import Actor
from server.audit import service as audit
from server.auth.scope import Scope
from server.errors import Conflict, NotFound

CITY_BUREAU = "市退役军人事务局"
PROVINCE_CENTRE = "省退役军人服务中心"
KIND_LABELS = {
    "shipment_refused": "优待证快递破损拒收情况报告",
    "shipment_discrepancy": "优待证快递数量不符情况报告",
    "cleanup": "优待证重点核查阶段问题清理情况报告",
    "difficult_cases": "优待证申领疑难问题书面报告",
}


def store_html(media_dir: Path, document: str) -> tuple[str, str]:
    data = document.encode()
    digest = hashlib.sha256(data).hexdigest()
    relative = Path("card_reports") / f"{digest}.html"
    target = media_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    return relative.as_posix(), digest


def render_document(*, title: str, issuer: str, addressed_to: list[str], facts: list[tuple[str, str]], paragraphs: list[str], headers: list[str] | None = None, rows: list[list[Any]] | None = None) -> str:
    e = html.escape
    fact_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    table = ""
    if headers:
        head = "".join(f"<th>{e(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows or [])
        table = f"<table class='list'><tr>{head}</tr>{body or '<tr><td colspan=99>无</td></tr>'}</table>"
    text = "".join(f"<p>{e(p)}</p>" for p in paragraphs)
    now = datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M")
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:"SimSun","Songti SC",serif;margin:2cm}}h1{{text-align:center;font-size:18pt}}table{{border-collapse:collapse;width:100%;margin:1em 0}}th,td{{border:1px solid #000;padding:6px;text-align:left}}</style></head><body>
<h1>{e(title)}</h1><p>报送：{e(" → ".join(addressed_to))}</p><table>{fact_rows}</table>{text}{table}
<p style="text-align:right">{e(issuer)}<br>{now}</p></body></html>"""


async def create_report(*, actor: Actor, kind: str, district_id: int, title: str, document: str, route: list[str], data: dict[str, Any], media_dir: Path, shipment_id: int | None = None) -> CardReport:
    path, digest = store_html(media_dir, document)
    report = await CardReport.create(kind=kind, district_id=district_id, title=title, path=path, sha256=digest, route=route, shipment_id=shipment_id, data=data, created_by_staff_id=int(actor.id) if actor.type == "staff" and actor.id else None)
    await audit.record(actor=actor, action="card_report.sent", entity_type="card_report", entity_id=report.id, details={"kind": kind, "district_id": district_id, "route": route, "sha256": digest})
    return report


def report_json(r: CardReport) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "kind_label": KIND_LABELS.get(r.kind, r.kind),
        "district_id": r.district_id,
        "title": r.title,
        "route": r.route,
        "shipment_id": r.shipment_id,
        "data": r.data,
        "sha256": r.sha256,
        "sent_at": r.created_at.isoformat(),
        "received_at": r.received_at.isoformat() if r.received_at else None,
    }


async def visible_districts(scope: Scope) -> set[int] | None:
    """Districts whose documents and snapshots this reader may see; None means all (admin)."""
    if scope.is_global:
        return None
    if scope.org_kind == OrgKind.DISTRICT:
        return {scope.org_unit_id}
    if scope.org_kind == OrgKind.CITY:
        return set(await OrgUnit.filter(parent_id=scope.org_unit_id, kind=OrgKind.DISTRICT).values_list("id", flat=True))
    ids = await scope.station_ids() or frozenset()
    return set(await OrgUnit.filter(id__in=list(ids)).values_list("parent_id", flat=True))


async def list_reports(*, scope: Scope, kind: str | None = None) -> list[CardReport]:
    scope.require_role(Role.CENTRE, Role.BUREAU, Role.CITY, Role.AUDITOR)
    query = CardReport.all()
    districts = await visible_districts(scope)
    if districts is not None:
        query = query.filter(district_id__in=list(districts))
    if kind:
        query = query.filter(kind=kind)
    return await query.order_by("-id").limit(500)


async def get_report(*, scope: Scope, report_id: int) -> CardReport:
    scope.require_role(Role.CENTRE, Role.BUREAU, Role.CITY, Role.AUDITOR)
    report = await CardReport.get_or_none(id=report_id)
    districts = await visible_districts(scope)
    if report is None or (districts is not None and report.district_id not in districts):
        raise NotFound("报告不存在", code="report_not_found")
    return report


async def acknowledge(*, scope: Scope, actor: Actor, report_id: int) -> CardReport:
    """The city bureau receives the report (and forwards it where the route goes on)."""
    scope.require_role(Role.CITY)
    scope.require_write()
    report = await get_report(scope=scope, report_id=report_id)
    async with in_transaction():
        if not await CardReport.filter(id=report.id, received_at=None).update(received_at=datetime.now(UTC), received_by_staff_id=int(actor.id or 0)):
            raise Conflict("该报告已签收", code="report_already_received")
        await audit.record(actor=actor, action="card_report.received", entity_type="card_report", entity_id=report.id, details={"kind": report.kind})
    return await CardReport.get(id=report.id)


def report_file(media_dir: Path, report: CardReport) -> Path:
    return media.resolve(media_dir, report.path)
