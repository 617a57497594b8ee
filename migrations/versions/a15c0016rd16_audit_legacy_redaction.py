"""audit events written before masking: redaction records that keep the seals checkable (issue 15)

Revision ID: a15c0016rd16
Revises: a15c0015sp15
Create Date: 2026-11-30 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a15c0016rd16'
down_revision = 'a15c0015sp15'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_redaction',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('operation_id', sa.Integer(), nullable=False),
        sa.Column('original_hash', sa.String(length=64), nullable=False),
        sa.Column('redacted_hash', sa.String(length=64), nullable=False),
        sa.Column('redacted_at', sa.DateTime(), nullable=False),
        sa.Column('reason', sa.String(length=255), nullable=False),
        sa.Column('record_hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id', name='uq_audit_redaction_event'),
    )
    with op.batch_alter_table('audit_redaction', schema=None) as batch_op:
        batch_op.create_index('ix_audit_redaction_operation_id', ['operation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_redaction', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_redaction_operation_id')
    op.drop_table('audit_redaction')
