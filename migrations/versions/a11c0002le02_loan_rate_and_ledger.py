"""loan rate table, the append-only loan ledger, a loan's carried interest and reminder stage

Revision ID: a11c0002le02
Revises: a11c0001se01
Create Date: 2026-11-30 06:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a11c0002le02'
down_revision = 'a11c0001se01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('loan_rate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('annual_rate', sa.Numeric(precision=7, scale=6), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loan_rate', schema=None) as batch_op:
        batch_op.create_index('ix_loan_rate_effective', ['effective_from', 'id'], unique=False)

    op.create_table('loan_ledger_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('event_key', sa.String(length=64), nullable=False),
    sa.Column('on_day', sa.Date(), nullable=False),
    sa.Column('principal_delta', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('interest_delta', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('principal_after', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('interest_carried_after', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('interest_paid_to_after', sa.Date(), nullable=True),
    sa.Column('repayment_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['policy_loan.id'], ),
    sa.ForeignKeyConstraint(['repayment_id'], ['loan_repayment.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_key')
    )
    with op.batch_alter_table('loan_ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_loan_day', ['loan_id', 'on_day', 'id'], unique=False)

    with op.batch_alter_table('policy_loan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interest_carried', sa.Numeric(precision=14, scale=2), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('reminded_days', sa.Integer(), nullable=True))
        batch_op.create_index('ix_policy_loan_due', ['status', 'due_on'], unique=False)


def downgrade():
    with op.batch_alter_table('policy_loan', schema=None) as batch_op:
        batch_op.drop_index('ix_policy_loan_due')
        batch_op.drop_column('reminded_days')
        batch_op.drop_column('interest_carried')
    with op.batch_alter_table('loan_ledger_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_loan_day')
    op.drop_table('loan_ledger_entry')
    with op.batch_alter_table('loan_rate', schema=None) as batch_op:
        batch_op.drop_index('ix_loan_rate_effective')
    op.drop_table('loan_rate')
