"""audit events written before masking: redaction records that keep the seals checkable (issue 15)

Revision ID: a15c0016rd16
Revises: a15c0015sp15
Create Date: 2026-11-30 09:00:00

"""
from alembic import op  # noqa: F401


revision = 'a15c0016rd16'
down_revision = 'a15c0015sp15'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
