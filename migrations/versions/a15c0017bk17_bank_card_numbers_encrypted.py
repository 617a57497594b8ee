"""bank card numbers kept whole, encrypted at rest, for the payment instruction (issue 15 item 4)

servicing_application.account_no (the card the customer entered: a loan's 收款账户, a repayment's 付款账户)
and policy_loan.account_no (the payee account the payment system pays into): Fernet tokens
(app/services/crypto.py EncryptedString, String(255) underneath). Nullable: the rows made before kept only
the masked number (payload card_masked, policy_loan.account_no_masked) and stay without; there is nothing
to convert. The downgrade drops the columns (and the full numbers with them).

Revision ID: a15c0017bk17
Revises: a15c0016rd16
Create Date: 2026-11-30 09:15:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a15c0017bk17'
down_revision = 'a15c0016rd16'
branch_labels = None
depends_on = None

TABLES = ('servicing_application', 'policy_loan')


def upgrade():
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column('account_no', sa.String(length=255), nullable=True))


def downgrade():
    for name in reversed(TABLES):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column('account_no')
