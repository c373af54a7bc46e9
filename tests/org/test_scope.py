"""Scoping: a station sees only its people, districts their district, auditors read and never write."""

from __future__ import annotations

import httpx

from models.org import OrgKind, OrgUnit
from models.staff import Role
from tests.factories import make_beneficiary, make_county, staff_headers, unique_id_number


async def test_station_cannot_read_or_write_another_station(client: httpx.AsyncClient) -> None:
    county = await make_county()
    mine = await make_beneficiary(station=county.station_a, name="本站人员")
    theirs = await make_beneficiary(station=county.station_b, name="外站人员")
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)

    listing = await client.get("/api/beneficiaries/", headers=headers)
    assert [item["id"] for item in listing.json()["items"]] == [mine.id]

    read = await client.get(f"/api/beneficiaries/{theirs.id}", headers=headers)
    assert read.status_code == 404

    write = await client.patch(f"/api/beneficiaries/{theirs.id}", headers=headers, json={"version": theirs.version, "phone": "13800000000"})
    assert write.status_code == 404

    create = await client.post(
        "/api/beneficiaries/",
        headers=headers,
        json={"name": "越权新增", "id_number": unique_id_number(), "category": "war_veteran", "station_id": county.station_b.id},
    )
    assert create.status_code == 403
    assert create.json()["error"]["code"] == "out_of_scope"

    by_filter = await client.get(f"/api/beneficiaries/?station_id={county.station_b.id}", headers=headers)
    assert by_filter.json()["total"] == 0

    photo = await client.get(f"/api/beneficiaries/{theirs.id}/photos/1", headers=headers)
    assert photo.status_code == 404


async def test_station_cannot_move_a_person_to_another_station(client: httpx.AsyncClient) -> None:
    county = await make_county()
    mine = await make_beneficiary(station=county.station_a)
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    response = await client.patch(f"/api/beneficiaries/{mine.id}", headers=headers, json={"version": mine.version, "station_id": county.station_b.id})
    assert response.status_code == 403


async def test_district_roles_see_their_district_only(client: httpx.AsyncClient) -> None:
    county = await make_county()
    other_district = await OrgUnit.create(name="灌南县退役军人事务局", code="D2", kind=OrgKind.DISTRICT, parent=county.city)
    other_station = await OrgUnit.create(name="新安镇退役军人服务站", code="D2S1", kind=OrgKind.STATION, parent=other_district)
    a = await make_beneficiary(station=county.station_a)
    b = await make_beneficiary(station=county.station_b)
    outside = await make_beneficiary(station=other_station)
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    listing = await client.get("/api/beneficiaries/", headers=headers)
    assert {item["id"] for item in listing.json()["items"]} == {a.id, b.id}
    assert (await client.get(f"/api/beneficiaries/{outside.id}", headers=headers)).status_code == 404

    city_headers = await staff_headers(client, role=Role.CITY, unit=county.city)
    city_listing = await client.get("/api/beneficiaries/", headers=city_headers)
    assert {item["id"] for item in city_listing.json()["items"]} == {a.id, b.id, outside.id}


async def test_auditor_reads_everything_in_scope_and_writes_nothing(client: httpx.AsyncClient) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    headers = await staff_headers(client, role=Role.AUDITOR, unit=county.district)
    assert (await client.get(f"/api/beneficiaries/{person.id}", headers=headers)).status_code == 200
    write = await client.patch(f"/api/beneficiaries/{person.id}", headers=headers, json={"version": person.version, "phone": "13800000000"})
    assert write.status_code == 403
    assert write.json()["error"]["code"] == "read_only"
    reveal = await client.get(f"/api/beneficiaries/{person.id}/id-number", headers=headers)
    assert reveal.status_code == 403
    verify = await client.get("/api/audit/verify", headers=headers)
    assert verify.status_code == 200


async def test_only_admin_creates_units_and_staff(client: httpx.AsyncClient) -> None:
    county = await make_county()
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    refused = await client.post("/api/org/units", headers=bureau, json={"name": "新站", "code": "NEW1", "kind": "station", "parent_id": county.district.id})
    assert refused.status_code == 403
    admin = await staff_headers(client, role=Role.ADMIN, unit=county.city)
    created = await client.post("/api/org/units", headers=admin, json={"name": "新站", "code": "NEW1", "kind": "station", "parent_id": county.district.id})
    assert created.status_code == 201
    wrong_parent = await client.post("/api/org/units", headers=admin, json={"name": "错站", "code": "NEW2", "kind": "station", "parent_id": county.city.id})
    assert wrong_parent.status_code == 422
    assert wrong_parent.json()["error"]["code"] == "invalid_parent"
    staff = await client.post(
        "/api/admin/staff",
        headers=admin,
        json={"username": "clerk.new", "display_name": "新站员", "password": "long-enough-pass", "role": "station", "org_unit_id": created.json()["id"]},
    )
    assert staff.status_code == 201
    mismatch = await client.post(
        "/api/admin/staff",
        headers=admin,
        json={"username": "clerk.bad", "display_name": "错配", "password": "long-enough-pass", "role": "station", "org_unit_id": county.district.id},
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["code"] == "role_unit_mismatch"


async def test_unit_tree_is_scoped(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    units = (await client.get("/api/org/units", headers=headers)).json()["items"]
    ids = {u["id"] for u in units}
    assert county.station_a.id in ids and county.village_a.id in ids and county.district.id in ids
    assert county.station_b.id not in ids
