"""ID-photo zips and death lists import as background jobs: 202 and a progress endpoint, the server
answers meanwhile, a row report, one audit entry, resumable after a crash, bad files refused before a job."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sanic import Sanic

from models.audit import AuditEntry
from models.confirmation import DeathRecord
from models.registry import Beneficiary, ImportBatch, ReferencePhoto
from models.staff import Role
from server import import_jobs
from server.registry.service import decrypt_id_number
from tests.confirmation.helpers_admin import csv_bytes
from tests.factories import (
    PASSWORD,
    login,
    make_beneficiary,
    make_county,
    make_staff,
    staff_headers,
    unique_id_number,
)
from tests.registry.test_registry_api import _tiny_png


async def _follow(client: httpx.AsyncClient, headers: dict[str, str], job: dict[str, Any]) -> dict[str, Any]:
    """Poll the progress endpoint (and the health check, which must answer throughout) until the job ends."""
    for _ in range(600):
        assert (await client.get("/healthz")).status_code == 200
        progress = (await client.get(job["progress_url"], headers=headers)).json()
        if progress["status"] in ("done", "failed"):
            return progress
        await asyncio.sleep(0.05)
    raise AssertionError(f"job did not finish: {progress}")


def _photo_zip(names: list[str], image: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in names:
            zf.writestr(name, image)
    return buffer.getvalue()


async def test_photo_zip_imports_in_the_background_with_a_masked_report_and_an_audit_entry(client: httpx.AsyncClient, background_only: None) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.BUREAU, unit=county.district)
    headers = await login(client, clerk)
    people = [await make_beneficiary(station=county.station_a, name=f"照片{n}") for n in range(30)]
    numbers = [decrypt_id_number(p) for p in people]
    stranger = unique_id_number()
    data = _photo_zip([f"photos/{n}.png" for n in numbers] + [f"{stranger}.png"], _tiny_png())
    started = await client.post("/api/beneficiaries/photos/import", headers=headers, files={"file": ("ids.zip", data, "application/zip")})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] in ("queued", "running") and job["progress_url"] == f"/api/beneficiaries/photos/imports/{job['job_id']}"
    progress = await _follow(client, headers, job)
    assert progress["status"] == "done", progress
    assert (progress["total"], progress["imported"], progress["rejected"]) == (31, 30, 1)
    assert [r["reason"] for r in progress["rows"] if r["status"] == "rejected"] == ["unknown_person"]
    for number in [*numbers, stranger]:
        assert number not in str(progress)
    assert await ReferencePhoto.filter(beneficiary_id__in=[p.id for p in people], is_active=True).count() == 30
    entry = await AuditEntry.get(action="registry.photos_imported", entity_id=str(job["job_id"]))
    assert entry.summary["details"]["imported"] == 30 and entry.summary["details"]["rejected"] == 1
    # The uploaded file is gone once the job is done; the progress is its starter's (and the admin's) only.
    batch = await ImportBatch.get(id=job["job_id"])
    assert batch.upload_path and not Path(batch.upload_path).exists()
    other = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    assert (await client.get(job["progress_url"], headers=other)).status_code == 404
    # The same zip again changes nothing.
    again = await client.post("/api/beneficiaries/photos/import", headers=headers, files={"file": ("ids.zip", data, "application/zip")})
    repeat = await _follow(client, headers, again.json())
    assert (repeat["imported"], repeat["unchanged"]) == (0, 30)


async def test_a_bad_archive_is_refused_at_upload_and_no_job_exists(client: httpx.AsyncClient) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    before = await ImportBatch.all().count()
    broken = await client.post("/api/beneficiaries/photos/import", headers=headers, files={"file": ("x.zip", b"PK\x03\x04garbage", "application/zip")})
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "import_bad_zip"
    not_a_list = await client.post("/api/deaths/import", headers=headers, files={"file": ("d.pdf", b"%PDF-1.4", "application/pdf")})
    assert not_a_list.status_code == 422 and not_a_list.json()["error"]["code"] == "import_file_type"
    assert await ImportBatch.all().count() == before


async def test_death_list_imports_in_the_background_with_progress_and_an_audit_entry(client: httpx.AsyncClient, background_only: None) -> None:
    county = await make_county()
    bureau = await make_staff(role=Role.BUREAU, unit=county.district)
    headers = await login(client, bureau)
    people = [await make_beneficiary(station=county.station_a, name=f"故{n}") for n in range(40)]
    rows = [["身份证号", "姓名", "死亡日期", "来源"]] + [[decrypt_id_number(p), p.name, "2026-01-05", "民政"] for p in people] + [[unique_id_number(), "查无此人", "2026-01-05", "民政"]]
    started = await client.post("/api/deaths/import", headers=headers, files={"file": ("deaths.csv", csv_bytes(rows), "text/csv")})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["progress_url"] == f"/api/deaths/imports/{job['job_id']}"
    progress = await _follow(client, headers, job)
    assert progress["status"] == "done", progress
    assert (progress["total"], progress["recorded"], progress["unmatched"]) == (41, 40, 1)
    assert progress["summary"] == {"imported": 40, "unchanged": 0, "rejected": 1}
    assert await DeathRecord.filter(beneficiary_id__in=[p.id for p in people]).count() == 40
    entry = await AuditEntry.get(action="deaths.imported", entity_id=str(job["job_id"]))
    assert entry.summary["details"]["recorded"] == 40 and entry.summary["details"]["unmatched"] == 1
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    assert (await client.post("/api/deaths/import", headers=station, files={"file": ("deaths.csv", csv_bytes(rows), "text/csv")})).status_code == 403


async def test_a_death_import_whose_process_died_resumes_after_its_last_finished_row(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    bureau = await make_staff(role=Role.BUREAU, unit=county.district)
    people = [await make_beneficiary(station=county.station_a, name=f"续{n}") for n in range(4)]
    data = csv_bytes([["身份证号", "姓名", "死亡日期"]] + [[decrypt_id_number(p), p.name, "2026-02-01"] for p in people])
    path = app.ctx.settings.var_dir / "imports" / "resume-deaths.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    batch = await ImportBatch.create(kind="deaths", status="running", file_sha256="d" * 64, filename="d.csv", staff_id=bureau.id, upload_path=str(path), processed_rows=2, imported=2, total_rows=2, outcome_counts={"recorded": 2}, report=[])
    await ImportBatch.filter(id=batch.id).update(updated_at=datetime.now(UTC) - timedelta(hours=1))
    assert await import_jobs.resume_stalled_imports(settings=app.ctx.settings) == [batch.id]
    assert await import_jobs.resume_stalled_imports(settings=app.ctx.settings) == []  # claimed once
    task = import_jobs.running_task(batch.id, "deaths")
    if task is not None:
        await task
    done = await ImportBatch.get(id=batch.id)
    assert done.status == "done" and done.processed_rows == 4 and done.outcome_counts["recorded"] == 4 and done.imported == 4
    # Rows 1-2 were finished before the crash (and are skipped); rows 3-4 are recorded now.
    assert sorted(await DeathRecord.all().values_list("beneficiary_id", flat=True)) == sorted(p.id for p in people[2:])
    assert not path.exists()


async def test_the_console_death_import_still_shows_its_report(client: httpx.AsyncClient) -> None:
    county = await make_county()
    bureau = await make_staff(role=Role.BUREAU, unit=county.district)
    person = await make_beneficiary(station=county.station_a, name="控台故人")
    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    signed_in = await client.post("/console/login", data={"username": bureau.username, "password": PASSWORD, "csrf_token": token})
    cookie = {"Cookie": f"vets_session={signed_in.cookies['vets_session']}"}
    home = await client.get("/console/", headers=cookie)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
    data = csv_bytes([["身份证号", "姓名", "死亡日期"], [decrypt_id_number(person), "控台故人", "2026-03-01"]])
    response = await client.post("/console/deaths/import", headers=cookie, data={"csrf_token": csrf}, files={"file": ("deaths.csv", data, "text/csv")})
    assert response.status_code == 200, response.text[:500]
    assert "死亡名单导入结果" in response.text and person.id_number_masked in response.text
    assert (await Beneficiary.get(id=person.id)).death_date is not None
