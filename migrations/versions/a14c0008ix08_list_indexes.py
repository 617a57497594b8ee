"""admin list indexes (issue 14 point 6): every admin list's default order and the searched numbers by prefix

policy (issue_date, id), sms_message (created_at, id), servicing_application (submitted_at, id),
revisit_evidence (occurred_at, id): the lists' ORDER BY ... DESC LIMIT reads the index backwards instead of
sorting the table; customer (id_number): the 证件号码 search by prefix (the unique key starts with id_type).

Revision ID: a14c0008ix08
Revises: a15c0009ks09
Create Date: 2026-11-30 07:10:00

"""
from alembic import op


revision = 'a14c0008ix08'
down_revision = 'a15c0009ks09'
branch_labels = None
depends_on = None

INDEXES = [
    ("policy", "ix_policy_issue_date", ["issue_date", "id"]),
    ("customer", "ix_customer_id_number", ["id_number"]),
    ("sms_message", "ix_sms_created", ["created_at", "id"]),
    ("servicing_application", "ix_application_submitted", ["submitted_at", "id"]),
    ("revisit_evidence", "ix_evidence_occurred", ["occurred_at", "id"]),
]


def upgrade():
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    for table, name, _columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
