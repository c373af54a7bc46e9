"""A station's address, phone and opening hours are kept up to date after creation: by the station
itself, the district above it, or the admin; audited; the mini-program shows the new hours."""

from __future__ import annotations

import httpx
from sanic import Sanic

from models.audit import AuditEntry
from models.org import OrgUnit
from models.staff import Role
from server.wechat.standin import StandinControl
from tests.factories import make_county, staff_headers
from tests.miniapp.contract import Contract
from tests.miniapp.helpers import mini_login

HOURS = "周一至周五 8:30-12:00，14:00-17:30（节假日除外）"


async def test_station_edits_its_opening_hours_audited_and_shown_in_the_mini_program(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county = await make_county()
    contract = await Contract.load(client)
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    changed = await client.patch(f"/api/org/units/{county.station_a.id}", headers=station, json={"opening_hours": HOURS, "phone": "0518-88881234"})
    body = contract.check(changed)
    assert changed.status_code == 200 and body["opening_hours"] == HOURS and body["phone"] == "0518-88881234" and body["name"] == county.station_a.name
    stored = await OrgUnit.get(id=county.station_a.id)
    assert (stored.opening_hours, stored.phone, stored.address) == (HOURS, "0518-88881234", county.station_a.address)
    entry = await AuditEntry.get(action="org_unit.updated", entity_id=str(county.station_a.id))
    assert entry.summary["before"]["opening_hours"] == county.station_a.opening_hours and entry.summary["after"]["opening_hours"] == HOURS

    mini = await mini_login(client, wechat_standin, "o-hours")
    shown = contract.check(await client.get(f"/api/mp/stations?district_id={county.district.id}", headers=mini))
    assert {s["id"]: s["opening_hours"] for s in shown["items"]}[county.station_a.id] == HOURS


async def test_who_may_edit_a_units_contact_details(client: httpx.AsyncClient) -> None:
    county = await make_county()
    contract = await Contract.load(client)
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    other = await client.patch(f"/api/org/units/{county.station_b.id}", headers=station, json={"opening_hours": "全天"})
    assert other.status_code == 403 and contract.check(other)["error"]["code"] == "out_of_scope"
    district = await client.patch(f"/api/org/units/{county.district.id}", headers=station, json={"phone": "110"})
    assert district.status_code == 403 and contract.check(district)["error"]["code"] == "out_of_scope"
    village = await client.patch(f"/api/org/units/{county.village_a.id}", headers=station, json={"address": "伊山东村村委会"})
    assert village.status_code == 200 and contract.check(village)["address"] == "伊山东村村委会"

    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    assert contract.check(await client.patch(f"/api/org/units/{county.station_b.id}", headers=bureau, json={"opening_hours": HOURS}))["opening_hours"] == HOURS
    city = await client.patch(f"/api/org/units/{county.city.id}", headers=bureau, json={"phone": "110"})
    assert city.status_code == 403 and contract.check(city)["error"]["code"] == "out_of_scope"
    auditor = await staff_headers(client, role=Role.AUDITOR, unit=county.district)
    read_only = await client.patch(f"/api/org/units/{county.station_a.id}", headers=auditor, json={"phone": "110"})
    assert read_only.status_code == 403 and contract.check(read_only)["error"]["code"] == "read_only"

    nulled = await client.patch(f"/api/org/units/{county.station_a.id}", headers=station, json={"opening_hours": None})
    assert nulled.status_code == 422 and contract.check(nulled)["error"]["code"] == "validation_failed"
    missing = await client.patch("/api/org/units/999999", headers=bureau, json={"phone": "110"})
    assert missing.status_code == 404 and contract.check(missing)["error"]["code"] == "org_unit_not_found"
    assert await AuditEntry.filter(action="org_unit.updated").count() == 2
