"""Public notice of the unconfirmed → 60 days → proposals → batch approval → suspension → the person
confirms → resumption → bureau sign-off → active again."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import httpx
from openpyxl import load_workbook

from models.audit import AuditEntry
from models.confirmation import ConfirmationMethod, ConfirmationStatus, Resumption, SuspensionProposal, SuspensionStatus
from models.registry import Beneficiary, PaymentStatus, PaymentStatusChange
from models.wechat import Notification
from server import clock
from server.actors import SYSTEM
from server.confirmation import records, rules
from server.registry.service import decrypt_id_number
from tests.confirmation.helpers_admin import (
    add_proxy,
    bind,
    board_photo,
    china_today,
    confirmation_of,
    month_shift,
    office,
    open_campaign,
    people,
    set_state,
)


async def test_notice_masks_names_and_id_numbers_in_json_xlsx_and_print(client: httpx.AsyncClient) -> None:
    o = await office(client)
    today = china_today()
    zhang, li, ouyang, done = await people(o.county.station_a, ["张建国", "李四", "欧阳小明", "陈已确认"])
    (far,) = await people(o.county.station_b, ["杨远方"])
    early = await open_campaign(o.county.district, implementation_end=today + timedelta(days=5))
    assert (await client.post(f"/api/campaigns/{early.id}/notices", headers=o.bureau, json={})).json()["error"]["code"] == "not_notice_stage"
    await early.delete()
    campaign = await open_campaign(o.county.district, implementation_end=today - timedelta(days=2))
    await set_state(campaign, done, ConfirmationStatus.CONFIRMED, ConfirmationMethod.STATION)
    user = await bind(zhang, "o-zhang")
    daughter = await add_proxy(zhang, "o-zhang-daughter")

    created = await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.station_a, json={})
    assert created.status_code == 201, created.text
    notice = created.json()
    assert notice["station_id"] == o.county.station_a.id and notice["people"] == 3
    assert sorted(e["name"] for e in notice["entries"]) == sorted(["张*国", "李*", "欧**明"])
    full_numbers = [decrypt_id_number(p) for p in (zhang, li, ouyang)]
    for entry in notice["entries"]:
        assert re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", entry["id_number"]), entry
        assert entry["id_number"] not in full_numbers and "beneficiary_id" not in entry
    assert (await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.station_a, json={"station_id": o.county.station_b.id})).status_code == 403

    workbook = load_workbook(io.BytesIO((await client.get(f"/api/notices/{notice['id']}/xlsx", headers=o.station_a)).content))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert "未确认人员公告" in rows[0][0] and rows[1] == ("序号", "服务站", "姓名", "身份证号码", "优抚类别")
    assert [r[2:4] for r in rows[2:]] == [(e["name"], e["id_number"]) for e in notice["entries"]]
    page = (await client.get(f"/api/notices/{notice['id']}/print", headers=o.station_a)).text
    assert "六十日" in page and "张*国" in page and "欧**明" in page and "伊山镇退役军人服务站" in page
    assert not any(name in page for name in ("张建国", "欧阳小明")) and not any(number in page for number in full_numbers)
    assert (await client.get(f"/api/notices/{notice['id']}", headers=o.station_b)).status_code == 404

    county = (await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.bureau, json={})).json()
    assert county["station_id"] is None and county["people"] == 4 and "杨*方" in [e["name"] for e in county["entries"]]
    listed = (await client.get(f"/api/campaigns/{campaign.id}/notices", headers=o.station_b)).json()["items"]
    assert [n["id"] for n in listed] == [county["id"]]  # station B sees the county notice, not station A's

    # Publishing records the server's date with its evidence and tells each listed person (and
    # proxies) once per campaign; a date in the request is not even read.
    no_proof = await client.post(f"/api/notices/{notice['id']}/publish", headers=o.station_a, data={"published_on": (today - timedelta(days=90)).isoformat()})
    assert no_proof.status_code == 422 and no_proof.json()["error"]["code"] == "evidence_required"
    board = {"town_board": ("board.jpg", board_photo(), "image/jpeg"), "village_board": ("village.jpg", board_photo(1), "image/jpeg")}
    published = await client.post(f"/api/notices/{notice['id']}/publish", headers=o.station_a, files=board, data={"published_on": (today - timedelta(days=90)).isoformat()})
    assert published.status_code == 200, published.text
    assert published.json()["published_on"] == today.isoformat() and published.json()["channels"] == ["town_board", "village_board"]
    assert [e["channel"] for e in published.json()["evidence"]] == ["town_board", "village_board"]
    assert (await client.get(published.json()["evidence"][0]["file"], headers=o.station_a)).content == board_photo()
    assert (await client.get(published.json()["evidence"][0]["file"], headers=o.station_b)).status_code == 404
    assert (await client.post(f"/api/notices/{notice['id']}/publish", headers=o.station_a, files=board)).json()["error"]["code"] == "notice_already_published"
    website = await client.post(f"/api/notices/{notice['id']}/evidence", headers=o.station_a, files={"website": ("site.png", board_photo(2), "image/jpeg")})
    assert website.json()["channels"] == ["town_board", "village_board", "website"]
    await client.post(f"/api/notices/{county['id']}/publish", headers=o.bureau, files={"website": ("site.jpg", board_photo(3), "image/jpeg")})
    sent = await Notification.filter(template_key="notice_published")
    assert {(n.beneficiary_id, n.user_id) for n in sent if n.beneficiary_id == zhang.id} == {(zhang.id, user.id), (zhang.id, daughter.id)}
    assert {n.beneficiary_id for n in sent} == {zhang.id, li.id, ouyang.id, far.id}  # never the confirmed one
    assert len(sent) == 5
    assert {n.context["title"] for n in sent if n.beneficiary_id == zhang.id} == {f"{campaign.name}未确认人员公告（伊山镇退役军人服务站）"}
    assert {n.context["publisher"] for n in sent} == {"灌云县退役军人事务局"}


async def test_sixty_days_then_batch_approval_then_resumption(client: httpx.AsyncClient) -> None:
    o = await office(client)
    today = china_today()
    a, b, c, d = await people(o.county.station_a, ["刘一", "刘二", "刘三", "刘四"])
    (e,) = await people(o.county.station_b, ["马五"])
    campaign = await open_campaign(o.county.district, implementation_end=today - timedelta(days=80))
    await set_state(campaign, d, ConfirmationStatus.IN_REVIEW, ConfirmationMethod.SELF_SERVICE)  # a clerk decides first
    await set_state(campaign, e, ConfirmationStatus.NOT_FOUND, home_visited=True)
    url = f"/api/campaigns/{campaign.id}/suspension-proposals"
    assert (await client.post(url, headers=o.bureau)).json()["error"]["code"] == "no_published_notice"
    notice = (await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.bureau, json={})).json()
    clock.set_offset(timedelta(days=-70))  # the notice went up 70 days ago
    assert (await client.post(f"/api/notices/{notice['id']}/publish", headers=o.bureau, files={"website": ("site.jpg", board_photo(), "image/jpeg")})).status_code == 200
    published_on = clock.china_today()

    # Day 59 on the server's clock: refused, whatever date the request carries.
    clock.set_offset(timedelta(days=-11))
    a_confirmation = await confirmation_of(campaign, a)
    for attempt in ({"method": "phone", "outcome": "no_answer", "contact_phone": "13800001111"}, {"method": "visit", "outcome": "family_reached", "contact_name": "刘小一", "contact_relation": "儿子", "contact_phone": "13900002222", "notes": "家属称本人在外地务工"}):
        assert (await client.post(f"/api/confirmations/{a_confirmation.id}/contact-attempts", headers=o.station_a, json=attempt)).status_code == 201
    assert (await client.post(f"/api/confirmations/{a_confirmation.id}/contact-attempts", headers=o.station_b, json={"method": "phone", "outcome": "no_answer"})).status_code == 404
    early = await client.post(f"{url}?today={today.isoformat()}", headers=o.bureau, json={"today": (today + timedelta(days=30)).isoformat(), "as_of": (today + timedelta(days=30)).isoformat()})
    assert early.status_code == 409 and early.json()["error"]["code"] == "notice_period_running", early.text
    assert early.json()["error"]["details"]["earliest"] == (published_on + timedelta(days=60)).isoformat()
    assert await SuspensionProposal.all().count() == 0
    clock.reset()
    assert (await client.post(url, headers=o.station_a)).status_code == 403
    assert (await client.post(url, headers=o.bureau)).json() == {"created": 4}
    assert (await client.post(f"/api/campaigns/{campaign.id}/suspension-proposals", headers=o.centre)).json() == {"created": 0}
    proposals = (await client.get(f"/api/campaigns/{campaign.id}/suspension-proposals?status=proposed", headers=o.bureau)).json()["items"]
    by_person = {p["beneficiary_id"]: p for p in proposals}
    assert set(by_person) == {a.id, b.id, c.id, e.id} and by_person[a.id]["notice_published_on"] == published_on.isoformat()
    # The contact log is shown for each person: who, when (server time), how, outcome, family contact.
    log = by_person[a.id]["contact_attempts"]
    assert [(x["method"], x["outcome"]) for x in log] == [("phone", "no_answer"), ("visit", "family_reached")]
    assert log[1]["contact_phone"] == "13900002222" and log[1]["contact_relation"] == "儿子" and log[0]["staff_id"]
    assert log[0]["at"][:10] <= (today - timedelta(days=10)).isoformat() and by_person[b.id]["contact_attempts"] == []
    assert [p["beneficiary_id"] for p in (await client.get(f"/api/campaigns/{campaign.id}/suspension-proposals", headers=o.station_b)).json()["items"]] == [e.id]

    # c confirms at the station before approval: their proposal is withdrawn, the others approved.
    c_confirmation = await confirmation_of(campaign, c)
    assert (await client.post(f"/api/confirmations/{c_confirmation.id}/station", headers=o.station_a, json={"id_card_checked": True})).status_code == 200
    batch = [by_person[x.id]["id"] for x in (a, b, c, e)]
    assert (await client.post("/api/suspension-proposals/approve", headers=o.station_a, json={"proposal_ids": batch})).status_code == 403
    assert (await client.post("/api/suspension-proposals/approve", headers=o.centre, json={"proposal_ids": batch})).status_code == 403
    result = (await client.post("/api/suspension-proposals/approve", headers=o.bureau, json={"proposal_ids": [*batch, 999999]})).json()
    assert result == {"approved": sorted([by_person[a.id]["id"], by_person[b.id]["id"], by_person[e.id]["id"]]), "withdrawn": [by_person[c.id]["id"]], "skipped": [999999]}
    again = (await client.post("/api/suspension-proposals/approve", headers=o.bureau, json={"proposal_ids": batch})).json()
    assert again["approved"] == [] and len(again["skipped"]) == 4

    effective = rules.first_day_of_next_month(today)
    for person in (a, b, e):
        assert (await Beneficiary.get(id=person.id)).payment_status == PaymentStatus.SUSPENDED
        change = await PaymentStatusChange.filter(beneficiary_id=person.id).order_by("-id").first()
        assert change is not None and change.to_status == PaymentStatus.SUSPENDED and change.effective_date == effective
    assert (await Beneficiary.get(id=c.id)).payment_status == PaymentStatus.ACTIVE
    assert {n.beneficiary_id for n in await Notification.filter(template_key="suspension_notice")} == {a.id, b.id, e.id}
    assert await AuditEntry.filter(action="suspension.approved").count() == 3 and await AuditEntry.filter(action="suspension.withdrawn").count() == 1

    # An approved proposal cannot be withdrawn (the person confirming leads to a resumption instead).
    assert (await client.post(f"/api/suspension-proposals/{by_person[b.id]['id']}/withdraw", headers=o.bureau, json={"reason": "误报"})).json()["error"]["code"] == "proposal_not_open"

    # a confirms at the station (endpoint) → a pending resumption from next month, no back pay yet.
    assert (await client.post(f"/api/confirmations/{a_confirmation.id}/station", headers=o.station_a, json={"id_card_checked": True})).status_code == 200
    # b's suspension took effect three months ago (time passes): b confirms via records.mark_confirmed.
    suspended_from = month_shift(today, -3, dom=1)
    await SuspensionProposal.filter(beneficiary_id=b.id).update(effective_from=suspended_from)
    await records.mark_confirmed(actor=SYSTEM, confirmation=await confirmation_of(campaign, b), method=ConfirmationMethod.HOME_VISIT, staff_id=None, home_visit=True)

    pending = (await client.get("/api/resumptions?status=pending", headers=o.bureau)).json()["items"]
    by_resumed = {r["beneficiary_id"]: r for r in pending}
    assert set(by_resumed) == {a.id, b.id}
    assert by_resumed[a.id]["resume_from"] == effective.isoformat() and by_resumed[a.id]["back_pay_months"] == 0
    assert by_resumed[b.id]["suspended_from"] == suspended_from.isoformat() and by_resumed[b.id]["back_pay_months"] == rules.months_between(suspended_from, effective) == 4
    assert (await client.get("/api/resumptions", headers=o.station_b)).json()["items"] == []

    url = f"/api/resumptions/{by_resumed[b.id]['id']}/sign-off"
    assert (await client.post(url, headers=o.station_a)).status_code == 403
    signed = (await client.post(url, headers=o.bureau)).json()
    assert signed["status"] == "signed_off" and signed["back_pay_months"] == 4
    assert (await client.post(url, headers=o.bureau)).json()["error"]["code"] == "resumption_already_signed_off"
    assert (await Beneficiary.get(id=b.id)).payment_status == PaymentStatus.ACTIVE
    change = await PaymentStatusChange.filter(beneficiary_id=b.id).order_by("-id").first()
    assert change is not None and change.to_status == PaymentStatus.ACTIVE and change.effective_date == effective and "4个月" in change.reason
    resumed = await Notification.filter(template_key="resumption_notice", beneficiary_id=b.id)
    assert len(resumed) == 1 and resumed[0].context["resumed_on"] == effective.isoformat()
    assert (await Resumption.get(id=by_resumed[a.id]["id"])).status == "pending"
    assert await AuditEntry.filter(action="resumption.signed_off").count() == 1

    # A manual withdrawal of an open proposal (a person proposed later, then reached by phone).
    await set_state(campaign, d, ConfirmationStatus.PENDING)
    assert (await client.post(f"/api/campaigns/{campaign.id}/suspension-proposals", headers=o.bureau)).json() == {"created": 1}
    late = await SuspensionProposal.get(beneficiary_id=d.id)
    withdrawn = (await client.post(f"/api/suspension-proposals/{late.id}/withdraw", headers=o.bureau, json={"reason": "已电话联系，约定到站确认"})).json()
    assert withdrawn["status"] == SuspensionStatus.WITHDRAWN.value
