from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0004_cards')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CalendarYear',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('year', fields.IntField(unique=True)),
                ('confirmed_by', fields.CharField(max_length=64)),
                ('source', fields.CharField(default='', description='the notice, e.g. 国办发明电〔2026〕x号', max_length=200)),
            ],
            options={'table': 'calendar_year', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A year whose arrangement an administrator has checked against the State Council notice.'},
            bases=['TimestampedModel'],
        ),
        ops.AlterModelOptions(
            name='CalendarOverride',
            options={'table': 'calendar_override', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One day whose status an administrator has set from the State Council notice: a holiday or a make-up working weekend.'},
        ),
    ]
