from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from models.registry import ImportKind


class Migration(migrations.Migration):
    dependencies = [('models', '0016_longwrites')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='ImportBatch',
            name='kind',
            field=fields.CharEnumField(description='REGISTRY: registry\nPHOTOS: photos\nDEATHS: deaths\nCAMPAIGN_OPEN: campaign_open\nNOTICE_PUBLISH: notice_publish\nNOTICE_GENERATE: notice_generate', enum_type=ImportKind, max_length=32),
        ),
    ]
