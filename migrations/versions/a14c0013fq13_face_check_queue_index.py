"""the face-check queue's index: PENDING checks counted cheaply (issue 14 item 7)

Revision ID: a14c0013fq13
Revises: a15c0012rt12
Create Date: 2026-11-30 07:40:00

"""
from alembic import op


revision = 'a14c0013fq13'
down_revision = 'a15c0012rt12'
branch_labels = None
depends_on = None


def upgrade():
    # the progress page counts the PENDING checks queued before a customer's; the sweep finds old ones
    with op.batch_alter_table('identity_verification', schema=None) as batch_op:
        batch_op.create_index('ix_identity_verification_queue', ['status', 'kind'], unique=False)


def downgrade():
    with op.batch_alter_table('identity_verification', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_verification_queue')
