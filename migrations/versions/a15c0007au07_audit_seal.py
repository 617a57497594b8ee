"""tamper-evident audit trail (issue 15 point 1): each audit event's content hash, and the seals that chain
the events period by period

Revision ID: a15c0007au07
Revises: a14c0008ix08
Create Date: 2026-11-30 07:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a15c0007au07'
down_revision = 'a14c0008ix08'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))
    op.create_table(
        'audit_seal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('first_id', sa.Integer(), nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('gaps', sa.JSON(), nullable=True),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('chain_hash', sa.String(length=64), nullable=False),
        sa.Column('sealed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('first_id', name='uq_audit_seal_first'),
    )
    with op.batch_alter_table('audit_seal', schema=None) as batch_op:
        batch_op.create_index('ix_audit_seal_last_id', ['last_id'], unique=False)
        batch_op.create_index('ix_audit_seal_sealed_at', ['sealed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_seal', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_seal_sealed_at')
        batch_op.drop_index('ix_audit_seal_last_id')
    op.drop_table('audit_seal')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('row_hash')
