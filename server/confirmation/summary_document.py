"""总结上报: the campaign summary as the Word document the bureau takes to 局长办公会 and sends to the
city bureau's 优抚处 — 基本情况, 未完成确认人员情况说明, 目前存在问题及建议 — every number taken from
``reports.summary`` (the database), the unfinished listed person by person with the reason.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from server import clock

BASIC_ROWS = [
    ("people", "纳入确认人数"),
    ("deceased", "其中死亡"),
    ("moved_out", "其中迁出本县"),
    ("to_confirm", "扣除死亡、迁出后应确认"),
    ("confirmed", "已确认"),
    ("confirmed_pct", "确认率（%）"),
    ("by_home_visit", "上门服务确认"),
    ("by_station", "服务站确认"),
    ("by_self_service", "线上自助确认"),
    ("unconfirmed_total", "未完成确认"),
    ("home_visited", "上门确认人数"),
    ("home_visits_required", "按比例应上门人数"),
    ("suspended", "经审批暂停发放"),
    ("deaths", "比对发现死亡"),
    ("overpayment_total", "死亡后多发金额（元）"),
    ("overpayment_recovered", "已追回（元）"),
    ("overpayment_outstanding", "尚未追回（元）"),
]
BRACKET_COLUMNS = [("age_bracket_label", "年龄段"), ("to_confirm", "应确认"), ("confirmed", "已确认"), ("confirmed_pct", "确认率%"), ("home_visited", "上门确认"), ("home_visits_required", "应上门"), ("fully_confirmed", "全部确认")]
UNFINISHED_COLUMNS = ["序号", "服务站", "姓名", "身份证号码", "年龄段", "未完成原因"]
BRACKETS = {"80_plus": "80岁以上", "70_79": "70-79岁", "under_70": "70岁以下"}


def basic_numbers(data: dict[str, Any]) -> dict[str, Any]:
    """The 基本情况 figures exactly as printed (also what the test recounts against)."""
    return {
        **{key: data[key] for key in ("people", "deceased", "moved_out", "to_confirm", "confirmed", "confirmed_pct", "unconfirmed_total", "home_visited", "home_visits_required", "deaths", "overpayment_total", "overpayment_recovered", "overpayment_outstanding")},
        **{f"by_{m}": n for m, n in data["by_method"].items()},
        "suspended": data["suspensions"].get("approved", 0),
    }


def problems_and_suggestions(data: dict[str, Any], hardship: dict[str, int] | None = None) -> tuple[list[str], list[str]]:
    """问题 and 建议 read off the numbers: each problem found comes with what to do about it."""
    problems: list[str] = []
    suggestions: list[str] = []
    lagging = [r for r in data.get("ranking", []) if r["lagging"]]
    if lagging:
        problems.append("进度滞后的镇街：" + "、".join(f"{r['station']}（{r['confirmed_pct']}%，序时进度{r['expected_pct']}%）" for r in lagging) + "。")
        suggestions.append("对进度滞后的镇街采取现场督导、约谈等方式，督促按序时进度完成。")
    short = data["open_problems"]["home_visit_quota_short"]
    if short:
        problems.append(f"上门服务确认比例未达标的镇街年龄段{len(short)}个，尚需上门{sum(s['home_visits_missing'] for s in short)}人。")
        suggestions.append("按80岁以上100%、70至79岁不低于80%、70岁以下不低于60%的比例补足上门服务确认。")
    if data.get("face_to_face_missing"):
        problems.append(f"首年确认尚有{data['face_to_face_missing']}人未与工作人员见面。")
        suggestions.append("首年确认须做到见面全覆盖，对线上自助确认人员安排上门或到站见面。")
    if data["unconfirmed_total"]:
        problems.append(f"尚有{data['unconfirmed_total']}人未完成确认（名单及原因见第二部分）。")
        suggestions.append("继续通过电话、上门、家属等多种方式联系；公告60日内仍未能取得联系的，按程序审批暂停发放并同步完成系统操作。")
    if Decimal(data["overpayment_outstanding"]) > 0:
        problems.append(f"死亡人员多发抚恤补助金尚有{data['overpayment_outstanding']}元未追回（{data['overpayments_outstanding']}人）。")
        suggestions.append("会同财政部门和家属落实多发资金追回，逐笔登记追回金额和日期。")
    open_problems = data["open_problems"]
    if open_problems["open_review_items"] or open_problems["questioned_rechecks"]:
        problems.append(f"自助确认待人工核验{open_problems['open_review_items']}件，复核存疑{open_problems['questioned_rechecks']}件。")
        suggestions.append("及时完成人工核验和存疑数据核实，确保数据真实。")
    if open_problems["spot_check_warning"]:
        problems.append("本年度抽查不足两次。")
        suggestions.append("集中确认结束后组织不少于两次随机抽查。")
    if hardship and hardship.get("open"):
        problems.append(f"生活困难优抚对象在册{hardship['open']}人，其中跟踪逾期{hardship.get('overdue', 0)}人。")
        suggestions.append("对生活困难优抚对象落实帮扶措施和责任人，按期跟踪问效。")
    if not problems:
        problems.append("本次年度确认未发现突出问题。")
    return problems, suggestions


def _font(document: Any) -> None:
    style = document.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(12)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "SimSun")


def _table(document: Any, header: list[str], rows: list[list[Any]]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = ("是" if value else "否") if isinstance(value, bool) else str(value)


def summary_docx(data: dict[str, Any], *, district: str, issuer: str, hardship: dict[str, int] | None = None) -> bytes:
    document = Document()
    _font(document)
    title = document.add_heading(f"{district}{data['year']}年度享受国家定期抚恤补助优抚对象年度确认工作总结", level=1)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER

    document.add_heading("一、基本情况", level=2)
    numbers = basic_numbers(data)
    document.add_paragraph(
        f"本年度纳入确认{numbers['people']}人，其中死亡{numbers['deceased']}人、迁出本县{numbers['moved_out']}人，扣除后应确认{numbers['to_confirm']}人；"
        f"已确认{numbers['confirmed']}人，确认率{numbers['confirmed_pct']}%。其中上门服务确认{numbers['by_home_visit']}人，服务站确认{numbers['by_station']}人，"
        f"线上自助确认{numbers['by_self_service']}人。经审批暂停发放{numbers['suspended']}人；比对发现死亡{numbers['deaths']}人，死亡后多发{numbers['overpayment_total']}元，"
        f"已追回{numbers['overpayment_recovered']}元。"
    )
    _table(document, ["项目", "数值"], [[label, numbers[key]] for key, label in BASIC_ROWS])
    document.add_paragraph("分年龄段确认及上门服务情况：")
    _table(document, [label for _, label in BRACKET_COLUMNS], [[row[key] for key, _ in BRACKET_COLUMNS] for row in data["by_bracket"]])

    document.add_heading("二、未完成确认人员情况说明", level=2)
    listed = data["unconfirmed"]
    document.add_paragraph(f"截至{clock.china_today():%Y年%m月%d日}，未完成确认{data['unconfirmed_total']}人" + ("，名单如下：" if listed else "。"))
    if listed:
        _table(document, UNFINISHED_COLUMNS, [[i, u["station"], u["name"], u["id_number"], BRACKETS.get(u["age_bracket"], u["age_bracket"]), u["reason"]] for i, u in enumerate(listed, start=1)])
        if len(listed) < data["unconfirmed_total"]:
            document.add_paragraph(f"（另有{data['unconfirmed_total'] - len(listed)}人见附表。）")
    if data.get("moved_out_people"):
        document.add_paragraph("迁出本县不再纳入确认的人员：")
        _table(document, ["序号", "服务站", "姓名", "身份证号码", "说明"], [[i, m["station"], m["name"], m["id_number"], m["note"]] for i, m in enumerate(data["moved_out_people"], start=1)])

    document.add_heading("三、目前存在问题及建议", level=2)
    problems, suggestions = problems_and_suggestions(data, hardship)
    document.add_paragraph("（一）存在问题")
    for i, text in enumerate(problems, start=1):
        document.add_paragraph(f"{i}. {text}")
    document.add_paragraph("（二）工作建议")
    for i, text in enumerate(suggestions or ["巩固本年度确认成果，做好下一年度确认准备。"], start=1):
        document.add_paragraph(f"{i}. {text}")

    document.add_paragraph("以上情况经局长办公会确认后报市局优抚处。")
    for text in (issuer, f"{clock.china_today():%Y年%m月%d日}"):
        document.add_paragraph(text).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
