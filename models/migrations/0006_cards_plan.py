import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.cards import BookingStatus


class Migration(migrations.Migration):
    dependencies = [('models', '0005_calendar')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ApplicationSlot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('station', fields.ForeignKeyField('models.OrgUnit', source_field='station_id', db_constraint=True, to_field='id', related_name='application_slots', on_delete=OnDelete.RESTRICT)),
                ('day', fields.DateField()),
                ('start_time', fields.CharField(max_length=5)),
                ('end_time', fields.CharField(max_length=5)),
                ('capacity', fields.IntField()),
                ('booked', fields.IntField(default=0)),
            ],
            options={'table': 'card_application_slot', 'app': 'models', 'unique_together': (('station', 'day', 'start_time'),), 'pk_attr': 'id', 'table_description': 'A time at the station for applying in person (预约…申请现场平稳有序), shaped like pickup slots.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='ApplicationAppointment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('slot', fields.ForeignKeyField('models.ApplicationSlot', source_field='slot_id', db_constraint=True, to_field='id', related_name='appointments', on_delete=OnDelete.RESTRICT)),
                ('beneficiary_id', fields.IntField()),
                ('user_id', fields.IntField()),
                ('as_proxy', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=BookingStatus.ACTIVE, description='ACTIVE: active\nCANCELLED: cancelled\nNO_SHOW: no_show\nCHECKED_IN: checked_in', enum_type=BookingStatus, max_length=16)),
                ('idempotency_key', fields.CharField(max_length=80)),
                ('active_beneficiary_id', fields.IntField(null=True, unique=True)),
                ('short_code', fields.CharField(unique=True, max_length=8)),
            ],
            options={'table': 'card_application_appointment', 'app': 'models', 'unique_together': (('user_id', 'idempotency_key'),), 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='CardReport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('kind', fields.CharField(max_length=32)),
                ('district_id', fields.IntField()),
                ('title', fields.CharField(max_length=200)),
                ('path', fields.CharField(max_length=255)),
                ('sha256', fields.CharField(max_length=64)),
                ('route', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('shipment_id', fields.IntField(null=True)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_by_staff_id', fields.IntField(null=True)),
                ('received_by_staff_id', fields.IntField(null=True)),
                ('received_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'card_report', 'app': 'models', 'indexes': [Index(fields=['district_id', 'kind'])], 'pk_attr': 'id', 'table_description': 'A document produced by the card work and sent up the chain (refused or short shipments,'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='ConfidentialityAgreement',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('staff_id', fields.IntField(db_index=True)),
                ('signed_on', fields.DateField()),
                ('recorded_by_staff_id', fields.IntField()),
                ('document_path', fields.CharField(null=True, max_length=255)),
                ('document_sha256', fields.CharField(default='', max_length=64)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'confidentiality_agreement', 'app': 'models', 'pk_attr': 'id', 'table_description': "A signed 保密协议: required before a staff member sees the personal data of applicants."},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='MaterialDisposal',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('application_id', fields.IntField(db_index=True)),
                ('action', fields.CharField(max_length=16)),
                ('files', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reason', fields.CharField(max_length=300)),
                ('staff_id', fields.IntField()),
            ],
            options={'table': 'card_material_disposal', 'app': 'models', 'pk_attr': 'id', 'table_description': "Archive or destruction of the paper/electronic materials of an application (依规归档或销毁)."},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='PrivilegeCatalogue',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('district_id', fields.IntField()),
                ('version', fields.IntField()),
                ('title', fields.CharField(max_length=200)),
                ('items', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('published_by_staff_id', fields.IntField()),
            ],
            options={'table': 'privilege_catalogue', 'app': 'models', 'unique_together': (('district_id', 'version'),), 'pk_attr': 'id', 'table_description': "The 优待目录 of a district, published to card holders in the mini-program."},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='StationMonthlyReport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('station_id', fields.IntField()),
                ('period', fields.CharField(max_length=7)),
                ('submitted_by_staff_id', fields.IntField()),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'card_station_report', 'app': 'models', 'unique_together': (('station_id', 'period'),), 'pk_attr': 'id', 'table_description': "The 推进情况统计 of a station for a month, as submitted (due before the 20th)."},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='StationNotice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('station_id', fields.IntField()),
                ('kind', fields.CharField(max_length=32)),
                ('message', fields.CharField(max_length=300)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('dedupe_key', fields.CharField(unique=True, max_length=80)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('read_by_staff_id', fields.IntField(null=True)),
            ],
            options={'table': 'card_station_notice', 'app': 'models', 'indexes': [Index(fields=['station_id', 'read_at'])], 'pk_attr': 'id', 'table_description': "A message to the staff of a station (cards ready to collect at the centre)."},
            bases=['TimestampedModel'],
        ),
        ops.AddField(
            model_name='Card',
            name='flag_note',
            field=fields.CharField(default='', max_length=300),
        ),
        ops.AddField(
            model_name='Card',
            name='flagged',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='CardApplication',
            name='bank_account_encrypted',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddField(
            model_name='CardApplication',
            name='bank_account_masked',
            field=fields.CharField(default='', max_length=32),
        ),
        ops.AddField(
            model_name='CardApplication',
            name='bank_name',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddField(
            model_name='CardApplication',
            name='materials_status',
            field=fields.CharField(default='held', max_length=16),
        ),
    ]
