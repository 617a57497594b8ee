"""bank card numbers kept whole, encrypted at rest, for the payment instruction (issue 15 item 4)

Revision ID: a15c0017bk17
Revises: a15c0016rd16
Create Date: 2026-11-30 09:15:00

"""
from alembic import op  # noqa: F401


revision = 'a15c0017bk17'
down_revision = 'a15c0016rd16'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
