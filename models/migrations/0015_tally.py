from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

# PostgreSQL keeps confirmation_tally by statement-level triggers with transition tables: each
# statement on confirmation (a single confirmation, a chunk of a campaign opening, a bulk update,
# a cascaded delete) appends its signed counts per report key, grouped once per statement, never
# row by row. Appending (no upsert) means concurrent writers never wait on one counter row nor
# deadlock over several: the report sums the pieces and folds them (server/confirmation/tally.py).
# The triggers run in the writing transaction, so a rollback takes its counts back with it.
#
# Living away is the beneficiary's flag: the confirmation triggers read it, and a row trigger on
# beneficiary moves a person's counts when it flips (rare: WHEN keeps every other update free). The two
# read each other's table, so they are serialised by one advisory lock: confirmation statements take it
# shared (they never wait on each other), a flip takes it exclusive and so waits for the confirmation
# writers in flight to commit and is waited for by them; each then reads the other's committed rows.
# SQLite (the single-county default) keeps the plain GROUP BY: nothing to install there.
_COLUMNS = "campaign_id, station_id, age_bracket, status, method, home_visited, exclusion, lives_away, n"
_GROUP = "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
# Living away is joined from the people living away within the statement's id range (a partial index):
# a join with every beneficiary made PostgreSQL hash all of them for each 50 k-row chunk of a campaign
# opening (0.5 s a chunk at 1 M people). A person deleted in the same statement (cascade) reads as not
# living away: the beneficiary trigger moved them there first.
_AWAY = "LEFT JOIN (SELECT id FROM beneficiary WHERE lives_away AND id BETWEEN lo AND hi) AS away ON away.id = c.beneficiary_id"


def _key(alias: str) -> str:
    return f"{alias}.campaign_id, {alias}.station_id, {alias}.age_bracket, {alias}.status, COALESCE({alias}.method, ''), {alias}.home_visited, COALESCE({alias}.exclusion, '')"


def _changed(o: str, n: str) -> str:
    columns = ("campaign_id", "beneficiary_id", "station_id", "age_bracket", "status", "method", "home_visited", "exclusion")
    return f"ROW({', '.join(f'{o}.{c}' for c in columns)}) IS DISTINCT FROM ROW({', '.join(f'{n}.{c}' for c in columns)})"


