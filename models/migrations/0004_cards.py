import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.cards import ApplicationStatus, BookingStatus, CardKind, CardStatus


class Migration(migrations.Migration):
    dependencies = [('models', '0003_confirmation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CalendarOverride',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('day', fields.DateField(unique=True)),
                ('is_working_day', fields.BooleanField()),
                ('note', fields.CharField(default='', max_length=100)),
            ],
            options={'table': 'calendar_override', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A working-day exception for a date the holiday package does not know yet.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='CardApplication',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('beneficiary', fields.ForeignKeyField('models.Beneficiary', source_field='beneficiary_id', db_constraint=True, to_field='id', related_name='card_applications', on_delete=OnDelete.CASCADE)),
                ('station_id', fields.IntField()),
                ('card_kind', fields.CharEnumField(description='VETERAN: veteran\nOTHER_BENEFICIARY: other_beneficiary', enum_type=CardKind, max_length=24)),
                ('batch', fields.IntField()),
                ('channel', fields.CharField(max_length=16)),
                ('applicant_user_id', fields.IntField(null=True)),
                ('proxy_user_id', fields.IntField(null=True)),
                ('created_by_staff_id', fields.IntField(null=True)),
                ('status', fields.CharEnumField(description='STATION_CHECK: station_check\nCENTRE_VERIFICATION: centre_verification\nBUREAU_REVIEW: bureau_review\nCITY_REVIEW: city_review\nAPPROVED: approved\nRETURNED: returned\nWITHDRAWN: withdrawn', enum_type=ApplicationStatus, max_length=24)),
                ('step_started_on', fields.DateField()),
                ('due_date', fields.DateField(null=True)),
                ('return_count', fields.IntField(default=0)),
                ('flagged', fields.BooleanField(default=False)),
                ('problem_note', fields.CharField(default='', max_length=300)),
                ('problem_report', fields.TextField(default='', unique=False)),
                ('application_form_path', fields.CharField(null=True, max_length=255)),
                ('bank_form_path', fields.CharField(null=True, max_length=255)),
                ('open_key', fields.CharField(null=True, unique=True, max_length=48)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'card_application', 'app': 'models', 'indexes': [Index(fields=['status', 'due_date']), Index(fields=['station_id', 'status'])], 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='CardReviewStep',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('application', fields.ForeignKeyField('models.CardApplication', source_field='application_id', db_constraint=True, to_field='id', related_name='steps', on_delete=OnDelete.CASCADE)),
                ('from_status', fields.CharField(null=True, max_length=24)),
                ('to_status', fields.CharField(max_length=24)),
                ('action', fields.CharField(max_length=16)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('staff_id', fields.IntField(null=True)),
                ('user_id', fields.IntField(null=True)),
            ],
            options={'table': 'card_review_step', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='PickupSlot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('station', fields.ForeignKeyField('models.OrgUnit', source_field='station_id', db_constraint=True, to_field='id', related_name='pickup_slots', on_delete=OnDelete.RESTRICT)),
                ('day', fields.DateField()),
                ('start_time', fields.CharField(max_length=5)),
                ('end_time', fields.CharField(max_length=5)),
                ('capacity', fields.IntField()),
                ('booked', fields.IntField(default=0)),
            ],
            options={'table': 'pickup_slot', 'app': 'models', 'unique_together': (('station', 'day', 'start_time'),), 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Shipment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('district', fields.ForeignKeyField('models.OrgUnit', source_field='district_id', db_constraint=True, to_field='id', related_name='card_shipments', on_delete=OnDelete.RESTRICT)),
                ('tracking_number', fields.CharField(unique=True, max_length=64)),
                ('expected_count', fields.IntField()),
                ('counted_count', fields.IntField()),
                ('envelope_intact', fields.BooleanField()),
                ('cards_intact', fields.BooleanField()),
                ('status', fields.CharField(max_length=16)),
                ('damage_description', fields.TextField(default='', unique=False)),
                ('damage_photos', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('report_to', fields.CharField(default='', max_length=64)),
                ('received_by_staff_id', fields.IntField()),
            ],
            options={'table': 'card_shipment', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A parcel of cards from the card maker, received (or refused) at the service centre.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Card',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('application', fields.OneToOneField('models.CardApplication', source_field='application_id', db_constraint=True, to_field='id', related_name='card', on_delete=OnDelete.CASCADE)),
                ('shipment', fields.ForeignKeyField('models.Shipment', source_field='shipment_id', db_constraint=True, to_field='id', related_name='cards', on_delete=OnDelete.RESTRICT)),
                ('beneficiary_id', fields.IntField()),
                ('station_id', fields.IntField()),
                ('status', fields.CharEnumField(default=CardStatus.AT_CENTRE, description='AT_CENTRE: at_centre\nAT_STATION: at_station\nDELIVERED: delivered', enum_type=CardStatus, max_length=16)),
                ('collected_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivery_due', fields.DateField(null=True)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivery_method', fields.CharField(null=True, max_length=24)),
                ('received_by', fields.CharField(null=True, max_length=16)),
                ('receiver_user_id', fields.IntField(null=True)),
                ('delivered_by_staff_id', fields.IntField(null=True)),
            ],
            options={'table': 'card', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Booking',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('slot', fields.ForeignKeyField('models.PickupSlot', source_field='slot_id', db_constraint=True, to_field='id', related_name='bookings', on_delete=OnDelete.RESTRICT)),
                ('card', fields.ForeignKeyField('models.Card', source_field='card_id', db_constraint=True, to_field='id', related_name='bookings', on_delete=OnDelete.CASCADE)),
                ('user_id', fields.IntField()),
                ('as_proxy', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=BookingStatus.ACTIVE, description='ACTIVE: active\nCANCELLED: cancelled\nNO_SHOW: no_show\nCHECKED_IN: checked_in', enum_type=BookingStatus, max_length=16)),
                ('idempotency_key', fields.CharField(max_length=80)),
                ('active_card_id', fields.IntField(null=True, unique=True)),
                ('short_code', fields.CharField(unique=True, max_length=8)),
                ('reminder_queued', fields.BooleanField(default=False)),
            ],
            options={'table': 'booking', 'app': 'models', 'unique_together': (('user_id', 'idempotency_key'),), 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
    ]
