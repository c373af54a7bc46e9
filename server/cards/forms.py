"""The forms to print and sign (申领表, 关联银行借记卡信息确认书), prefilled, with the photo the card
will carry, the service details to fill in, and the linked debit card. Printed at the station or
downloaded by an online applicant to print, sign, photograph and upload."""

from __future__ import annotations

import base64
import html
from datetime import date
from pathlib import Path

from models.cards import CardApplication
from models.registry import Beneficiary, ReferencePhoto
from server import media
from server.cards import rules


async def photo_data_uri(*, person: Beneficiary, media_dir: Path) -> str | None:
    photo = await ReferencePhoto.filter(beneficiary_id=person.id, is_active=True).order_by("-id").first()
    if photo is None:
        return None
    try:
        data = media.resolve(media_dir, photo.path).read_bytes()
    except OSError:
        return None
    return f"data:{photo.content_type};base64,{base64.b64encode(data).decode()}"


def render_forms(*, application: CardApplication, person: Beneficiary, id_number: str, category: str, photo: str | None = None, bank_account: str | None = None) -> str:
    e = html.escape
    today = date.today()
    photo_cell = f'<img src="{photo}" alt="照片" style="width:2.6cm;height:3.5cm;object-fit:cover">' if photo else "（粘贴二寸照片）"
    veteran = application.card_kind.value == "veteran"
    service = (
        '<tr><td>入伍时间</td><td class="sign"></td><td>退役时间</td><td class="sign"></td></tr><tr><td>服役部队</td><td colspan="3" class="sign"></td></tr>'
        if veteran
        else '<tr><td>烈士/牺牲/病故军人姓名</td><td class="sign"></td><td>与本人关系</td><td class="sign"></td></tr>'
    )
    bank_name = e(application.bank_name) if application.bank_name else ""
    account = e(bank_account) if bank_account else ""
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>优待证申领表</title>
<style>body{{font-family:"SimSun","Songti SC",serif;margin:1.5cm}}h1{{text-align:center;font-size:20pt}}table{{border-collapse:collapse;width:100%;font-size:12pt}}td{{border:1px solid #000;padding:8px}}.sign{{height:3em}}.page{{page-break-after:always}}</style></head><body>
<div class="page"><h1>退役军人、其他优抚对象优待证申领表</h1>
<table><tr><td>姓名</td><td>{e(person.name)}</td><td>性别</td><td>{"男" if person.sex.value == "male" else "女"}</td><td rowspan="4" style="width:3cm;text-align:center">{photo_cell}</td></tr>
<tr><td>公民身份号码</td><td colspan="3">{e(id_number)}</td></tr>
<tr><td>出生日期</td><td>{person.birth_date.isoformat()}</td><td>类别</td><td>{e(category)}</td></tr>
<tr><td>申领种类</td><td colspan="3">{e(rules.KIND_LABELS[application.card_kind])}（第{application.batch}批次）</td></tr>
{service.replace('</tr>', '<td></td></tr>')}
<tr><td>联系电话</td><td>{e(person.phone)}</td><td>申请编号</td><td>{application.id}</td><td></td></tr>
<tr><td>家庭住址</td><td colspan="4">{e(person.address)}</td></tr>
<tr><td>本人承诺</td><td colspan="4">以上信息真实准确，本人信息仅用于优待证制发工作。</td></tr>
<tr><td>申请人签字</td><td class="sign" colspan="2"></td><td>日期</td><td>{today.isoformat()}</td></tr></table></div>
<div><h1>优待证关联银行借记卡信息确认书</h1>
<table><tr><td>持卡人姓名</td><td>{e(person.name)}</td></tr><tr><td>公民身份号码</td><td>{e(id_number)}</td></tr>
<tr><td>开户银行</td><td class="sign">{bank_name}</td></tr><tr><td>借记卡号</td><td class="sign">{account}</td></tr>
<tr><td>确认</td><td>本人确认以上银行借记卡信息无误，同意与优待证关联。</td></tr>
<tr><td>申请人签字</td><td class="sign"></td></tr></table></div></body></html>"""
