"""The campaign counters behind the reports (server/confirmation/tally.py) never disagree with the rows.

Many confirmation changes go through the real services (opening in chunks, station and home-visit
confirmations, every visit outcome, deaths, moved out, review decisions, rechecks, bulk updates,
living away changing, a rolled-back change, deletions, two tasks at once), and after each round the
counts the report reads are compared with a count of the rows made in Python, and the whole progress
report (JSON and XLSX) with the one the GROUP BY gives. On PostgreSQL that exercises the triggers and
the counter table; on SQLite (plain GROUP BY) it checks the same answers.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sanic import Sanic
from tortoise import connections
from tortoise.transactions import in_transaction

from models.confirmation import (
    AgeBracket,
    Campaign,
    Confirmation,
    ConfirmationStatus,
    FaceAttempt,
    FaceDecision,
    ReviewItem,
)
from models.org import OrgKind
from models.registry import Beneficiary
from models.staff import Role
from server import db
from server.actors import SYSTEM, Actor
from server.auth.scope import Scope
from server.confirmation import campaigns, deaths, quotas, records, reports, review, tally
from server.errors import Conflict
from tests.confirmation.helpers_admin import birth_for, china_today, open_campaign
from tests.factories import County, make_beneficiary, make_county

ACTOR = Actor(type="staff", id="1", role="admin")
BRACKETS = list(AgeBracket)


def _v(value: Any) -> Any:
    return getattr(value, "value", value)


async def _truth(campaign_id: int) -> Counter[tuple[Any, ...]]:
    rows = await Confirmation.filter(campaign_id=campaign_id).values("station_id", "age_bracket", "status", "method", "home_visited", "exclusion", "beneficiary__lives_away")
    return Counter((r["station_id"], _v(r["age_bracket"]), _v(r["status"]), _v(r["method"]), bool(r["home_visited"]), r["exclusion"], bool(r["beneficiary__lives_away"])) for r in rows)


def _as_counter(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    found: Counter[tuple[Any, ...]] = Counter()
    for r in rows:
        found[(r["station_id"], _v(r["age_bracket"]), _v(r["status"]), _v(r["method"]), bool(r["home_visited"]), r["exclusion"], bool(r["lives_away"]))] += r["n"]
    return found


def _cells(workbook: bytes) -> list[list[list[Any]]]:
    """Every sheet's values (the file itself carries the time it was written)."""
    book = load_workbook(io.BytesIO(workbook))
    return [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets]


def _scope(county: County) -> Scope:
    return Scope(role=Role.ADMIN, org_unit_id=county.district.id, org_kind=OrgKind.DISTRICT)


async def _assert_consistent(county: County, campaign_id: int, monkeypatch: pytest.MonkeyPatch) -> None:
    truth = await _truth(campaign_id)
    assert _as_counter(await tally.grouped(campaign_id=campaign_id, station_ids=None)) == truth
    only_a = frozenset({county.station_a.id})
    assert _as_counter(await tally.grouped(campaign_id=campaign_id, station_ids=only_a)) == Counter({k: n for k, n in truth.items() if k[0] == county.station_a.id})
    # The whole report: from the counters, then from the GROUP BY; the same but for the clock.
    scope = _scope(county)
    from_tally = await reports.progress(scope=scope, campaign_id=campaign_id)
    summary_tally = await reports.summary(scope=scope, campaign_id=campaign_id)
    with monkeypatch.context() as patched:
        patched.setattr(tally, "grouped", tally.recounted)
        from_rows = await reports.progress(scope=scope, campaign_id=campaign_id)
        summary_rows = await reports.summary(scope=scope, campaign_id=campaign_id)
    for report in (from_tally, from_rows, summary_tally, summary_rows):
        report.pop("generated_at")
    assert from_tally == from_rows
    assert _cells(reports.progress_xlsx(from_tally)) == _cells(reports.progress_xlsx(from_rows))
    assert summary_tally == summary_rows
    assert summary_tally["unconfirmed_total"] == sum(n for k, n in truth.items() if k[5] is None and k[2] not in ("confirmed", "deceased"))
    if db.is_postgres():
        assert all(check["ok"] for check in await tally.verify())


def _visit(outcome: str) -> records.HomeVisit:
    return records.HomeVisit(outcome=outcome, visited_at=datetime.now(UTC), visitors="王伟 李强", death_date=china_today() - timedelta(days=3) if outcome == "death_reported" else None)


