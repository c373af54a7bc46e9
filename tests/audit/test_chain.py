from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
from tortoise import connections

from models.audit import AuditEntry
from models.staff import Role
from server.actors import Actor
from server.audit import service as audit
from tests.factories import make_beneficiary, make_county, staff_headers


async def test_every_change_is_chained_and_verifies(client: httpx.AsyncClient) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    await client.patch(f"/api/beneficiaries/{person.id}", headers=headers, json={"version": person.version, "phone": "13700000000"})
    entries = await AuditEntry.all().order_by("seq")
    assert [e.action for e in entries] == ["beneficiary.created", "beneficiary.updated"]
    update = entries[1]
    assert update.actor_type == "staff" and update.actor_role == "station"
    assert update.summary["before"]["phone"] != update.summary["after"]["phone"]
    assert update.prev_hash == entries[0].hash
    admin = await staff_headers(client, role=Role.ADMIN, unit=county.city)
    report = (await client.get("/api/audit/verify", headers=admin)).json()
    assert report == {"ok": True, "checked": 2, "first_broken_seq": None, "problem": None}


async def test_tampered_row_is_detected(client: httpx.AsyncClient) -> None:
    county = await make_county()
    for i in range(4):
        await make_beneficiary(station=county.station_a, name=f"人员{i}")
    target = await AuditEntry.get(seq=3)
    await connections.get("default").execute_query(
        "UPDATE audit_entry SET action = 'beneficiary.deleted' WHERE id = " + str(target.id)
    )
    admin = await staff_headers(client, role=Role.ADMIN, unit=county.city)
    response = await client.get("/api/audit/verify", headers=admin)
    assert response.status_code == 409
    assert response.json()["first_broken_seq"] == 3


async def test_deleted_row_is_detected(app) -> None:  # type: ignore[no-untyped-def]
    actor = Actor(type="system", id=None)
    for i in range(3):
        await audit.record(actor=actor, action="test.event", entity_type="test", entity_id=i)
    await AuditEntry.filter(seq=2).delete()
    report = await audit.verify_chain()
    assert not report.ok and report.first_broken_seq == 2


async def test_concurrent_appends_keep_one_unbroken_chain(app) -> None:  # type: ignore[no-untyped-def]
    actor = Actor(type="system", id=None)
    await asyncio.gather(*(audit.record(actor=actor, action="test.event", entity_type="test", entity_id=i) for i in range(40)))
    report = await audit.verify_chain()
    assert report.ok and report.checked == 40


def test_verify_audit_command_on_a_fresh_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"VETS_DATABASE__URL": f"sqlite://{tmp_path / 'cli.sqlite3'}", "VETS_VAR_DIR": str(tmp_path), "VETS_MEDIA_DIR": str(tmp_path / "media"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "server", "verify-audit"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"ok": true' in result.stdout
