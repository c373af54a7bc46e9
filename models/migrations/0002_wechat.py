import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.wechat import BindingStatus, NotificationStatus, ProxyStatus, TransferStatus


class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MiniUser',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('openid', fields.CharField(unique=True, max_length=64)),
                ('unionid', fields.CharField(null=True, max_length=64)),
                ('session_key_encrypted', fields.CharField(null=True, max_length=200)),
                ('phone', fields.CharField(default='', max_length=32)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'mini_user', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A WeChat user of the mini-program. The openid and session_key never leave the server.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Binding',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('user', fields.ForeignKeyField('models.MiniUser', source_field='user_id', db_constraint=True, to_field='id', related_name='bindings', on_delete=OnDelete.CASCADE)),
                ('beneficiary', fields.ForeignKeyField('models.Beneficiary', source_field='beneficiary_id', db_constraint=True, to_field='id', related_name='bindings', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(default=BindingStatus.ACTIVE, description='ACTIVE: active\nREVOKED: revoked', enum_type=BindingStatus, max_length=16)),
                ('active_beneficiary_id', fields.IntField(null=True, unique=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_reason', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'binding', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A self binding: this WeChat user is the beneficiary. At most one active binding per person.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='BindingTransfer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('user', fields.ForeignKeyField('models.MiniUser', source_field='user_id', db_constraint=True, to_field='id', related_name='transfer_requests', on_delete=OnDelete.CASCADE)),
                ('beneficiary', fields.ForeignKeyField('models.Beneficiary', source_field='beneficiary_id', db_constraint=True, to_field='id', related_name='binding_transfers', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(default=TransferStatus.PENDING, description='PENDING: pending\nAPPROVED: approved\nREJECTED: rejected', enum_type=TransferStatus, max_length=16)),
                ('note', fields.CharField(default='', max_length=200)),
                ('decided_by_staff_id', fields.IntField(null=True)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decision_reason', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'binding_transfer', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A request to move a self binding to another WeChat account: the station decides.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('user', fields.ForeignKeyField('models.MiniUser', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.SET_NULL)),
                ('beneficiary_id', fields.IntField(null=True)),
                ('station_id', fields.IntField(null=True)),
                ('template_key', fields.CharField(max_length=48)),
                ('context', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('dedupe_key', fields.CharField(unique=True, max_length=160)),
                ('status', fields.CharEnumField(default=NotificationStatus.PENDING, description='PENDING: pending\nSENDING: sending\nSENT: sent\nNO_QUOTA: no_quota\nREFUSED: refused\nFAILED: failed\nUNCERTAIN: uncertain', enum_type=NotificationStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(default='', max_length=300)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('wechat_msgid', fields.CharField(null=True, max_length=64)),
                ('handled_by_staff_id', fields.IntField(null=True)),
                ('handled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'The outbox: written in the same transaction as the event, sent later by the worker.'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='NotificationAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('notification', fields.ForeignKeyField('models.Notification', source_field='notification_id', db_constraint=True, to_field='id', related_name='attempt_log', on_delete=OnDelete.CASCADE)),
                ('outcome', fields.CharField(max_length=16)),
                ('errcode', fields.IntField(null=True)),
                ('errmsg', fields.CharField(default='', max_length=300)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification_attempt', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='ProxyGrant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('proxy_user', fields.ForeignKeyField('models.MiniUser', source_field='proxy_user_id', db_constraint=True, to_field='id', related_name='proxy_grants', on_delete=OnDelete.CASCADE)),
                ('beneficiary', fields.ForeignKeyField('models.Beneficiary', source_field='beneficiary_id', db_constraint=True, to_field='id', related_name='proxies', on_delete=OnDelete.CASCADE)),
                ('proxy_name', fields.CharField(max_length=64)),
                ('relation', fields.CharField(max_length=32)),
                ('scopes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=ProxyStatus.PENDING, description='PENDING: pending\nACTIVE: active\nREJECTED: rejected\nREVOKED: revoked', enum_type=ProxyStatus, max_length=16)),
                ('approved_via', fields.CharField(null=True, max_length=16)),
                ('approved_by_staff_id', fields.IntField(null=True)),
                ('document_path', fields.CharField(null=True, max_length=255)),
                ('document_sha256', fields.CharField(null=True, max_length=64)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_by', fields.CharField(null=True, max_length=32)),
                ('reason', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'proxy_grant', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A family member acting for a beneficiary, with scopes (book, apply, collect).'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='SubscriptionQuota',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('user', fields.ForeignKeyField('models.MiniUser', source_field='user_id', db_constraint=True, to_field='id', related_name='quotas', on_delete=OnDelete.CASCADE)),
                ('template_key', fields.CharField(max_length=48)),
                ('remaining', fields.IntField(default=0)),
                ('last_result', fields.CharField(default='', max_length=16)),
                ('banned', fields.BooleanField(default=False)),
            ],
            options={'table': 'subscription_quota', 'app': 'models', 'unique_together': (('user', 'template_key'),), 'pk_attr': 'id', 'table_description': 'Remaining one-time subscribe-message sends a user granted for one template.'},
            bases=['TimestampedModel'],
        ),
    ]
