from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys

import httpx
from tortoise import connections

from models.audit import AuditEntry, AuditHead
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


async def _records(n: int) -> None:
    actor = Actor(type="system", id=None)
    for i in range(n):
        await audit.record(actor=actor, action="test.event", entity_type="test", entity_id=i)


async def test_truncation_with_the_head_moved_back_is_detected_by_the_anchor(app) -> None:  # type: ignore[no-untyped-def]
    await _records(5)
    assert await audit.anchor_head() is not None
    assert await audit.anchor_head() is None  # unchanged head: nothing new to anchor
    # An intruder deletes the newest rows and moves the head back: the chain itself is consistent.
    tip = await AuditEntry.get(seq=3)
    await AuditEntry.filter(seq__gt=3).delete()
    await AuditHead.filter(id=1).update(last_seq=3, last_hash=tip.hash)
    report = await audit.verify_chain()
    assert not report.ok and "anchored" in (report.problem or "")


async def test_an_edit_re_hashed_without_the_key_is_detected(app) -> None:  # type: ignore[no-untyped-def]
    await _records(4)
    # Re-hash every entry from 2 on with plain SHA-256 (what the unkeyed chain allowed).
    entries = await AuditEntry.filter(seq__gte=2).order_by("seq")
    prev = (await AuditEntry.get(seq=1)).hash
    for entry in entries:
        entry.action = "test.rewritten"
        entry.prev_hash = prev
        material = json.dumps({"seq": entry.seq, "prev_hash": prev, "action": entry.action}, sort_keys=True)
        entry.hash = hashlib.sha256(material.encode()).hexdigest()
        await entry.save()
        prev = entry.hash
    await AuditHead.filter(id=1).update(last_hash=prev)
    report = await audit.verify_chain()
    assert not report.ok and report.first_broken_seq == 2


async def test_a_rewrite_with_the_key_is_caught_by_the_anchor(app) -> None:  # type: ignore[no-untyped-def]
    await _records(3)
    await audit.anchor_head()
    # Even an intruder holding the key cannot make the anchored hash match a rewritten entry.
    entry = await AuditEntry.get(seq=3)
    entry.action = "test.rewritten"
    entry.hash = audit._entry_hash(seq=entry.seq, created_at=entry.created_at, fields=audit._hashed_fields(entry), prev_hash=entry.prev_hash)
    await entry.save()
    await AuditHead.filter(id=1).update(last_hash=entry.hash)
    report = await audit.verify_chain()
    assert not report.ok and report.first_broken_seq == 3 and "rewritten" in (report.problem or "")


async def test_verify_audit_command_detects_truncation(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = app.ctx.settings
    anchor = tmp_path / "anchor.log"
    await _records(4)
    await audit.anchor_head(anchor_path=anchor)
    env = {
        "PATH": "/usr/bin:/bin",
        "VETS_ENVIRONMENT": "development",
        "VETS_DATABASE__URL": settings.database.url,
        "VETS_VAR_DIR": str(tmp_path),
        "VETS_MEDIA_DIR": str(tmp_path / "media"),
        "VETS_SECURITY__FIELD_KEY": settings.security.field_key.get_secret_value(),
        "VETS_AUDIT__KEY": settings.audit.key.get_secret_value(),
        "VETS_AUDIT__ANCHOR_PATH": str(anchor),
    }
    command = [sys.executable, "-m", "server", "verify-audit"]
    intact = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=120)
    assert intact.returncode == 0 and '"ok": true' in intact.stdout, intact.stdout + intact.stderr
    tip = await AuditEntry.get(seq=2)
    await AuditEntry.filter(seq__gt=2).delete()
    await AuditHead.filter(id=1).update(last_seq=2, last_hash=tip.hash)
    truncated = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=120)
    assert truncated.returncode == 1 and '"ok": false' in truncated.stdout, truncated.stdout + truncated.stderr


async def test_audit_entries_are_scoped_by_district(client: httpx.AsyncClient) -> None:
    home = await make_county("H")
    other = await make_county("O")
    await make_beneficiary(station=home.station_a, name="本区人员")
    await make_beneficiary(station=other.station_a, name="外区人员", address="外区地址1号")
    bureau = await staff_headers(client, role=Role.BUREAU, unit=home.district)
    auditor = await staff_headers(client, role=Role.AUDITOR, unit=home.district)
    for headers in (bureau, auditor):
        response = await client.get("/api/audit/entries", headers=headers)
        assert response.status_code == 200
        assert "外区" not in response.text
        assert len(response.json()["items"]) == 1
        by_id = await client.get("/api/audit/entries", headers=headers, params={"entity_type": "beneficiary"})
        assert "外区" not in by_id.text
    admin = await staff_headers(client, role=Role.ADMIN, unit=home.city)
    everything = (await client.get("/api/audit/entries", headers=admin)).json()["items"]
    assert len(everything) == 2
