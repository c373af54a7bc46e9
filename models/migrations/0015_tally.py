from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

# PostgreSQL keeps confirmation_tally by statement-level triggers with transition tables: each
# statement on confirmation (a single confirmation, a chunk of a campaign opening, a bulk update,
# a cascaded delete) appends its signed counts per report key, grouped once per statement, never
# row by row. Appending (no upsert) means concurrent writers never wait on one counter row nor
# deadlock over several: the report sums the pieces and folds them (server/confirmation/tally.py).
# The triggers run in the writing transaction, so a rollback takes its counts back with it.
# SQLite (the single-county default) keeps the plain GROUP BY: nothing to install there.
_KEY = "campaign_id, station_id, age_bracket, status, COALESCE(method, ''), home_visited, COALESCE(exclusion, '')"
_COLUMNS = "campaign_id, station_id, age_bracket, status, method, home_visited, exclusion, n"

INSTALL = [
    f"""
CREATE OR REPLACE FUNCTION confirmation_tally_delta() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO confirmation_tally ({_COLUMNS})
    SELECT {_KEY}, COUNT(*) FROM tally_new GROUP BY 1, 2, 3, 4, 5, 6, 7;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO confirmation_tally ({_COLUMNS})
    SELECT {_KEY}, -COUNT(*) FROM tally_old GROUP BY 1, 2, 3, 4, 5, 6, 7;
  ELSE
    -- Updates that leave every key alone (reminders, failed attempts, rechecks) add nothing.
    INSERT INTO confirmation_tally ({_COLUMNS})
    SELECT k1, k2, k3, k4, k5, k6, k7, SUM(d) FROM (
      SELECT {_KEY}, 1 FROM tally_new
      UNION ALL
      SELECT {_KEY}, -1 FROM tally_old
    ) AS change (k1, k2, k3, k4, k5, k6, k7, d)
    GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING SUM(d) <> 0;
  END IF;
  RETURN NULL;
END
$fn$""",
    "CREATE TRIGGER confirmation_tally_insert AFTER INSERT ON confirmation REFERENCING NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION confirmation_tally_delta()",
    "CREATE TRIGGER confirmation_tally_update AFTER UPDATE ON confirmation REFERENCING OLD TABLE AS tally_old NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION confirmation_tally_delta()",
    "CREATE TRIGGER confirmation_tally_delete AFTER DELETE ON confirmation REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION confirmation_tally_delta()",
    # Backfill the campaigns already there; writers wait until the migration commits.
    "LOCK TABLE confirmation IN SHARE MODE",
    "DELETE FROM confirmation_tally",
    f"INSERT INTO confirmation_tally ({_COLUMNS}) SELECT {_KEY}, COUNT(*) FROM confirmation GROUP BY 1, 2, 3, 4, 5, 6, 7",
    # The few people living away, found without reading every beneficiary (reports.py counts them).
    "CREATE INDEX IF NOT EXISTS idx_beneficiary_lives_away ON beneficiary (id) WHERE lives_away",
]
UNINSTALL = [
    "DROP TRIGGER IF EXISTS confirmation_tally_insert ON confirmation",
    "DROP TRIGGER IF EXISTS confirmation_tally_update ON confirmation",
    "DROP TRIGGER IF EXISTS confirmation_tally_delete ON confirmation",
    "DROP FUNCTION IF EXISTS confirmation_tally_delta()",
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
                ('n', fields.BigIntField()),
            ],
            options={'table': 'confirmation_tally', 'app': 'models', 'indexes': [Index(fields=['campaign_id', 'station_id'])], 'pk_attr': 'id', 'table_description': 'Counts of a campaign confirmations per report key, kept by PostgreSQL triggers (see reports.py).'},
            bases=['Model'],
        ),
        ops.RunPython(install, uninstall),
    ]
