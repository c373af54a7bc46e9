"""Campaigns and the staff-recorded methods: station confirmation, home visit, bureau re-check."""

from __future__ import annotations

from datetime import date

import httpx
from sanic import Sanic

from models.audit import AuditEntry
from models.confirmation import AgeBracket, Confirmation, ConfirmationStatus
from models.registry import Beneficiary, ReferencePhoto
from models.staff import Role
from tests.confirmation.helpers import running_campaign
from tests.factories import make_beneficiary, make_county, staff_headers
from tests.registry.test_registry_api import _tiny_png


async def test_bureau_creates_and_opens_a_campaign_with_age_brackets(client: httpx.AsyncClient) -> None:
    county = await make_county()
    await make_beneficiary(station=county.station_a, birth=date(1940, 3, 1))  # 86 on the reference date
    await make_beneficiary(station=county.station_a, birth=date(1952, 3, 1))  # 74
    await make_beneficiary(station=county.station_b, birth=date(1966, 3, 1))  # 60
    await make_beneficiary(station=county.station_b, category="veteran")  # no periodic category: out of scope
    await make_beneficiary(station=county.station_b, on_periodic_payment=False)
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    assert (await client.post("/api/campaigns", headers=station, json={"year": 2026})).status_code == 403
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    created = await client.post("/api/campaigns", headers=bureau, json={"year": 2026})
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["implementation"] == ["2026-10-16", "2026-11-30"] and campaign["notice"] == ["2026-12-01", "2027-01-29"]
    assert (await client.post("/api/campaigns", headers=bureau, json={"year": 2026})).json()["error"]["code"] == "campaign_exists"
    opened = await client.post(f"/api/campaigns/{campaign['id']}/open", headers=bureau)
    assert opened.status_code == 200 and opened.json()["status"] == "done", opened.text  # small: finished within the inline wait
    assert {k: opened.json()[k] for k in ("created", "expected", "people")} == {"created": 3, "expected": 3, "people": 3}
    assert (await client.post(f"/api/campaigns/{campaign['id']}/open", headers=bureau)).status_code == 409
    brackets = sorted(c.age_bracket for c in await Confirmation.all())
    assert brackets == sorted([AgeBracket.AGE_80_PLUS, AgeBracket.AGE_70_79, AgeBracket.UNDER_70])
    mine = (await client.get(f"/api/campaigns/{campaign['id']}/confirmations", headers=station)).json()
    assert mine["total"] == 2
    bad_dates = await client.post("/api/campaigns", headers=bureau, json={"year": 2027, "dates": {**{k: "2027-10-10" for k in ("reference_date", "publicity_start", "implementation_start", "implementation_end", "notice_start", "notice_end", "summary_start", "summary_end")}, "publicity_end": "2027-09-01"}})
    assert bad_dates.json()["error"]["code"] == "campaign_dates_out_of_order"


async def test_station_confirmation_updates_details_and_keeps_a_photo(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, phone="13800000000")
    await running_campaign(county.district)
    confirmation = await Confirmation.get(beneficiary_id=person.id)
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    unchecked = await client.post(f"/api/confirmations/{confirmation.id}/station", headers=clerk, json={"id_card_checked": False})
    assert unchecked.status_code == 422
    data = '{"id_card_checked": true, "notes": "本人到站", "updates": {"phone": "13911112222", "hardship": true, "hardship_note": "独居，需跟踪帮扶"}}'
    response = await client.post(f"/api/confirmations/{confirmation.id}/station", headers=clerk, data={"data": data}, files={"photo": ("p.png", _tiny_png(), "image/png")})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed" and response.json()["method"] == "station"
    fresh = await Beneficiary.get(id=person.id)
    assert fresh.phone == "13911112222" and fresh.hardship and fresh.hardship_note == "独居，需跟踪帮扶"
    assert await ReferencePhoto.filter(beneficiary_id=person.id, kind="station_capture").count() == 1
    detail = (await client.get(f"/api/confirmations/{confirmation.id}", headers=clerk)).json()
    assert [r["kind"] for r in detail["records"]] == ["station"] and detail["records"][0]["changes"]["phone"] == "13911112222"
    other = await staff_headers(client, role=Role.STATION, unit=county.station_b)
    assert (await client.get(f"/api/confirmations/{confirmation.id}", headers=other)).status_code == 404
    actions = await AuditEntry.filter(entity_type="confirmation").values_list("action", flat=True)
    assert "confirmation.confirmed" in actions


async def test_home_visit_outcomes(client: httpx.AsyncClient) -> None:
    county = await make_county()
    found = await make_beneficiary(station=county.station_a, birth=date(1935, 1, 1))
    missing = await make_beneficiary(station=county.station_a)
    died = await make_beneficiary(station=county.station_a, monthly_amount="1000.00")
    await running_campaign(county.district)
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    by_person = {c.beneficiary_id: c for c in await Confirmation.all()}
    visit = {"visited_at": "2026-10-20T09:30:00+08:00", "visitors": "王站长、李干事", "location": "伊山东村3组", "latitude": 34.3, "longitude": 119.2}
    ok = await client.post(f"/api/confirmations/{by_person[found.id].id}/home-visit", headers=clerk, json={**visit, "outcome": "confirmed", "notes": "身体尚可"})
    assert ok.json()["status"] == "confirmed" and ok.json()["home_visited"] is True and ok.json()["method"] == "home_visit"
    gone = await client.post(f"/api/confirmations/{by_person[missing.id].id}/home-visit", headers=clerk, json={**visit, "outcome": "not_found"})
    assert gone.json()["status"] == "not_found"
    no_date = await client.post(f"/api/confirmations/{by_person[died.id].id}/home-visit", headers=clerk, json={**visit, "outcome": "death_reported"})
    assert no_date.json()["error"]["code"] == "death_date_required"
    bad = await client.post(f"/api/confirmations/{by_person[died.id].id}/home-visit", headers=clerk, json={**visit, "outcome": "vanished"})
    assert bad.status_code == 422


async def test_bureau_recheck(client: httpx.AsyncClient) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    await running_campaign(county.district)
    confirmation = await Confirmation.get(beneficiary_id=person.id)
    clerk = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    early = await client.post(f"/api/confirmations/{confirmation.id}/recheck", headers=bureau, json={"accepted": True})
    assert early.json()["error"]["code"] == "not_confirmed"
    await client.post(f"/api/confirmations/{confirmation.id}/station", headers=clerk, json={"id_card_checked": True})
    assert (await client.post(f"/api/confirmations/{confirmation.id}/recheck", headers=clerk, json={"accepted": True})).status_code == 403
    questioned = await client.post(f"/api/confirmations/{confirmation.id}/recheck", headers=bureau, json={"accepted": False, "note": "照片与身份证不符，请复核"})
    assert questioned.json()["recheck_status"] == "questioned"
    assert (await Confirmation.get(id=confirmation.id)).status == ConfirmationStatus.CONFIRMED
