import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0006_cards_plan')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ContactAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('confirmation', fields.ForeignKeyField('models.Confirmation', source_field='confirmation_id', db_constraint=True, to_field='id', related_name='contact_attempts', on_delete=OnDelete.CASCADE)),
                ('beneficiary_id', fields.IntField()),
                ('station_id', fields.IntField()),
                ('staff_id', fields.IntField(null=True)),
                ('attempted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('method', fields.CharField(max_length=16)),
                ('outcome', fields.CharField(max_length=16)),
                ('contact_name', fields.CharField(default='', max_length=64)),
                ('contact_relation', fields.CharField(default='', max_length=32)),
                ('contact_phone', fields.CharField(default='', max_length=32)),
                ('notes', fields.CharField(default='', max_length=500)),
            ],
            options={'table': 'contact_attempt', 'app': 'models', 'indexes': [Index(fields=['beneficiary_id'])], 'pk_attr': 'id', 'table_description': 'One attempt to reach an unconfirmed person or their family (多种方式联系本人或其家属).'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='HardshipCase',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('beneficiary', fields.ForeignKeyField('models.Beneficiary', source_field='beneficiary_id', db_constraint=True, to_field='id', related_name='hardship_cases', on_delete=OnDelete.CASCADE)),
                ('station_id', fields.IntField()),
                ('campaign_id', fields.IntField(null=True)),
                ('situation', fields.TextField(unique=False)),
                ('measures', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('owner_staff_id', fields.IntField(null=True)),
                ('owner_name', fields.CharField(max_length=64)),
                ('next_follow_up_due', fields.DateField()),
                ('status', fields.CharField(default='open', max_length=16)),
                ('outcome', fields.CharField(default='', max_length=500)),
                ('created_by_staff_id', fields.IntField(null=True)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'hardship_case', 'app': 'models', 'indexes': [Index(fields=['station_id', 'status'])], 'pk_attr': 'id', 'table_description': 'A person still in hardship after payments (建档立卡): measures, who is responsible, follow-ups.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='HardshipFollowUp',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('case', fields.ForeignKeyField('models.HardshipCase', source_field='case_id', db_constraint=True, to_field='id', related_name='follow_ups', on_delete=OnDelete.CASCADE)),
                ('staff_id', fields.IntField(null=True)),
                ('happened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('note', fields.TextField(unique=False)),
                ('effect', fields.CharField(default='', max_length=300)),
                ('next_due', fields.DateField(null=True)),
            ],
            options={'table': 'hardship_follow_up', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='NoticeEvidence',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('notice', fields.ForeignKeyField('models.PublicNotice', source_field='notice_id', db_constraint=True, to_field='id', related_name='evidence', on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharField(max_length=16)),
                ('path', fields.CharField(max_length=255)),
                ('sha256', fields.CharField(max_length=64)),
                ('content_type', fields.CharField(max_length=64)),
                ('note', fields.CharField(default='', max_length=300)),
                ('staff_id', fields.IntField(null=True)),
            ],
            options={'table': 'notice_evidence', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Proof that a notice was posted: the printed notice, a photo of the board, a website capture.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='PaymentExport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('kind', fields.CharField(max_length=16)),
                ('district_id', fields.IntField()),
                ('staff_id', fields.IntField(null=True)),
                ('file_format', fields.CharField(max_length=8)),
                ('path', fields.CharField(max_length=255)),
                ('sha256', fields.CharField(max_length=64)),
                ('row_count', fields.IntField(default=0)),
                ('entries', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'payment_export', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A suspension or resumption list handed to the payment office: who exported what, when, the file.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='PaymentFile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('filename', fields.CharField(max_length=200)),
                ('file_sha256', fields.CharField(max_length=64)),
                ('district_id', fields.IntField(null=True)),
                ('staff_id', fields.IntField(null=True)),
                ('total_rows', fields.IntField(default=0)),
                ('recorded', fields.IntField(default=0)),
                ('unchanged', fields.IntField(default=0)),
                ('rejected', fields.IntField(default=0)),
                ('report', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'payment_file', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One monthly payment file imported from the payment system, with its per-row report.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='PaymentMonth',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('beneficiary', fields.ForeignKeyField('models.Beneficiary', source_field='beneficiary_id', db_constraint=True, to_field='id', related_name='payment_months', on_delete=OnDelete.CASCADE)),
                ('month', fields.DateField()),
                ('amount', fields.DecimalField(max_digits=12, decimal_places=2)),
                ('paid_on', fields.DateField(null=True)),
                ('payment_file', fields.ForeignKeyField('models.PaymentFile', source_field='payment_file_id', db_constraint=True, to_field='id', related_name='months', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'payment_month', 'app': 'models', 'unique_together': (('beneficiary', 'month'),), 'pk_attr': 'id', 'table_description': 'One month paid to one person (the month is its first day). A month is recorded once: the same'},
            bases=['TimestampedModel'],
        ),
        ops.AddField(
            model_name='Campaign',
            name='closed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Campaign',
            name='closed_by_staff_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Confirmation',
            name='exclusion',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Confirmation',
            name='exclusion_note',
            field=fields.CharField(default='', max_length=300),
        ),
        ops.AddField(
            model_name='PublicNotice',
            name='channels',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='PublicNotice',
            name='published_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PublicNotice',
            name='published_by_staff_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='PublicNotice',
            name='village_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Resumption',
            name='payment_export_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='SuspensionProposal',
            name='payment_export_id',
            field=fields.IntField(null=True),
        ),
    ]
