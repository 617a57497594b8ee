"""personal data encrypted at rest with keyed hashes for lookups (issue 15 point 4)

Revision ID: a15c0010en10
Revises: a15c0007au07
Create Date: 2026-11-30 07:20:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a15c0010en10'
down_revision = 'a15c0007au07'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
