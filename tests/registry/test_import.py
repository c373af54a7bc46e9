from __future__ import annotations

import csv
import io
import zipfile

import httpx
from openpyxl import Workbook

from models.registry import Beneficiary, ReferencePhoto
from models.staff import Role
from tests.factories import make_county, staff_headers, unique_id_number
from tests.registry.test_registry_api import _tiny_png


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


async def test_csv_import_reports_every_row_and_reimport_changes_nothing(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    good_a, good_b = unique_id_number(), unique_id_number(male=False)
    bad_checksum = good_a[:17] + ("0" if good_a[17] != "0" else "1")
    rows = [
        ["姓名", "身份证号", "类别", "服务站", "家庭住址", "联系电话", "月发放金额"],
        ["张建国", good_a, "参战退役人员", county.station_a.code, "伊山镇1号", "13900000001", "820"],
        ["李秀英", good_b, "烈士遗属", county.station_b.name, "杨集镇2号", "13900000002", "2310.5"],
        ["王错号", bad_checksum, "残疾军人", county.station_a.code, "", "", "100"],
        ["赵未知", unique_id_number(), "宇航员", county.station_a.code, "", "", "100"],
        ["钱无站", unique_id_number(), "残疾军人", "不存在的站", "", "", "100"],
        ["张重复", good_a, "参战退役人员", county.station_a.code, "", "", "820"],
    ]
    data = _csv(rows)
    response = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("名册.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["imported"], report["rejected"], report["unchanged"]) == (2, 4, 0)
    reasons = {row["row"]: row.get("reason") for row in report["rows"]}
    assert reasons == {2: None, 3: None, 4: "bad_checksum", 5: "unknown_category", 6: "unknown_station", 7: "duplicate"}
    assert await Beneficiary.all().count() == 2

    again = (await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("名册.csv", data, "text/csv")})).json()
    assert (again["imported"], again["unchanged"], again["rejected"]) == (0, 2, 4)
    assert await Beneficiary.all().count() == 2


async def test_xlsx_import(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "id_number", "category", "station", "village", "monthly_amount"])
    sheet.append(["孙德胜", unique_id_number(), "disabled_serviceman", county.station_a.code, county.village_a.code, 3500])
    sheet.append(["周外站", unique_id_number(), "disabled_serviceman", county.station_b.code, "", 100])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("roster.xlsx", buffer.getvalue(), "application/octet-stream")})
    report = response.json()
    assert report["imported"] == 1
    assert report["rows"][1]["reason"] == "out_of_scope"
    person = await Beneficiary.get(name="孙德胜")
    assert person.village_id == county.village_a.id and str(person.monthly_amount) == "3500.00"


async def test_unreadable_files_get_clear_errors(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    wrong_type = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("a.pdf", b"%PDF-1.4", "application/pdf")})
    assert wrong_type.json()["error"]["code"] == "import_file_type"
    broken = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("a.xlsx", b"not a zip", "application/octet-stream")})
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "import_bad_xlsx"
    missing = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("a.csv", _csv([["姓名", "电话"], ["x", "1"]]), "text/csv")})
    assert missing.json()["error"]["code"] == "import_missing_columns"
    no_file = await client.post("/api/beneficiaries/import", headers=headers, data={"x": "1"})
    assert no_file.status_code == 400 and no_file.json()["error"]["code"] == "missing_file"


async def test_photo_zip_import_by_id_number(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    number = unique_id_number()
    await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("r.csv", _csv([["姓名", "身份证号", "类别", "服务站"], ["吴老兵", number, "在乡老复员军人", county.station_a.code]]), "text/csv")})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"photos/{number}.png", _tiny_png())
        zf.writestr(f"{unique_id_number()}.png", _tiny_png())
        zf.writestr("readme.txt", b"hello")
    data = archive.getvalue()
    report = (await client.post("/api/beneficiaries/photos/import", headers=headers, files={"file": ("ids.zip", data, "application/zip")})).json()
    assert report["imported"] == 1 and report["rejected"] == 2, str(report)
    again = (await client.post("/api/beneficiaries/photos/import", headers=headers, files={"file": ("ids.zip", data, "application/zip")})).json()
    assert again["imported"] == 0 and again["unchanged"] == 1
    assert await ReferencePhoto.all().count() == 1
