"""The on-site forms, prefilled for printing and signing (申领表, 关联银行借记卡信息确认书)."""

from __future__ import annotations

import html
from datetime import date

from models.cards import CardApplication
from models.registry import Beneficiary
from server.cards import rules


def render_forms(*, application: CardApplication, person: Beneficiary, id_number: str, category: str) -> str:
    e = html.escape
    today = date.today()
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>优待证申领表</title>
<style>body{{font-family:"SimSun","Songti SC",serif;margin:1.5cm}}h1{{text-align:center;font-size:20pt}}table{{border-collapse:collapse;width:100%;font-size:12pt}}td{{border:1px solid #000;padding:8px}}.sign{{height:3em}}.page{{page-break-after:always}}</style></head><body>
<div class="page"><h1>退役军人、其他优抚对象优待证申领表</h1>
<table><tr><td>姓名</td><td>{e(person.name)}</td><td>性别</td><td>{"男" if person.sex.value == "male" else "女"}</td></tr>
<tr><td>公民身份号码</td><td colspan="3">{e(id_number)}</td></tr>
<tr><td>出生日期</td><td>{person.birth_date.isoformat()}</td><td>类别</td><td>{e(category)}</td></tr>
<tr><td>申领种类</td><td colspan="3">{e(rules.KIND_LABELS[application.card_kind])}（第{application.batch}批次）</td></tr>
<tr><td>联系电话</td><td>{e(person.phone)}</td><td>申请编号</td><td>{application.id}</td></tr>
<tr><td>家庭住址</td><td colspan="3">{e(person.address)}</td></tr>
<tr><td>本人承诺</td><td colspan="3">以上信息真实准确，本人信息仅用于优待证制发工作。</td></tr>
<tr><td>申请人签字</td><td class="sign"></td><td>日期</td><td>{today.isoformat()}</td></tr></table></div>
<div><h1>优待证关联银行借记卡信息确认书</h1>
<table><tr><td>持卡人姓名</td><td>{e(person.name)}</td></tr><tr><td>公民身份号码</td><td>{e(id_number)}</td></tr>
<tr><td>开户银行</td><td class="sign"></td></tr><tr><td>借记卡号</td><td class="sign"></td></tr>
<tr><td>确认</td><td>本人确认以上银行借记卡信息无误，同意与优待证关联。</td></tr>
<tr><td>申请人签字</td><td class="sign"></td></tr></table></div></body></html>"""