async def _step(rng: random.Random, county: County, confirmation: Confirmation, media_dir: Path) -> None:
    """One change through a service, chosen at random; refusals (409) are part of the mix."""
    scope = _scope(county)
    action = rng.choice(["station", "visit_confirmed", "visit_not_found", "visit_moved", "visit_death", "moved_out", "review_accept", "review_reject", "recheck", "lives_away", "bulk_touch", "rollback"])
    try:
        if action == "station":
            await records.record_station_confirmation(scope=scope, actor=ACTOR, confirmation_id=confirmation.id, notes="", updates=records.PersonUpdates(), photo=None, media_dir=media_dir)
        elif action.startswith("visit_"):
            outcome = {"visit_confirmed": "confirmed", "visit_not_found": "not_found", "visit_moved": "moved_away", "visit_death": "death_reported"}[action]
            await records.record_home_visit(scope=scope, actor=ACTOR, confirmation_id=confirmation.id, visit=_visit(outcome), photo=None, media_dir=media_dir)
        elif action == "moved_out":
            await quotas.exclude_moved_out(scope=scope, actor=ACTOR, confirmation_id=confirmation.id, note="迁往南京市")
        elif action.startswith("review_"):
            await Confirmation.filter(id=confirmation.id, status=ConfirmationStatus.PENDING).update(status=ConfirmationStatus.IN_REVIEW)
            attempt = await FaceAttempt.create(confirmation_id=confirmation.id, beneficiary_id=confirmation.beneficiary_id, user_id=1, decision=FaceDecision.REVIEW, evidence_purge_after=date.today() + timedelta(days=90))
            item = await ReviewItem.create(attempt=attempt, confirmation_id=confirmation.id, station_id=confirmation.station_id, due_date=date.today() + timedelta(days=3))
            await review.decide(scope=scope, actor=ACTOR, item_id=item.id, accept=action == "review_accept", reason="人工核对")
        elif action == "recheck":
            await records.recheck(scope=scope, actor=ACTOR, confirmation_id=confirmation.id, accepted=rng.random() < 0.5, note="抽查")
        elif action == "lives_away":
            await Beneficiary.filter(id=confirmation.beneficiary_id).update(lives_away=rng.random() < 0.5)
        elif action == "bulk_touch":  # a key-less update of many rows (as reminders do)
            await Confirmation.filter(campaign_id=confirmation.campaign_id, station_id=confirmation.station_id).update(last_reminded_at=datetime.now(UTC))
        else:  # a change rolled back takes its counts back with it
            with pytest.raises(RuntimeError):
                async with in_transaction():
                    await Confirmation.filter(id=confirmation.id).update(status=ConfirmationStatus.CONFIRMED, method="station", home_visited=True, exclusion="moved_out")
                    raise RuntimeError("rolled back")
    except Conflict:
        pass


async def _county_with_people(count: int, rng: random.Random) -> tuple[County, list[Beneficiary]]:
    county = await make_county("Q")
    reference = china_today() - timedelta(days=60)
    people = []
    for i in range(count):
        station = county.station_a if i % 3 else county.station_b
        bracket = BRACKETS[i % len(BRACKETS)]
        people.append(await make_beneficiary(station=station, name=f"测试{i}", birth=birth_for(bracket, reference) - timedelta(days=i), lives_away=rng.random() < 0.15))
    return county, people


