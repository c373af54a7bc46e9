from __future__ import annotations

import asyncio

import httpx
from tortoise import connections

from models.registry import Beneficiary
from models.staff import Role
from server.registry.id_numbers import mask_id_number
from tests.factories import make_beneficiary, make_county, staff_headers, unique_id_number


async def test_create_detail_masks_id_and_derives_birth_and_sex(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    number = unique_id_number(male=False)
    response = await client.post(
        "/api/beneficiaries/",
        headers=headers,
        json={"name": "李秀英", "id_number": number, "category": "martyr_family", "station_id": county.station_a.id, "village_id": county.village_a.id, "monthly_amount": "2310.00", "phone": "13912345678"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id_number"] == mask_id_number(number)
    assert body["sex"] == "female"
    assert body["birth_date"].startswith("19")
    assert body["category_label"] == "烈士遗属"
    detail = (await client.get(f"/api/beneficiaries/{body['id']}", headers=headers)).json()
    assert detail["status_history"][0]["to"] == "active"
    assert number not in response.text and number not in str(detail)


async def test_bad_id_numbers_are_refused_with_their_reason(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    number = unique_id_number()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    response = await client.post("/api/beneficiaries/", headers=headers, json={"name": "王", "id_number": wrong, "category": "war_veteran", "station_id": county.station_a.id})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "id_number_bad_checksum"
    unknown_category = await client.post("/api/beneficiaries/", headers=headers, json={"name": "王", "id_number": number, "category": "astronaut", "station_id": county.station_a.id})
    assert unknown_category.status_code == 422
    assert unknown_category.json()["error"]["details"]["fields"][0]["field"] == "category"


async def test_duplicate_id_number_is_a_conflict(client: httpx.AsyncClient) -> None:
    county = await make_county()
    existing = await make_beneficiary(station=county.station_a)
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    number = await client.get(f"/api/beneficiaries/{existing.id}/id-number", headers=headers)
    again = await client.post("/api/beneficiaries/", headers=headers, json={"name": "重复", "id_number": number.json()["id_number"], "category": "war_veteran", "station_id": county.station_b.id})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_id_number"


async def test_raw_rows_hold_no_plaintext_id_number(client: httpx.AsyncClient) -> None:
    county = await make_county()
    number = unique_id_number()
    person = await make_beneficiary(station=county.station_a, id_number=number)
    rows = await connections.get("default").execute_query_dict(f"SELECT * FROM beneficiary WHERE id = {person.id}")
    flattened = " ".join(str(v) for v in rows[0].values())
    assert number not in flattened
    assert number[6:14] not in flattened  # not even the birth-date digits of the number
    audit_rows = await connections.get("default").execute_query_dict("SELECT summary FROM audit_entry")
    assert all(number not in str(r["summary"]) for r in audit_rows)


async def test_search_by_id_number_name_category_and_paging(client: httpx.AsyncClient) -> None:
    county = await make_county()
    number = unique_id_number()
    target = await make_beneficiary(station=county.station_a, name="赵德福", id_number=number)
    for i in range(25):
        await make_beneficiary(station=county.station_a, name=f"人员{i:02d}", category="rural_veteran_60")
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    by_id = (await client.get(f"/api/beneficiaries/?id_number={number}", headers=headers)).json()
    assert [i["id"] for i in by_id["items"]] == [target.id]
    by_name = (await client.get("/api/beneficiaries/?name=德福", headers=headers)).json()
    assert by_name["total"] == 1
    page2 = (await client.get("/api/beneficiaries/?category=rural_veteran_60&page=2&page_size=10", headers=headers)).json()
    assert page2["total"] == 25 and len(page2["items"]) == 10
    # LIKE's wildcards are searched as text; a page is ordered by name; another station's people stay out.
    await make_beneficiary(station=county.station_b, name="人员00甲", category="rural_veteran_60")
    assert [(await client.get(f"/api/beneficiaries/?name={q}", headers=headers)).json()["total"] for q in ("%25", "_", "人员")] == [0, 0, 25]
    first = (await client.get("/api/beneficiaries/?name=人员0&page_size=5", headers=headers)).json()
    assert [i["name"] for i in first["items"]] == [f"人员0{i}" for i in range(5)] and first["total"] == 10 and not first["total_capped"]
    bad = await client.get("/api/beneficiaries/?page=0", headers=headers)
    assert bad.status_code == 422


async def test_update_with_stale_version_is_refused_not_lost(client: httpx.AsyncClient) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    clerk_one = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    clerk_two = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    first, second = await asyncio.gather(
        client.patch(f"/api/beneficiaries/{person.id}", headers=clerk_one, json={"version": person.version, "phone": "13800000001"}),
        client.patch(f"/api/beneficiaries/{person.id}", headers=clerk_two, json={"version": person.version, "address": "新地址"}),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["error"]["code"] == "version_conflict"
    fresh = await Beneficiary.get(id=person.id)
    assert fresh.version == person.version + 1


async def test_id_number_change_rederives_birth_date(client: httpx.AsyncClient) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    from datetime import date

    new_number = unique_id_number(birth=date(1941, 1, 9))
    response = await client.patch(f"/api/beneficiaries/{person.id}", headers=headers, json={"version": person.version, "id_number": new_number})
    assert response.status_code == 200
    assert response.json()["birth_date"].startswith("1941")
    revealed = await client.get(f"/api/beneficiaries/{person.id}/id-number", headers=headers)
    assert revealed.json()["id_number"] == new_number


async def test_payment_status_change_is_bureau_only_and_kept_in_history(client: httpx.AsyncClient) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    body = {"status": "suspended", "effective_date": "2026-12-01", "reason": "公告期满未确认"}
    assert (await client.post(f"/api/beneficiaries/{person.id}/payment-status", headers=station, json=body)).status_code == 403
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    response = await client.post(f"/api/beneficiaries/{person.id}/payment-status", headers=bureau, json=body)
    assert response.status_code == 200
    detail = (await client.get(f"/api/beneficiaries/{person.id}", headers=bureau)).json()
    assert [h["to"] for h in detail["status_history"]] == ["active", "suspended"]


async def test_photo_upload_is_content_addressed_and_sniffed(client: httpx.AsyncClient, app) -> None:  # type: ignore[no-untyped-def]
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    png = _tiny_png()
    first = await client.post(f"/api/beneficiaries/{person.id}/photos", headers=headers, files={"file": ("id.png", png, "image/png")}, data={"kind": "id_card"})
    assert first.status_code == 201, first.text
    same = await client.post(f"/api/beneficiaries/{person.id}/photos", headers=headers, files={"file": ("again.png", png, "image/png")})
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    fake = await client.post(f"/api/beneficiaries/{person.id}/photos", headers=headers, files={"file": ("x.png", b"GIF89a not a png", "image/png")})
    assert fake.status_code == 415
    image = await client.get(f"/api/beneficiaries/{person.id}/photos/{first.json()['id']}", headers=headers)
    assert image.status_code == 200 and image.content == png
    stored = list((app.ctx.settings.media_dir / "photos").rglob("*.png"))
    assert any(first.json()["sha256"] in p.name for p in stored)


def _tiny_png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80\x80\x80" * 4 for _ in range(4))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
