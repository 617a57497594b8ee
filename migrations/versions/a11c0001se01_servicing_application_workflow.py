"""servicing application workflow: rule trace, straight-through, four eyes, service time limits

Revision ID: a11c0001se01
Revises: 9b3f2c7d1e60
Create Date: 2026-11-30 05:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a11c0001se01'
down_revision = '9b3f2c7d1e60'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('servicing_application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('rule_trace', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('submitted_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decided_by_system', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('sampled_for_review', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('approvals_needed', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('reject_reason', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('due_decision_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('due_completion_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('completed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sample_reviewed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sample_reviewed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sample_review_note', sa.Text(), nullable=True))
        batch_op.create_foreign_key('fk_application_submitted_by', 'ab_user', ['submitted_by_id'], ['id'])
        batch_op.create_foreign_key('fk_application_sample_reviewed_by', 'ab_user', ['sample_reviewed_by_id'], ['id'])
        batch_op.create_index('ix_application_due', ['status', 'due_decision_at'], unique=False)

    op.create_table('application_approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['servicing_application.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'user_id', name='uq_approval_application_user')
    )
    with op.batch_alter_table('application_approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_approval_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('application_approval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_approval_user_id'))
    op.drop_table('application_approval')
    with op.batch_alter_table('servicing_application', schema=None) as batch_op:
        batch_op.drop_index('ix_application_due')
        batch_op.drop_constraint('fk_application_sample_reviewed_by', type_='foreignkey')
        batch_op.drop_constraint('fk_application_submitted_by', type_='foreignkey')
        for column in ('sample_review_note', 'sample_reviewed_by_id', 'sample_reviewed_at',
                       'cancelled_at', 'completed_at', 'due_completion_at', 'due_decision_at', 'reject_reason',
                       'approvals_needed', 'sampled_for_review', 'decided_by_system', 'submitted_by_id',
                       'rule_trace', 'amount'):
            batch_op.drop_column(column)
