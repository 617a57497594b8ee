"""annuity method and beneficiary changes (issue 12): several policies per application, the claim flag,
the holder's relationship to the insured, the annuity method's effective date, the slip's code, and one
consent per insured

Revision ID: a12c0004bc04
Revises: a11c0003co03
Create Date: 2026-11-30 06:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a12c0004bc04'
down_revision = 'a11c0003co03'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('servicing_application_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['servicing_application.id'], ),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'policy_id', name='uq_application_policy')
    )
    with op.batch_alter_table('servicing_application_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_servicing_application_policy_policy_id'), ['policy_id'], unique=False)
    with op.batch_alter_table('policy', schema=None) as batch_op:
        batch_op.add_column(sa.Column('annuity_method_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('holder_relationship', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('claim_reported_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_beneficiary_created_by', 'ab_user', ['created_by_id'], ['id'])
    with op.batch_alter_table('servicing_application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slip_code', sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint('uq_servicing_application_slip_code', ['slip_code'])
    # the new unique index first: MariaDB keeps an index on application_id for its foreign key
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_consent_application_insured',
                                          ['application_id', 'action', 'customer_id'])
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_constraint('uq_consent_application_action', type_='unique')


def downgrade():
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_consent_application_action', ['application_id', 'action'])
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_constraint('uq_consent_application_insured', type_='unique')
    with op.batch_alter_table('servicing_application', schema=None) as batch_op:
        batch_op.drop_constraint('uq_servicing_application_slip_code', type_='unique')
        batch_op.drop_column('slip_code')
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.drop_constraint('fk_beneficiary_created_by', type_='foreignkey')
        batch_op.drop_column('created_by_id')
    with op.batch_alter_table('policy', schema=None) as batch_op:
        batch_op.drop_column('claim_reported_at')
        batch_op.drop_column('holder_relationship')
        batch_op.drop_column('annuity_method_from')
    with op.batch_alter_table('servicing_application_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_servicing_application_policy_policy_id'))
    op.drop_table('servicing_application_policy')
