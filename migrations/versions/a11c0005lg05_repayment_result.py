"""loan repayment attempts keep their payment result (issue 11 point 5): a FAILED result is stored (it
does not enter the ledger) with the payment system's reference; one result per reference

Revision ID: a11c0005lg05
Revises: a12c0004bc04
Create Date: 2026-11-30 06:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a11c0005lg05'
down_revision = 'a12c0004bc04'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('loan_repayment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('result', sa.String(length=8), nullable=False, server_default='PAID'))
        batch_op.add_column(sa.Column('payment_ref', sa.String(length=48), nullable=True))
        batch_op.create_unique_constraint('uq_repayment_ref_result', ['payment_ref', 'result'])


def downgrade():
    with op.batch_alter_table('loan_repayment', schema=None) as batch_op:
        batch_op.drop_constraint('uq_repayment_ref_result', type_='unique')
        batch_op.drop_column('payment_ref')
        batch_op.drop_column('result')
