"""the customer's separate consent to biometric processing (issue 15 point 4)

Revision ID: a15c0011bc11
Revises: a15c0010en10
Create Date: 2026-11-30 07:20:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a15c0011bc11'
down_revision = 'a15c0010en10'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('biometric_consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=24), nullable=False),
    sa.Column('notice_version', sa.String(length=32), nullable=False),
    sa.Column('notice_text', sa.Text(), nullable=False),
    sa.Column('notice_sha256', sa.String(length=64), nullable=False),
    sa.Column('agreed_at', sa.DateTime(), nullable=True),
    sa.Column('declined_at', sa.DateTime(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('biometric_consent', schema=None) as batch_op:
        batch_op.create_index('ix_biometric_consent_customer', ['customer_id', 'purpose', 'notice_version'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('biometric_consent', schema=None) as batch_op:
        batch_op.drop_index('ix_biometric_consent_customer')
    op.drop_table('biometric_consent')
