"""Campaign counts for the reports: a counter table on PostgreSQL, the plain GROUP BY on SQLite.

Why a counter table: the progress report (and the quota list, the summary, the Friday snapshot built
on it) needs the count of a campaign's confirmations per station, age bracket, status, method, home
visit and exclusion. One GROUP BY over the campaign reads every row: 2.8 s at 500 k people, about
5.5 s at 1 M. ``confirmation_tally`` holds those counts instead, kept by statement-level triggers
on ``confirmation`` (migration 0015_tally) in the writing transaction, so the counts commit and roll
back with the change that made them: reading them costs a few hundred rows whatever the campaign size.

Why append-only pieces instead of one row per key updated in place: every confirmation of a station
and bracket would update the same counter row and hold its lock until commit, so concurrent clerks
of one station would queue behind each other, and two transactions touching two keys in opposite
order would deadlock. Each statement appends its signed counts (a statement changing no key appends
nothing); the report sums the pieces per key, and ``compact`` folds a campaign's pieces into one per
key (when a read finds many, and hourly): a DELETE … RETURNING feeding an INSERT in one statement,
which only folds the pieces it deleted, so pieces committed meanwhile are kept, never lost.

Living away (长期在外, outside the home-visit base) is a beneficiary flag, part of the key: the
confirmation triggers read it, and a row trigger on beneficiary moves a person's counts when it flips.
The two triggers read each other's table, so an advisory lock orders them (shared for confirmation
statements, exclusive for a flip: see the migration); a flip is rare and waits for the confirmation
writers in flight, never the other way round for long. (Counting living away at read time instead,
a join with the 12 % of people living away in the generated county, cost 0.4–0.9 s at 1 M.)

Drift (counts written with triggers disabled, a restored dump, a bug) is found by ``verify``: it
compares the tally with the GROUP BY in one REPEATABLE READ snapshot (triggers write in the same
transaction as the rows, so any snapshot sees both agree) and with ``repair`` appends the correction,
which stays right whatever commits meanwhile. ``python -m server verify-tally [--repair]`` and the
daily ``verify_confirmation_tally`` job (repairs, logs a warning) run it.
"""

from __future__ import annotations

import logging
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from server.db import is_postgres

log = logging.getLogger(__name__)

Key = tuple[int, str, str, str | None, bool, str | None, bool]  # station, bracket, status, method, visited, exclusion, lives away
KEY_FIELDS = ("station_id", "age_bracket", "status", "method", "home_visited", "exclusion", "lives_away")
# A read finding more pieces than this folds the campaign's pieces (the next read sums a few hundred).
COMPACT_AFTER = 2000
_LOCK_CLASS = 7015  # pg_advisory_xact_lock(class, campaign): one compaction of a campaign at a time

# The reference count: one GROUP BY over the campaign's rows (SQLite's report; the check of the tally).
# Living away is counted through a hashed subquery of the (few) people living away instead of a join
# with every beneficiary, and summed, not grouped on: grouping on an expression made PostgreSQL expect a
# group per row and sort the campaign on disk (7 s at 500 k people) instead of hashing a few hundred groups.
_GROUPED_SQL = """
SELECT c.station_id, c.age_bracket, c.status, c.method, c.home_visited, c.exclusion, COUNT(*) AS n,
  SUM(CASE WHEN c.beneficiary_id IN (SELECT b.id FROM beneficiary b WHERE b.lives_away) THEN 1 ELSE 0 END) AS away
FROM confirmation c
WHERE c.campaign_id = {campaign} {stations}
GROUP BY c.station_id, c.age_bracket, c.status, c.method, c.home_visited, c.exclusion
"""
_TALLY_SQL = """
SELECT station_id, age_bracket, status, NULLIF(method, '') AS method, home_visited, NULLIF(exclusion, '') AS exclusion,
  lives_away, SUM(n) AS n, COUNT(*) AS pieces
FROM confirmation_tally
WHERE campaign_id = $1 {stations}
GROUP BY station_id, age_bracket, status, method, home_visited, exclusion, lives_away
"""
_COMPACT_SQL = """
WITH gone AS (DELETE FROM confirmation_tally WHERE campaign_id = $1 RETURNING station_id, age_bracket, status, method, home_visited, exclusion, lives_away, n)
INSERT INTO confirmation_tally (campaign_id, station_id, age_bracket, status, method, home_visited, exclusion, lives_away, n)
SELECT $1, station_id, age_bracket, status, method, home_visited, exclusion, lives_away, SUM(n) FROM gone
GROUP BY station_id, age_bracket, status, method, home_visited, exclusion, lives_away HAVING SUM(n) <> 0
"""
_CORRECT_SQL = """
INSERT INTO confirmation_tally (campaign_id, station_id, age_bracket, status, method, home_visited, exclusion, lives_away, n)
SELECT $1, station_id, age_bracket, status, method, home_visited, exclusion, lives_away, n
FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::bool[], $9::bigint[])
  AS fix (station_id, age_bracket, status, method, home_visited, exclusion, lives_away, n)
"""


def _key(row: dict[str, Any], lives_away: bool | None = None) -> Key:
    away = bool(row["lives_away"]) if lives_away is None else lives_away
    return (int(row["station_id"]), str(row["age_bracket"]), str(row["status"]), row["method"] or None, bool(row["home_visited"]), row["exclusion"] or None, away)


def _rows(counts: dict[Key, int]) -> list[dict[str, Any]]:
    """One row per key (the shape the report adds up), empty ones left out."""
    return [{**dict(zip(KEY_FIELDS, key, strict=True)), "n": n} for key, n in counts.items() if n]