INSTALL = [
    f"""
CREATE OR REPLACE FUNCTION confirmation_tally_delta() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  lo integer;
  hi integer;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(7015, 0);
  IF TG_OP = 'INSERT' THEN
    SELECT min(beneficiary_id), max(beneficiary_id) INTO lo, hi FROM tally_new;
    INSERT INTO confirmation_tally ({_COLUMNS})
    SELECT {_key('c')}, away.id IS NOT NULL, COUNT(*) FROM tally_new c {_AWAY} {_GROUP};
  ELSIF TG_OP = 'DELETE' THEN
    SELECT min(beneficiary_id), max(beneficiary_id) INTO lo, hi FROM tally_old;
    INSERT INTO confirmation_tally ({_COLUMNS})
    SELECT {_key('c')}, away.id IS NOT NULL, -COUNT(*) FROM tally_old c {_AWAY} {_GROUP};
  ELSE
    -- Only rows whose key changed count (reminders, failed attempts, rechecks add nothing); ids never change.
    SELECT min(x), max(x) INTO lo, hi FROM (SELECT beneficiary_id FROM tally_old UNION ALL SELECT beneficiary_id FROM tally_new) AS ids (x);
    INSERT INTO confirmation_tally ({_COLUMNS})
    SELECT k1, k2, k3, k4, k5, k6, k7, away.id IS NOT NULL, SUM(d) FROM (
      SELECT o.beneficiary_id, {_key('o')}, -1 FROM tally_old o JOIN tally_new n ON n.id = o.id WHERE {_changed('o', 'n')}
      UNION ALL
      SELECT n.beneficiary_id, {_key('n')}, 1 FROM tally_old o JOIN tally_new n ON n.id = o.id WHERE {_changed('o', 'n')}
    ) AS c (beneficiary_id, k1, k2, k3, k4, k5, k6, k7, d) {_AWAY}
    {_GROUP} HAVING SUM(d) <> 0;
  END IF;
  RETURN NULL;
END
$fn$""",
    # The people living away, found by id range without reading everyone (the join above).
    "CREATE INDEX IF NOT EXISTS idx_beneficiary_lives_away ON beneficiary (id) WHERE lives_away",
    "CREATE TRIGGER confirmation_tally_insert AFTER INSERT ON confirmation REFERENCING NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION confirmation_tally_delta()",
    "CREATE TRIGGER confirmation_tally_update AFTER UPDATE ON confirmation REFERENCING OLD TABLE AS tally_old NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION confirmation_tally_delta()",
    "CREATE TRIGGER confirmation_tally_delete AFTER DELETE ON confirmation REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION confirmation_tally_delta()",
    # A flip of living away moves the person's counts; a deleted person living away is first moved
    # back (their confirmations then go with the cascade, counted as not living away).
    f"""
CREATE OR REPLACE FUNCTION confirmation_tally_lives_away() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  person integer := OLD.id;
  now_away boolean := FALSE;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    now_away := NEW.lives_away;
  END IF;
  PERFORM pg_advisory_xact_lock(7015, 0);
  INSERT INTO confirmation_tally ({_COLUMNS})
  SELECT {_key('c')}, flag.away, SUM(flag.d)
  FROM confirmation c CROSS JOIN (VALUES (OLD.lives_away, -1), (now_away, 1)) AS flag (away, d)
  WHERE c.beneficiary_id = person {_GROUP};
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NULL;
END
$fn$""",
    "CREATE TRIGGER confirmation_tally_lives_away AFTER UPDATE OF lives_away ON beneficiary FOR EACH ROW WHEN (OLD.lives_away IS DISTINCT FROM NEW.lives_away) EXECUTE FUNCTION confirmation_tally_lives_away()",
    "CREATE TRIGGER confirmation_tally_person_gone BEFORE DELETE ON beneficiary FOR EACH ROW WHEN (OLD.lives_away) EXECUTE FUNCTION confirmation_tally_lives_away()",
    # Backfill the campaigns already there; writers wait until the migration commits.
    "LOCK TABLE confirmation, beneficiary IN SHARE MODE",
    "DELETE FROM confirmation_tally",
    f"INSERT INTO confirmation_tally ({_COLUMNS}) SELECT {_key('c')}, b.lives_away, COUNT(*) FROM confirmation c JOIN beneficiary b ON b.id = c.beneficiary_id {_GROUP}",
]
UNINSTALL = [
    "DROP TRIGGER IF EXISTS confirmation_tally_insert ON confirmation",
    "DROP TRIGGER IF EXISTS confirmation_tally_update ON confirmation",
    "DROP TRIGGER IF EXISTS confirmation_tally_delete ON confirmation",
    "DROP TRIGGER IF EXISTS confirmation_tally_lives_away ON beneficiary",
    "DROP TRIGGER IF EXISTS confirmation_tally_person_gone ON beneficiary",
    "DROP FUNCTION IF EXISTS confirmation_tally_delta()",
    "DROP FUNCTION IF EXISTS confirmation_tally_lives_away()",
    "DROP INDEX IF EXISTS idx_beneficiary_lives_away",
]


async def _run_on_postgres(statements, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.client.capabilities.dialect != "postgres":
        return
    for sql in statements:
        await schema_editor._run_sql(sql)


async def install(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    await _run_on_postgres(INSTALL, schema_editor)


async def uninstall(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    await _run_on_postgres(UNINSTALL, schema_editor)


class Migration(migrations.Migration):
    dependencies = [('models', '0014_scale')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConfirmationTally',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign_id', fields.IntField()),
                ('station_id', fields.IntField()),
                ('age_bracket', fields.CharField(max_length=16)),
                ('status', fields.CharField(max_length=16)),
                ('method', fields.CharField(default='', max_length=16)),
                ('home_visited', fields.BooleanField()),
                ('exclusion', fields.CharField(default='', max_length=16)),
                ('lives_away', fields.BooleanField(default=False)),
                ('n', fields.BigIntField()),
            ],
            options={'table': 'confirmation_tally', 'app': 'models', 'indexes': [Index(fields=['campaign_id', 'station_id'])], 'pk_attr': 'id', 'table_description': 'Counts of a campaign confirmations per report key, kept by PostgreSQL triggers (see tally.py).'},
            bases=['Model'],
        ),
        ops.RunPython(install, uninstall),
    ]
