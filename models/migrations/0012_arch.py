from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from models.confirmation import FaceDecision, SnapshotKind
from models.payments import ExportFormat, ExportKind
from models.registry import ImportKind
from models.wechat import AttemptOutcome, ProxyApprovedVia, ProxyRevokedBy


class Migration(migrations.Migration):
    dependencies = [('models', '0011_more_indexes')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='FaceAttempt',
            name='decision',
            field=fields.CharEnumField(description='PASS: pass\nREVIEW: review\nFAIL: fail', enum_type=FaceDecision, max_length=16),
        ),
        ops.AlterField(
            model_name='ImportBatch',
            name='kind',
            field=fields.CharEnumField(description='REGISTRY: registry\nPHOTOS: photos\nDEATHS: deaths', enum_type=ImportKind, max_length=32),
        ),
        ops.AlterField(
            model_name='NotificationAttempt',
            name='outcome',
            field=fields.CharEnumField(description='IN_FLIGHT: in_flight\nSENT: sent\nTRANSIENT: transient\nPERMANENT: permanent\nREFUSED: refused\nNO_QUOTA: no_quota', enum_type=AttemptOutcome, max_length=16),
        ),
        ops.AlterField(
            model_name='PaymentExport',
            name='file_format',
            field=fields.CharEnumField(description='XLSX: xlsx\nCSV: csv', enum_type=ExportFormat, max_length=8),
        ),
        ops.AlterField(
            model_name='PaymentExport',
            name='kind',
            field=fields.CharEnumField(description='SUSPENSIONS: suspensions\nRESUMPTIONS: resumptions', enum_type=ExportKind, max_length=16),
        ),
        ops.AlterField(
            model_name='ProxyGrant',
            name='approved_via',
            field=fields.CharEnumField(null=True, description='BENEFICIARY: beneficiary\nSTATION: station', enum_type=ProxyApprovedVia, max_length=16),
        ),
        ops.AlterField(
            model_name='ProxyGrant',
            name='revoked_by',
            field=fields.CharEnumField(null=True, description='PROXY: proxy\nBENEFICIARY: beneficiary\nSTATION: station', enum_type=ProxyRevokedBy, max_length=32),
        ),
        ops.AlterField(
            model_name='ReportSnapshot',
            name='kind',
            field=fields.CharEnumField(description='WEEKLY_PROGRESS: weekly_progress\nCAMPAIGN_SUMMARY: campaign_summary\nCARD_MONTHLY: card_monthly', enum_type=SnapshotKind, max_length=32),
        ),
        # On SQLite AlterField rebuilds each table and loses its indexes and unique constraints; put them
        # back under the names the earlier migrations gave them (on PostgreSQL they exist: no-ops).
        ops.RunSQL([
            'CREATE INDEX IF NOT EXISTS "idx_face_attemp_confirm_a9bd5c" ON "face_attempt" ("confirmation_id")',
            'CREATE INDEX IF NOT EXISTS "idx_face_attemp_benefic_4d880c" ON "face_attempt" ("beneficiary_id")',
            'CREATE INDEX IF NOT EXISTS "idx_notificatio_notific_d91b69" ON "notification_attempt" ("notification_id")',
            'CREATE INDEX IF NOT EXISTS "idx_proxy_grant_proxy_u_5b8138" ON "proxy_grant" ("proxy_user_id")',
            'CREATE INDEX IF NOT EXISTS "idx_proxy_grant_benefic_bff943" ON "proxy_grant" ("beneficiary_id")',
            'CREATE UNIQUE INDEX IF NOT EXISTS "uid_report_snap_kind_479cea" ON "report_snapshot" ("kind", "scope_unit_id", "period")',
        ]),
    ]
