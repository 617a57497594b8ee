"""the key screens a customer agreed to (issue 15 point 2)

Revision ID: a15c0009ks09
Revises: a11c0005lg05
Create Date: 2026-11-30 07:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a15c0009ks09'
down_revision = 'a11c0005lg05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('key_screen',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('revisit_task_id', sa.Integer(), nullable=True),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('consent_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('agreement_version', sa.String(length=32), nullable=True),
    sa.Column('shown_at', sa.DateTime(), nullable=False),
    sa.Column('agreed_at', sa.DateTime(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['servicing_application.id'], ),
    sa.ForeignKeyConstraint(['consent_id'], ['consent.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], ),
    sa.ForeignKeyConstraint(['revisit_task_id'], ['revisit_task.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('key_screen', schema=None) as batch_op:
        batch_op.create_index('ix_key_screen_policy', ['policy_id', 'shown_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_screen_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_screen_revisit_task_id'), ['revisit_task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_screen_application_id'), ['application_id'], unique=False)


def downgrade():
    with op.batch_alter_table('key_screen', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_key_screen_application_id'))
        batch_op.drop_index(batch_op.f('ix_key_screen_revisit_task_id'))
        batch_op.drop_index(batch_op.f('ix_key_screen_customer_id'))
        batch_op.drop_index('ix_key_screen_policy')
    op.drop_table('key_screen')