async def groupby_counts(*, campaign_id: int, station_ids: frozenset[int] | None, conn: Any = None) -> dict[Key, int]:
    """Counts per key (living away included) by one GROUP BY over the campaign's rows."""
    if is_postgres():
        sql = _GROUPED_SQL.format(campaign="$1", stations="AND c.station_id = ANY($2::int[])" if station_ids is not None else "")
        params: list[Any] = [campaign_id] + ([sorted(station_ids)] if station_ids is not None else [])
        if conn is not None:
            found = await conn.execute_query_dict(sql, params)
        else:
            async with in_transaction() as tx:
                # Enough memory to hash the groups: the planner over-estimates their number.
                await tx.execute_script("SET LOCAL work_mem = '64MB'")
                found = await tx.execute_query_dict(sql, params)
    else:
        marks = ", ".join("?" for _ in station_ids or ())
        sql = _GROUPED_SQL.format(campaign="?", stations=f"AND c.station_id IN ({marks or 'NULL'})" if station_ids is not None else "")
        found = await (conn or connections.get("default")).execute_query_dict(sql, [campaign_id, *sorted(station_ids or ())])
    counts: dict[Key, int] = {}
    for g in found:
        away = int(g["away"] or 0)
        for lives_away, n in ((False, int(g["n"]) - away), (True, away)):
            if n:
                counts[_key(g, lives_away)] = n
    return counts


async def _tally_counts(conn: Any, *, campaign_id: int, station_ids: frozenset[int] | None) -> tuple[dict[Key, int], int]:
    stations = "AND station_id = ANY($2::int[])" if station_ids is not None else ""
    params: list[Any] = [campaign_id] + ([sorted(station_ids)] if station_ids is not None else [])
    found = await conn.execute_query_dict(_TALLY_SQL.format(stations=stations), params)
    counts = {_key(g): int(g["n"]) for g in found if int(g["n"])}
    return counts, sum(int(g["pieces"]) for g in found)


async def recounted(*, campaign_id: int, station_ids: frozenset[int] | None) -> list[dict[str, Any]]:
    """What ``grouped`` answers, by the GROUP BY over the rows (the reference the tests and the
    benchmark compare the counters with)."""
    return _rows(await groupby_counts(campaign_id=campaign_id, station_ids=station_ids))


async def grouped(*, campaign_id: int, station_ids: frozenset[int] | None) -> list[dict[str, Any]]:
    """Rows of (station, bracket, status, method, home_visited, exclusion, lives_away, n) for the
    campaign, limited to ``station_ids`` when given: from the tally on PostgreSQL, else GROUP BY."""
    if not is_postgres():
        return await recounted(campaign_id=campaign_id, station_ids=station_ids)
    counts, pieces = await _tally_counts(connections.get("default"), campaign_id=campaign_id, station_ids=station_ids)
    if pieces > COMPACT_AFTER:
        await compact(campaign_id=campaign_id)
    return _rows(counts)


async def compact(*, campaign_id: int) -> bool:
    """Fold the campaign's pieces into one per key (False when another compaction holds it)."""
    if not is_postgres():
        return False
    async with in_transaction() as conn:
        got = await conn.execute_query_dict("SELECT pg_try_advisory_xact_lock($1, $2) AS got", [_LOCK_CLASS, campaign_id])
        if not got[0]["got"]:
            return False
        await conn.execute_query(_COMPACT_SQL, [campaign_id])
    return True


async def _campaign_ids() -> list[int]:
    conn = connections.get("default")
    rows = await conn.execute_query_dict("SELECT id FROM campaign UNION SELECT DISTINCT campaign_id FROM confirmation_tally ORDER BY 1")
    return [int(r["id"]) for r in rows]


async def compact_all() -> int:
    """Fold every campaign's pieces (the hourly job); returns how many campaigns were folded."""
    if not is_postgres():
        return 0
    return sum([await compact(campaign_id=cid) for cid in await _campaign_ids()])


async def verify(*, campaign_id: int | None = None, repair: bool = False) -> list[dict[str, Any]]:
    """Compare the tally with the GROUP BY, per campaign; with ``repair`` append the corrections.

    Returns one entry per campaign checked: ``{"campaign_id", "ok", "differences": [...]}`` where each
    difference names the key, the tally's count and the true count. Empty on SQLite (no tally)."""
    if not is_postgres():
        return []
    results = []
    for cid in [campaign_id] if campaign_id is not None else await _campaign_ids():
        async with in_transaction() as conn:
            # Rows and tally from the same snapshot: the triggers wrote both in the same transactions.
            await conn.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            await conn.execute_script("SET LOCAL work_mem = '64MB'")
            truth = await groupby_counts(campaign_id=cid, station_ids=None, conn=conn)
            counts, _ = await _tally_counts(conn, campaign_id=cid, station_ids=None)
            wrong = sorted((key for key in truth.keys() | counts.keys() if truth.get(key, 0) != counts.get(key, 0)), key=repr)
            differences = [{**dict(zip(KEY_FIELDS, key, strict=True)), "tally": counts.get(key, 0), "actual": truth.get(key, 0)} for key in wrong]
            if wrong and repair:
                columns = list(zip(*wrong, strict=True))
                deltas = [truth.get(key, 0) - counts.get(key, 0) for key in wrong]
                await conn.execute_query(
                    _CORRECT_SQL,
                    [cid, list(columns[0]), list(columns[1]), list(columns[2]), [m or "" for m in columns[3]], list(columns[4]), [e or "" for e in columns[5]], list(columns[6]), deltas],
                )
        if wrong:
            log.warning("confirmation tally of campaign %s differed from its rows in %d keys%s: %s", cid, len(wrong), " (repaired)" if repair else "", differences[:20])
        results.append({"campaign_id": cid, "ok": not wrong, "repaired": bool(wrong and repair), "differences": differences})
    return results
