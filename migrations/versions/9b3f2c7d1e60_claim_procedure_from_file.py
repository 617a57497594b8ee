"""the claim procedure from its versioned file

Revision ID: 9b3f2c7d1e60
Revises: 5c1e8a0d4b27
Create Date: 2026-11-30 05:00:00

portal_claim_next's SQL now lives once, in app/sql/portal_claim_next.sql (it was a string inside
migration 5c1e8a0d4b27, which now reads the same file). This migration replaces the deployed
procedure with the file's; a later change to the procedure edits the file and adds a migration
like this one. tests/test_claim_procedure.py checks that the database runs exactly the file's body.
The revisit task's states lost FAILED and CANCELLED, which no event reached: no row can hold
them and no column or constraint names them, so there is nothing to migrate for that.
"""
from alembic import op

revision = '9b3f2c7d1e60'
down_revision = '5c1e8a0d4b27'
branch_labels = None
depends_on = None


def _mysql():
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade():
    if _mysql():
        from app import sql

        sql.replace_procedure(op.execute, sql.CLAIM_PROCEDURE)


def downgrade():
    # 5c1e8a0d4b27 has no procedure text of its own any more: the file's stays
    pass
