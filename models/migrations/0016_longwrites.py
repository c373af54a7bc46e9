from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.registry import ImportKind


class Migration(migrations.Migration):
    dependencies = [('models', '0015_tally')]

    initial = False

    operations = [
        ops.CreateModel(
            name='NoticeEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('notice', fields.ForeignKeyField('models.PublicNotice', source_field='notice_id', db_constraint=True, to_field='id', related_name='entry_rows', on_delete=OnDelete.CASCADE)),
                ('seq', fields.IntField()),
                ('beneficiary_id', fields.IntField()),
                ('station_id', fields.IntField()),
                ('name', fields.CharField(max_length=64)),
                ('id_number', fields.CharField(max_length=18)),
                ('category', fields.CharField(max_length=32)),
            ],
            options={'table': 'notice_entry', 'app': 'models', 'unique_together': (('notice', 'seq'),), 'indexes': [Index(fields=['notice_id', 'beneficiary_id'])], 'pk_attr': 'id', 'table_description': 'One person listed in a notice, masked as published and frozen when the notice was generated.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='ImportBatch',
            name='kind',
            field=fields.CharEnumField(description='REGISTRY: registry\nPHOTOS: photos\nDEATHS: deaths\nCAMPAIGN_OPEN: campaign_open\nNOTICE_PUBLISH: notice_publish', enum_type=ImportKind, max_length=32),
        ),
        ops.AddField(
            model_name='ImportBatch',
            name='subject_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='PublicNotice',
            name='people',
            field=fields.IntField(default=0),
        ),
    ]
