"""Server-rendered SVG bar charts (no JavaScript library, nothing loaded from the internet).

Each line shows two bars on a 0–100 % track: the share confirmed (green) and the share visited at
home (blue when the bracket's quota is met, red when not), with a dark tick at the quota."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

LABEL_W, TRACK_W, TEXT_W, LINE_H = 200, 560, 230, 34
GREEN, BLUE, RED, TRACK, INK, MUTED = "#1a7f37", "#0b57d0", "#b3261e", "#eef1f4", "#1f2328", "#5b6470"


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 100.0


def _bars(lines: list[dict[str, Any]], *, title: str) -> Markup:
    height = 28 + LINE_H * len(lines)
    width = LABEL_W + TRACK_W + TEXT_W
    out = [f'<svg class="chart" width="100%" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">']
    for pct in (0, 50, 100):  # scale
        x = LABEL_W + TRACK_W * pct / 100
        out.append(f'<text x="{x:.0f}" y="12" font-size="11" fill="{MUTED}" text-anchor="middle">{pct}%</text>')
    for i, line in enumerate(lines):
        y = 22 + i * LINE_H
        if line.get("group"):
            out.append(f'<line x1="0" y1="{y - 3}" x2="{width}" y2="{y - 3}" stroke="#d8dde3"/>')
        out.append(f'<text x="0" y="{y + 17}" font-size="14" fill="{INK}">{escape(line["label"])}</text>')
        out.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{TRACK_W}" height="22" fill="{TRACK}" rx="2"/>')
        out.append(f'<rect x="{LABEL_W}" y="{y + 4}" width="{TRACK_W * min(line["confirmed_pct"], 100) / 100:.1f}" height="11" fill="{GREEN}"><title>确认 {line["confirmed_pct"]:.1f}%</title></rect>')
        colour = BLUE if line["met"] else RED
        out.append(f'<rect x="{LABEL_W}" y="{y + 16}" width="{TRACK_W * min(line["visited_pct"], 100) / 100:.1f}" height="8" fill="{colour}"><title>上门 {line["visited_pct"]:.1f}%</title></rect>')
        qx = LABEL_W + TRACK_W * min(line["quota_pct"], 100) / 100
        out.append(f'<line x1="{qx:.1f}" y1="{y + 1}" x2="{qx:.1f}" y2="{y + 27}" stroke="{INK}" stroke-width="2"><title>上门比例要求 {line["quota_pct"]:.0f}%</title></line>')
        out.append(f'<text x="{LABEL_W + TRACK_W + 10}" y="{y + 17}" font-size="13" fill="{RED if not line["met"] else INK}">{escape(line["text"])}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def station_bracket_chart(rows: list[dict[str, Any]]) -> Markup:
    """rows: reports.progress()["rows"] (station × age bracket)."""
    lines, previous = [], None
    for r in rows:
        station = (r["station"] or "").replace("退役军人服务站", "").replace("服务站", "") or "—"
        lines.append(
            {
                "label": f"{station if station != previous else ''}  {r['age_bracket_label']}".strip() if station != previous else f"　　{r['age_bracket_label']}",
                "group": station != previous and previous is not None,
                "confirmed_pct": r["confirmed_pct"],
                "visited_pct": _pct(r["home_visited"], r["people"]),
                "quota_pct": _pct(r["home_visits_required"], r["people"]),
                "met": r["home_visit_quota_met"],
                "text": f"确认 {r['confirmed']}/{r['people']} · 上门 {r['home_visited']}/{r['home_visits_required']}",
            }
        )
        previous = station
    return _bars(lines, title="各服务站、各年龄段确认与上门进度")


def bracket_quota_chart(brackets: list[dict[str, Any]]) -> Markup:
    """brackets: [{bracket, people, required, done, confirmed}] summed over the stations in scope."""
    lines = [
        {
            "label": b["bracket"],
            "confirmed_pct": _pct(b["confirmed"], b["people"]),
            "visited_pct": _pct(b["done"], b["people"]),
            "quota_pct": _pct(b["required"], b["people"]),
            "met": b["done"] >= b["required"],
            "text": f"确认 {b['confirmed']}/{b['people']} · 上门 {b['done']}/{b['required']}" + ("" if b["done"] >= b["required"] else f"（差 {b['required'] - b['done']}）"),
        }
        for b in brackets
    ]
    return _bars(lines, title="各年龄段上门比例达标情况")
