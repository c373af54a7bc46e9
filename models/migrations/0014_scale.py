from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0013_harden')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Beneficiary',
            index=Index(fields=['station_id', 'name', 'id']),
        ),
    ]
