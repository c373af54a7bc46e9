from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0012_arch')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ImportBatch',
            name='outcome_counts',
            field=fields.JSONField(default=dict),
        ),
        ops.AddField(
            model_name='ReferencePhoto',
            name='quarantine_reason',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddField(
            model_name='ReferencePhoto',
            name='quarantined_at',
            field=fields.DatetimeField(null=True),
        ),
    ]
