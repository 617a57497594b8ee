"""retention: the contract's end and the records' retention end (issue 15 point 5)

Revision ID: a15c0012rt12
Revises: a15c0011bc11
Create Date: 2026-11-30 07:20:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a15c0012rt12'
down_revision = 'a15c0011bc11'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
