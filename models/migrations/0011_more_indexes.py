from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0010_indexes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='ApplicationAppointment',
            index=Index(fields=['slot_id']),
        ),
        ops.AddIndex(
            model_name='ContactAttempt',
            index=Index(fields=['confirmation_id']),
        ),
        ops.AddIndex(
            model_name='HardshipCase',
            index=Index(fields=['beneficiary_id']),
        ),
        ops.AddIndex(
            model_name='HardshipFollowUp',
            index=Index(fields=['case_id']),
        ),
        ops.AddIndex(
            model_name='NoticeEvidence',
            index=Index(fields=['notice_id']),
        ),
        ops.AddIndex(
            model_name='PaymentMonth',
            index=Index(fields=['payment_file_id']),
        ),
    ]
