"""Each malformed input the fuzzing found answers a 4xx in the error envelope (never 5xx)."""

from __future__ import annotations

import csv
import io
import struct
import zipfile
import zlib

import httpx

from models.registry import Beneficiary, ImportBatch
from models.staff import Role
from tests.factories import make_beneficiary, make_county, staff_headers, unique_id_number
from tests.registry.test_registry_api import _tiny_png


def _code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


async def test_ids_beyond_the_integer_columns_are_not_found_or_refused(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    huge = 2**31
    detail = await client.get(f"/api/beneficiaries/{huge}", headers=headers)
    assert detail.status_code == 404 and _code(detail) == "not_found"
    negative = await client.get(f"/api/beneficiaries/-{huge + 1}", headers=headers)
    assert negative.status_code in (404, 405)
    query = await client.get("/api/beneficiaries/", params={"station_id": str(huge)}, headers=headers)
    assert query.status_code == 422 and query.json()["error"]["details"]["fields"][0]["type"] == "int_out_of_range"
    body = await client.post("/api/beneficiaries/", headers=headers, json={"name": "王", "id_number": unique_id_number(), "category": "war_veteran", "station_id": 2**40})
    assert body.status_code == 422


async def test_nul_and_control_characters_are_refused_even_before_login(client: httpx.AsyncClient) -> None:
    login = await client.post("/api/staff/login", json={"username": "adm\u0000in", "password": "x"})
    assert login.status_code == 422 and login.json()["error"]["details"]["fields"][0]["type"] == "control_characters"
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    query = await client.get("/api/beneficiaries/", params={"name": "张\x00"}, headers=headers)
    assert query.status_code == 400 and _code(query) == "control_characters"
    # Newlines and tabs are ordinary text (addresses, notes).
    fine = await client.get("/api/beneficiaries/", params={"name": "张\t"}, headers=headers)
    assert fine.status_code == 200


async def test_deeply_nested_json_is_refused_before_parsing(client: httpx.AsyncClient) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for path in ("/api/staff/login", "/api/mp/login"):
        response = await client.post(path, content=deep, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and _code(response) == "json_too_deep", path
    # Brackets inside strings do not count.
    inside = await client.post("/api/staff/login", json={"username": "[" * 60, "password": "{" * 100})
    assert inside.status_code in (401, 422) and _code(inside) != "json_too_deep"


async def test_patch_with_null_is_a_validation_error_and_changes_nothing(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    person = await make_beneficiary(station=county.station_a, address="伊山镇1号")
    response = await client.patch(f"/api/beneficiaries/{person.id}", headers=headers, json={"version": person.version, "address": None})
    assert response.status_code == 422 and response.json()["error"]["details"]["fields"][0]["field"] == "address"
    assert (await Beneficiary.get(id=person.id)).address == "伊山镇1号"
    cleared = await client.patch(f"/api/beneficiaries/{person.id}", headers=headers, json={"version": person.version, "village_id": None})
    assert cleared.status_code == 200, cleared.text


async def test_check_in_codes_long_or_non_ascii_are_4xx(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    long_code = await client.post("/api/cards/check-in", headers=headers, json={"short_code": "ABCDEFGHIJKL"})
    assert long_code.status_code == 404
    qr = await client.post("/api/cards/check-in", headers=headers, json={"token": "1.9999999999.签名不是ASCII"})
    assert qr.status_code == 400 and _code(qr) == "qr_invalid"


async def test_slot_windows_must_be_clock_times_in_order(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    for windows in ([["9点", "10点"]], [["11:00", "10:00"]], [["25:00", "26:00"]]):
        response = await client.post("/api/cards/slots", headers=headers, json={"station_id": county.station_a.id, "start": "2026-12-01", "days": 1, "windows": windows, "capacity": 5})
        assert response.status_code == 422, (windows, response.text)


async def test_csv_field_over_the_csv_limit_is_a_clear_file_error(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["姓名", "身份证号", "类别", "服务站"], ["张" * (140 * 1024), unique_id_number(), "参战退役人员", county.station_a.code]])
    response = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("big.csv", buffer.getvalue().encode(), "text/csv")})
    assert response.status_code == 422 and _code(response) in ("import_bad_csv", "import_cell_too_long")
    long_name = io.StringIO()
    csv.writer(long_name).writerows([["姓名", "身份证号", "类别", "服务站"], ["张" * 100, unique_id_number(), "参战退役人员", county.station_a.code]])
    report = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("n.csv", long_name.getvalue().encode(), "text/csv")})
    assert report.status_code == 200 and report.json()["rows"][0]["reason"] == "too_long"


def _forge_crc(archive: bytes, name: str) -> bytes:
    """Flip the CRC of ``name`` in both its local header and the central directory."""
    data = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        crc = zf.getinfo(name).CRC
    packed = struct.pack("<I", crc)
    forged = struct.pack("<I", crc ^ 0xFFFFFFFF)
    return bytes(data).replace(packed, forged)


async def test_photo_zip_entries_lying_about_crc_are_rejected_rows_without_plain_id_numbers(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    person = await make_beneficiary(station=county.station_a)
    number = await _plain_id(person)
    stranger = unique_id_number()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{number}.png", _tiny_png())
        zf.writestr(f"{stranger[:17]}Q.png", b"x")
    forged = _forge_crc(buffer.getvalue(), f"{number}.png")
    response = await client.post("/api/beneficiaries/photos/import", headers=headers, files={"file": ("ids.zip", forged, "application/zip")})
    assert response.status_code == 200, response.text
    reasons = sorted(row["reason"] for row in response.json()["rows"])
    assert reasons == ["bad_entry", "bad_id_number"]
    stored = await ImportBatch.get(kind="photos")
    for text in (response.text, str(stored.report)):
        assert number not in text and stranger[:17] not in text
    broken = await client.post("/api/beneficiaries/photos/import", headers=headers, files={"file": (f"{number}.zip", b"PK\x03\x04garbage", "application/zip")})
    assert broken.status_code == 422 and _code(broken) == "import_bad_zip"


async def _plain_id(person: Beneficiary) -> str:
    from server.registry.service import decrypt_id_number

    return decrypt_id_number(person)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose pixel data is far shorter than its header declares."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\x00" * 5)) + chunk(b"IEND", b"")


async def test_undecodable_photos_are_refused_before_storing(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    person = await make_beneficiary(station=county.station_a)
    for data, code in ((_png_header_only(60000, 60000), "image_too_large"), (b"\xff\xd8\xff\xe0" + b"garbage" * 100, "bad_image"), (_png_header_only(4, 4), "bad_image")):
        response = await client.post(f"/api/beneficiaries/{person.id}/photos", headers=headers, files={"file": ("p.png", data, "image/png")})
        assert response.status_code == 422 and _code(response) == code, response.text
    good = await client.post(f"/api/beneficiaries/{person.id}/photos", headers=headers, files={"file": ("p.png", _tiny_png(), "image/png")})
    assert good.status_code == 201
