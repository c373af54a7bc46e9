from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0007_confirmation_audit")]

    initial = False

    operations = [
        ops.AddField(
            model_name="OrgUnit",
            name="opening_hours",
            field=fields.CharField(default="", max_length=100),
        ),
    ]
