"""the dashboard's event days indexed: visits by completion time, phone visits by their last try

Revision ID: a14c0014dx14
Revises: a14c0013fq13
Create Date: 2026-11-30 08:20:00

"""
from alembic import op


revision = 'a14c0014dx14'
down_revision = 'a14c0013fq13'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('revisit_task', schema=None) as batch_op:
        batch_op.create_index('ix_revisit_completed', ['completed_at'], unique=False)
        batch_op.create_index('ix_revisit_last_attempt', ['last_attempt_date'], unique=False)


def downgrade():
    with op.batch_alter_table('revisit_task', schema=None) as batch_op:
        batch_op.drop_index('ix_revisit_last_attempt')
        batch_op.drop_index('ix_revisit_completed')
