from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0008_station_contact')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AuditEntry',
            name='district_id',
            field=fields.IntField(null=True, db_index=True),
        ),
        ops.AddField(
            model_name='ImportBatch',
            name='error',
            field=fields.CharField(default='', max_length=300),
        ),
        ops.AddField(
            model_name='ImportBatch',
            name='processed_rows',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='ImportBatch',
            name='status',
            field=fields.CharField(default='done', max_length=16),
        ),
        ops.AddField(
            model_name='ImportBatch',
            name='upload_path',
            field=fields.CharField(default='', max_length=300),
        ),
    ]