async def test_counters_match_the_rows_through_many_changes(app: Sanic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rng = random.Random(18)
    county, people = await _county_with_people(45, rng)
    monkeypatch.setattr(tally, "COMPACT_AFTER", 5)  # reads fold the pieces as they go
    # Opening in many chunks: each chunk is one statement adding its counts.
    monkeypatch.setattr(campaigns, "OPEN_CHUNK_IDS", 4)
    campaign = await open_campaign(county.district, implementation_end=china_today() + timedelta(days=20))
    await _assert_consistent(county, campaign.id, monkeypatch)
    assert sum((await _truth(campaign.id)).values()) == len(people)

    confirmations = await Confirmation.filter(campaign_id=campaign.id).order_by("id")
    for round_ in range(4):
        for _ in range(25):
            fresh = await Confirmation.get(id=rng.choice(confirmations).id)
            await _step(rng, county, fresh, tmp_path)
        if round_ == 1:
            await tally.compact(campaign_id=campaign.id)  # folding the pieces changes no count
        await _assert_consistent(county, campaign.id, monkeypatch)

    # The mix reached the states the report tells apart (not only refusals).
    reached = await _truth(campaign.id)
    assert {k[2] for k in reached} >= {"pending", "confirmed", "not_found", "moved", "deceased"}
    assert {k[3] for k in reached} >= {"home_visit", "station", "self_service"}
    assert any(k[5] == "moved_out" for k in reached) and any(k[6] for k in reached)

    # A death recorded from the registry side (the death list) updates every open campaign's row.
    alive = await Confirmation.filter(campaign_id=campaign.id).exclude(status=ConfirmationStatus.DECEASED).first()
    assert alive is not None
    person = await Beneficiary.get(id=alive.beneficiary_id)
    await deaths.record_death(actor=ACTOR, beneficiary=person, death_date=china_today() - timedelta(days=10), source="民政死亡名单", import_sha256="x" * 64)
    await _assert_consistent(county, campaign.id, monkeypatch)

    # Deleting rows, one and many, takes them out of the counts.
    await Confirmation.filter(id=confirmations[0].id).delete()
    await Confirmation.filter(campaign_id=campaign.id, station_id=county.station_b.id, age_bracket=AgeBracket.UNDER_70).delete()
    await _assert_consistent(county, campaign.id, monkeypatch)


async def test_counters_stay_right_with_two_tasks_writing_at_once(app: Sanic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rng = random.Random(7)
    county, _ = await _county_with_people(30, rng)
    monkeypatch.setattr(tally, "COMPACT_AFTER", 5)
    campaign = await open_campaign(county.district, implementation_end=china_today() + timedelta(days=20))
    ids = list(await Confirmation.filter(campaign_id=campaign.id).order_by("id").values_list("id", flat=True))
    scope = _scope(county)

    async def clerk(mine: list[int], outcome: str) -> None:
        for cid in mine:
            try:
                await records.record_home_visit(scope=scope, actor=ACTOR, confirmation_id=cid, visit=_visit(outcome), photo=None, media_dir=tmp_path)
            except Conflict:
                pass  # both clerks on one person: the second is refused or confirms nothing new

    async def flipper(mine: list[int]) -> None:
        """The registry changing who lives away while the clerks record (the counters follow the flag)."""
        for cid in mine:
            confirmation = await Confirmation.get(id=cid)
            person = await Beneficiary.get(id=confirmation.beneficiary_id)
            await Beneficiary.filter(id=person.id).update(lives_away=not person.lives_away)

    # Interleaved halves, a shared tail both clerks work on, and living away flipping meanwhile.
    shared = ids[-6:]
    await asyncio.gather(clerk(ids[0:24:2] + shared, "confirmed"), clerk(ids[1:24:2] + shared, "not_found"), flipper(ids[0:24:3] + shared))
    await _assert_consistent(county, campaign.id, monkeypatch)
    # Many single-row updates from two tasks against bulk updates over the same rows.
    await asyncio.gather(
        clerk(ids[24:], "confirmed"),
        Confirmation.filter(campaign_id=campaign.id).update(last_reminded_at=datetime.now(UTC)),
        tally.compact(campaign_id=campaign.id),
    )
    await _assert_consistent(county, campaign.id, monkeypatch)


async def test_deleting_a_campaign_and_a_second_campaign_keep_their_own_counts(app: Sanic, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    county, _ = await _county_with_people(12, rng)
    first = await open_campaign(county.district, implementation_end=china_today() + timedelta(days=20))
    scope = _scope(county)
    second = await campaigns.create_campaign(scope=scope, actor=ACTOR, year=first.year + 1, name=None, district_id=county.district.id, dates=None, categories=None)
    # The opening job names who started it (a staff member who exists, or the system).
    await campaigns.open_campaign(scope=scope, actor=SYSTEM, campaign_id=second.id)
    await Confirmation.filter(campaign_id=second.id, age_bracket=AgeBracket.AGE_80_PLUS).update(status=ConfirmationStatus.CONFIRMED, method="home_visit", home_visited=True)
    await _assert_consistent(county, first.id, monkeypatch)
    await _assert_consistent(county, second.id, monkeypatch)
    # A person living away deleted from the registry takes their confirmations with them (cascade).
    away = await Beneficiary.filter(lives_away=True).first()
    if away is None:
        away = await Beneficiary.first()
        assert away is not None
        await Beneficiary.filter(id=away.id).update(lives_away=True)
    await connections.get("default").execute_query("DELETE FROM beneficiary WHERE id = " + str(away.id))
    await _assert_consistent(county, first.id, monkeypatch)
    await _assert_consistent(county, second.id, monkeypatch)
    await Campaign.filter(id=second.id).delete()  # its confirmations go with it (cascade)
    assert await tally.grouped(campaign_id=second.id, station_ids=None) == []
    await _assert_consistent(county, first.id, monkeypatch)


async def test_verify_finds_and_repairs_drift(app: Sanic, monkeypatch: pytest.MonkeyPatch) -> None:
    if not db.is_postgres():
        assert await tally.verify() == []  # SQLite counts by GROUP BY: nothing can drift
        return
    rng = random.Random(5)
    county, _ = await _county_with_people(10, rng)
    campaign = await open_campaign(county.district, implementation_end=china_today() + timedelta(days=20))
    conn = connections.get("default")
    # A change the triggers did not see (as a restore or a maintenance job with triggers off would make).
    async with in_transaction() as tx:
        await tx.execute_script("SET LOCAL session_replication_role = replica")
        await tx.execute_query("UPDATE confirmation SET status = 'confirmed', method = 'station' WHERE campaign_id = $1", [campaign.id])
    found = await tally.verify(campaign_id=campaign.id)
    assert not found[0]["ok"] and found[0]["differences"]
    assert await conn.execute_query_dict("SELECT 1 FROM confirmation_tally WHERE campaign_id = $1 LIMIT 1", [campaign.id])
    repaired = await tally.verify(campaign_id=campaign.id, repair=True)
    assert repaired[0]["repaired"]
    assert (await tally.verify(campaign_id=campaign.id))[0]["ok"]
    await _assert_consistent(county, campaign.id, monkeypatch)
