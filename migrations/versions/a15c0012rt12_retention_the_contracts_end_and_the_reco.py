"""retention: the contract's end and the records' retention end (issue 15 point 5)

Revision ID: a15c0012rt12
Revises: a15c0011bc11
Create Date: 2026-11-30 07:20:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a15c0012rt12'
down_revision = 'a15c0011bc11'
branch_labels = None
depends_on = None


def upgrade():
    # the day a terminated contract ended, as the core system reports it; the retention end (ten years
    # after the contract's end) is computed from it or from the term's end (services/retention.py)
    with op.batch_alter_table('policy', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_ended_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('policy', schema=None) as batch_op:
        batch_op.drop_column('contract_ended_on')
