"""the insured's consent record (Insurance Law art. 34)

Revision ID: a11c0003co03
Revises: a11c0002le02
Create Date: 2026-11-30 07:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a11c0003co03'
down_revision = 'a11c0002le02'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('asked_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('declined_at', sa.DateTime(), nullable=True),
    sa.Column('lapsed_at', sa.DateTime(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('identity_verification_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['servicing_application.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['identity_verification_id'], ['identity_verification.id'], ),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'action', name='uq_consent_application_action'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.create_index('ix_consent_status_asked', ['status', 'asked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_policy_id'), ['policy_id'], unique=False)


def downgrade():
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_policy_id'))
        batch_op.drop_index(batch_op.f('ix_consent_customer_id'))
        batch_op.drop_index('ix_consent_status_asked')
    op.drop_table('consent')
