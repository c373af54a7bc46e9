"""Registry imports run as background jobs: 202 and a progress endpoint, health answers meanwhile, resumable."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
from sanic import Sanic

from models.registry import Beneficiary, ImportBatch
from models.staff import Role
from server.registry import jobs
from tests.factories import login, make_county, make_staff, staff_headers, unique_id_number


def _roster(rows: int, station_code: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["姓名", "身份证号", "类别", "服务站"])
    for n in range(rows):
        writer.writerow([f"人员{n}", unique_id_number(), "参战退役人员", station_code])
    return buffer.getvalue().encode()


async def test_import_runs_in_the_background_while_health_answers(client: httpx.AsyncClient, background_only: None) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.BUREAU, unit=county.district)
    headers = await login(client, clerk)
    started = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("big.csv", _roster(1200, county.station_a.code), "text/csv")})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] in ("queued", "running") and job["progress_url"].endswith(str(job["job_id"]))
    answered_while_running = 0
    for _ in range(600):
        health = await client.get("/healthz")
        assert health.status_code == 200
        progress = (await client.get(job["progress_url"], headers=headers)).json()
        if progress["status"] == "done":
            break
        answered_while_running += 1
        await asyncio.sleep(0.05)
    assert progress["status"] == "done" and progress["imported"] == 1200 and progress["processed_rows"] == 1200
    assert answered_while_running > 0
    assert await Beneficiary.all().count() == 1200
    stranger = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    assert (await client.get(job["progress_url"], headers=stranger)).status_code == 404


async def test_a_job_whose_process_died_resumes_after_its_last_finished_row(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    clerk = await make_staff(role=Role.BUREAU, unit=county.district)
    data = _roster(4, county.station_a.code)
    path = app.ctx.settings.var_dir / "imports" / "resume-test.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    batch = await ImportBatch.create(kind="registry", status="running", file_sha256="x" * 64, filename="r.csv", staff_id=clerk.id, upload_path=str(path), processed_rows=2, imported=2, total_rows=2, report=[])
    await ImportBatch.filter(id=batch.id).update(updated_at=long_ago)
    assert await jobs.resume_stalled_imports() == [batch.id]
    assert await jobs.resume_stalled_imports() == []  # claimed once
    task = jobs.running_task(batch.id)
    if task is not None:
        await task
    done = await ImportBatch.get(id=batch.id)
    assert done.status == "done" and done.imported == 4 and done.processed_rows == 4
    # Rows 1-2 were finished before the crash (and are skipped); rows 3-4 are imported now.
    assert sorted(await Beneficiary.all().values_list("name", flat=True)) == ["人员2", "人员3"]
    assert not path.exists()
