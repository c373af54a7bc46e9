import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.org import OrgKind
from models.registry import Category, PaymentStatus, PhotoKind, Sex
from models.staff import Role


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('seq', fields.BigIntField(unique=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor_type', fields.CharField(max_length=16)),
                ('actor_id', fields.CharField(null=True, max_length=64)),
                ('actor_role', fields.CharField(null=True, max_length=32)),
                ('on_behalf_of', fields.CharField(null=True, max_length=64)),
                ('action', fields.CharField(max_length=64)),
                ('entity_type', fields.CharField(max_length=48)),
                ('entity_id', fields.CharField(null=True, max_length=64)),
                ('summary', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('request_id', fields.CharField(null=True, max_length=64)),
                ('prev_hash', fields.CharField(max_length=64)),
                ('hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'audit_entry', 'app': 'models', 'indexes': [Index(fields=['entity_type', 'entity_id'])], 'pk_attr': 'id', 'table_description': 'Append-only: every state change, chained by hash so an edited or removed row is detected.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditHead',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('last_seq', fields.BigIntField(default=0)),
                ('last_hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'audit_head', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A single row holding the tip of the chain, and locking it serialises appends in commit order.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ImportBatch',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('kind', fields.CharField(max_length=32)),
                ('file_sha256', fields.CharField(max_length=64)),
                ('filename', fields.CharField(max_length=200)),
                ('staff_id', fields.IntField(null=True)),
                ('total_rows', fields.IntField(default=0)),
                ('imported', fields.IntField(default=0)),
                ('unchanged', fields.IntField(default=0)),
                ('rejected', fields.IntField(default=0)),
                ('report', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'import_batch', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One uploaded registry file: kept so a re-import of the same file is recognised.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='OrgUnit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('name', fields.CharField(max_length=100)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('kind', fields.CharEnumField(description='CITY: city\nDISTRICT: district\nSTATION: station\nVILLAGE: village', enum_type=OrgKind, max_length=16)),
                ('parent', fields.ForeignKeyField('models.OrgUnit', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.RESTRICT)),
                ('address', fields.CharField(default='', max_length=200)),
                ('phone', fields.CharField(default='', max_length=32)),
            ],
            options={'table': 'org_unit', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Beneficiary',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('name', fields.CharField(max_length=64)),
                ('id_number_encrypted', fields.CharField(max_length=128)),
                ('id_number_hash', fields.CharField(unique=True, max_length=64)),
                ('id_number_masked', fields.CharField(max_length=18)),
                ('birth_date', fields.DateField()),
                ('sex', fields.CharEnumField(description='MALE: male\nFEMALE: female', enum_type=Sex, max_length=8)),
                ('category', fields.CharEnumField(description='DISABLED_SERVICEMAN: disabled_serviceman\nDISABLED_POLICE: disabled_police\nDISABLED_STATE_OFFICIAL: disabled_state_official\nDISABLED_FIREFIGHTER: disabled_firefighter\nDISABLED_RESERVIST: disabled_reservist\nDISABLED_MILITIA: disabled_militia\nOTHER_DUTY_DISABLED: other_duty_disabled\nMARTYR_FAMILY: martyr_family\nDUTY_DEATH_FAMILY: duty_death_family\nILLNESS_DEATH_FAMILY: illness_death_family\nDEMOBILISED_AT_HOME: demobilised_at_home\nRETURNED_ILL: returned_ill\nWAR_VETERAN: war_veteran\nTEST_VETERAN: test_veteran\nRURAL_VETERAN_60: rural_veteran_60\nMARTYR_ELDERLY_CHILD: martyr_elderly_child\nVETERAN: veteran\nOTHER: other', enum_type=Category, max_length=32)),
                ('station', fields.ForeignKeyField('models.OrgUnit', source_field='station_id', db_constraint=True, to_field='id', related_name='beneficiaries', on_delete=OnDelete.RESTRICT)),
                ('village', fields.ForeignKeyField('models.OrgUnit', source_field='village_id', null=True, db_constraint=True, to_field='id', related_name='village_beneficiaries', on_delete=OnDelete.SET_NULL)),
                ('address', fields.CharField(default='', max_length=200)),
                ('phone', fields.CharField(default='', max_length=32)),
                ('on_periodic_payment', fields.BooleanField(default=True)),
                ('monthly_amount', fields.DecimalField(default=0, max_digits=10, decimal_places=2)),
                ('payment_status', fields.CharEnumField(default=PaymentStatus.ACTIVE, description='ACTIVE: active\nSUSPENDED: suspended\nDECEASED: deceased\nSTOPPED: stopped', enum_type=PaymentStatus, max_length=16)),
                ('death_date', fields.DateField(null=True)),
                ('hardship', fields.BooleanField(default=False)),
                ('hardship_note', fields.TextField(default='', unique=False)),
                ('lives_away', fields.BooleanField(default=False)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'beneficiary', 'app': 'models', 'indexes': [Index(fields=['station_id', 'payment_status']), Index(fields=['category']), Index(fields=['name'])], 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='PaymentStatusChange',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('beneficiary', fields.ForeignKeyField('models.Beneficiary', source_field='beneficiary_id', db_constraint=True, to_field='id', related_name='status_history', on_delete=OnDelete.CASCADE)),
                ('from_status', fields.CharEnumField(null=True, description='ACTIVE: active\nSUSPENDED: suspended\nDECEASED: deceased\nSTOPPED: stopped', enum_type=PaymentStatus, max_length=16)),
                ('to_status', fields.CharEnumField(description='ACTIVE: active\nSUSPENDED: suspended\nDECEASED: deceased\nSTOPPED: stopped', enum_type=PaymentStatus, max_length=16)),
                ('effective_date', fields.DateField()),
                ('reason', fields.CharField(max_length=200)),
                ('staff_id', fields.IntField(null=True)),
            ],
            options={'table': 'payment_status_change', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='ReferencePhoto',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('beneficiary', fields.ForeignKeyField('models.Beneficiary', source_field='beneficiary_id', db_constraint=True, to_field='id', related_name='photos', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='ID_CARD: id_card\nCONFIRMATION: confirmation\nSTATION_CAPTURE: station_capture', enum_type=PhotoKind, max_length=24)),
                ('sha256', fields.CharField(max_length=64)),
                ('path', fields.CharField(max_length=255)),
                ('content_type', fields.CharField(max_length=32)),
                ('size_bytes', fields.IntField()),
                ('width', fields.IntField(null=True)),
                ('height', fields.IntField(null=True)),
                ('embedding', fields.BinaryField(null=True)),
                ('quality', fields.FloatField(null=True)),
                ('is_active', fields.BooleanField(default=True)),
                ('added_by_staff_id', fields.IntField(null=True)),
            ],
            options={'table': 'reference_photo', 'app': 'models', 'unique_together': (('beneficiary', 'sha256'),), 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Staff',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('username', fields.CharField(unique=True, max_length=64)),
                ('display_name', fields.CharField(max_length=64)),
                ('password_hash', fields.CharField(max_length=200)),
                ('role', fields.CharEnumField(description='STATION: station\nCENTRE: centre\nBUREAU: bureau\nCITY: city\nAUDITOR: auditor\nADMIN: admin', enum_type=Role, max_length=16)),
                ('org_unit', fields.ForeignKeyField('models.OrgUnit', source_field='org_unit_id', db_constraint=True, to_field='id', related_name='staff', on_delete=OnDelete.RESTRICT)),
                ('phone', fields.CharField(default='', max_length=32)),
                ('is_active', fields.BooleanField(default=True)),
                ('failed_login_count', fields.IntField(default=0)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('must_change_password', fields.BooleanField(default=False)),
                ('confidentiality_signed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'staff', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
    ]
