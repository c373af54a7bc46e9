from __future__ import annotations

import httpx
from sanic import Sanic

from models.audit import AuditEntry
from models.cards import CardApplication
from models.staff import Role
from models.wechat import Notification
from tests.cards.helpers import bind, make_applicant, mini_headers, proxy, signed_headers
from tests.factories import make_county, staff_headers
from tests.registry.test_registry_api import _tiny_png


async def test_application_through_four_levels_with_a_return_and_a_resubmission(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_applicant(station=county.station_a, category="war_veteran", photo=True)
    holder, holder_headers = await mini_headers(app, "o-card-holder")
    await bind(holder, person)
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    centre = await staff_headers(client, role=Role.CENTRE, unit=county.district)
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    city = await staff_headers(client, role=Role.CITY, unit=county.city)

    wrong_kind = await client.post("/api/mp/cards/applications", headers=holder_headers, json={"beneficiary_id": person.id, "card_kind": "other_beneficiary"})
    assert wrong_kind.status_code == 422 and wrong_kind.json()["error"]["code"] == "card_kind_mismatch"
    created = await client.post("/api/mp/cards/applications", headers=holder_headers, json={"beneficiary_id": person.id, "card_kind": "veteran"})
    assert created.status_code == 201 and created.json()["batch"] == 1 and created.json()["status"] == "station_check"
    app_id = created.json()["id"]
    duplicate = await client.post("/api/mp/cards/applications", headers=holder_headers, json={"beneficiary_id": person.id, "card_kind": "veteran"})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "application_exists"

    missing_forms = await client.post(f"/api/cards/applications/{app_id}/transition", headers=station, json={"action": "pass"})
    assert missing_forms.json()["error"]["code"] == "materials_incomplete"
    assert set(missing_forms.json()["error"]["details"]["missing"]) == {"application_form", "bank_form", "bank_account"}
    returned = await client.post(f"/api/cards/applications/{app_id}/transition", headers=station, json={"action": "return", "reason": "银行借记卡确认书未签字"})
    assert returned.json()["status"] == "returned" and returned.json()["return_count"] == 1
    for form in ("application_form", "bank_form"):
        uploaded = await client.post(f"/api/mp/cards/applications/{app_id}/forms/{form}", headers=holder_headers, files={"file": ("f.png", _tiny_png(), "image/png")})
        assert uploaded.status_code == 200, uploaded.text
    banked = await client.post(f"/api/mp/cards/applications/{app_id}/bank", headers=holder_headers, json={"bank_name": "中国农业银行", "account": "6228 4800 1234 5678 901"})
    assert banked.json()["bank"] == {"bank_name": "中国农业银行", "account_masked": "****8901"}
    resubmitted = await client.post(f"/api/mp/cards/applications/{app_id}/resubmit", headers=holder_headers, json={"note": "已补签"})
    assert resubmitted.json()["status"] == "station_check" and resubmitted.json()["id"] == app_id

    wrong_role = await client.post(f"/api/cards/applications/{app_id}/transition", headers=centre, json={"action": "pass"})
    assert wrong_role.status_code == 403
    for headers, expected in ((station, "centre_verification"), (centre, "bureau_review")):
        step = await client.post(f"/api/cards/applications/{app_id}/transition", headers=headers, json={"action": "pass"})
        assert step.json()["status"] == expected, step.text
    back = await client.post(f"/api/cards/applications/{app_id}/transition", headers=bureau, json={"action": "return", "reason": "身份信息需再核实"})
    assert back.json()["status"] == "centre_verification"
    no_reason = await client.post(f"/api/cards/applications/{app_id}/transition", headers=centre, json={"action": "return"})
    assert no_reason.json()["error"]["code"] == "reason_required"
    for headers, expected in ((centre, "bureau_review"), (bureau, "city_review"), (city, "approved")):
        step = await client.post(f"/api/cards/applications/{app_id}/transition", headers=headers, json={"action": "pass"})
        assert step.json()["status"] == expected, step.text
    history = (await client.get(f"/api/mp/cards/applications/{app_id}", headers=holder_headers)).json()["history"]
    assert [h["action"] for h in history] == ["submit", "return", "resubmit", "pass", "pass", "return", "pass", "pass", "pass"]
    assert (await CardApplication.get(id=app_id)).open_key is None
    assert await Notification.filter(template_key="card_status_changed", beneficiary_id=person.id).count() >= 7
    actions = await AuditEntry.filter(entity_type="card_application", entity_id=str(app_id)).values_list("action", flat=True)
    assert "card_application.return" in actions and "card_application.resubmitted" in actions


async def test_bureau_deadline_is_seven_working_days_and_overdue_lists(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_applicant(station=county.station_a, category="martyr_family")
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    created = await client.post("/api/cards/applications", headers=station, json={"beneficiary_id": person.id, "card_kind": "other_beneficiary"})
    assert created.status_code == 201 and created.json()["batch"] == 1
    app_id = created.json()["id"]
    await CardApplication.filter(id=app_id).update(status="bureau_review", due_date="2025-10-14", step_started_on="2025-09-28")
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    overdue = (await client.get("/api/cards/applications?overdue=true", headers=bureau)).json()["items"]
    assert [a["id"] for a in overdue] == [app_id] and overdue[0]["overdue"]
    problems = (await client.get("/api/cards/applications?problems=true", headers=bureau)).json()["items"]
    assert [a["id"] for a in problems] == [app_id]
    deadline = (await client.get("/api/calendar/deadline?start=2025-09-28&working_days=7", headers=bureau)).json()
    assert deadline["due"] == "2025-10-14" and not deadline["provisional"]
    flagged = await client.post(f"/api/cards/applications/{app_id}/problem", headers=bureau, json={"flagged": True, "note": "户籍信息冲突", "report": "经核查户籍登记有误，待公安更正后重新提交。"})
    assert flagged.json()["flagged"]


async def test_proxy_needs_the_apply_scope_and_other_stations_are_refused(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_applicant(station=county.station_a, category="rural_veteran_60")
    helper, helper_headers = await mini_headers(app, "o-card-proxy")
    await proxy(helper, person, ["book", "collect"])
    refused = await client.post("/api/mp/cards/applications", headers=helper_headers, json={"beneficiary_id": person.id, "card_kind": "veteran"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "proxy_scope_missing"
    applier, applier_headers = await mini_headers(app, "o-card-applier")
    await proxy(applier, person, ["apply"])
    ok = await client.post("/api/mp/cards/applications", headers=applier_headers, json={"beneficiary_id": person.id, "card_kind": "veteran"})
    assert ok.status_code == 201 and ok.json()["batch"] == 2
    entry = await AuditEntry.filter(action="card_application.submitted").first()
    assert entry.on_behalf_of == str(person.id) and entry.actor_id == str(applier.id)
    other = await staff_headers(client, role=Role.STATION, unit=county.station_b)
    assert (await client.get(f"/api/cards/applications/{ok.json()['id']}", headers=other)).status_code == 404
    assert (await client.post(f"/api/cards/applications/{ok.json()['id']}/transition", headers=other, json={"action": "pass"})).status_code == 404
    unsigned = await client.get(f"/api/cards/applications/{ok.json()['id']}/print", headers=await staff_headers(client, role=Role.STATION, unit=county.station_a))
    assert unsigned.status_code == 403 and unsigned.json()["error"]["code"] == "confidentiality_agreement_required"
    clerk = await signed_headers(client, role=Role.STATION, unit=county.station_a)
    printed = await client.get(f"/api/cards/applications/{ok.json()['id']}/print", headers=clerk)
    assert "申领表" in printed.text and "借记卡" in printed.text
    # The form carries the whole ID number: never cached, and every print is in the audit log.
    assert printed.headers["cache-control"] == "no-store"
    assert await AuditEntry.filter(action="card_application.forms_printed").exists()
