"""the agents' claim: one stored procedure on MariaDB, and an index of live reservations

Revision ID: 5c1e8a0d4b27
Revises: 26346e715f39
Create Date: 2026-11-25 03:00:00

1. ix_revisit_held (assigned_to_id, reserved_until) replaces ix_revisit_assigned_to. "The
   agent's own tasks" were found by assigned_to_id alone, so every claim read the agent's
   whole history (thousands of finished tasks after a few months). reserved_until is now set
   exactly while a task is held (IN_CALL: until the idle reservation lapses; CALLBACK: until
   the booked time plus the grace period), so `assigned_to_id = ? AND reserved_until > now`
   reads only what the agent holds. Neither column changes in the day-4 expiry, which keeps
   its speed (every index with status in it costs that job about 4 s per 900,000 rows).
   Booked callbacks get their reserved_until here.
2. "下一个任务" (app/services/phone_revisit.claim_next) took nine round trips from Python: the
   settings, the agent's own tasks, up to three SKIP LOCKED selectors, the UPDATE, the audit
   insert. On MariaDB/MySQL it is now one CALL of portal_claim_next, which begins and commits
   its own transaction (the portal calls it on an autocommit connection); the rules are the same as the statements path, which SQLite (the embedded default) still runs
   and which the tests run on MariaDB side by side with this one
   (tests/services/test_phone_revisit.py, tests/integration/test_concurrent_claims.py).

The procedure takes the time from the caller (the portal's clock, so a frozen or demo-offset
clock applies), the config defaults of the two settings it needs (an admin override in
`setting` wins; values there were validated when saved), and the audit actor. It returns one
row: the task id, or NULL when nothing is claimable.
"""
from datetime import timedelta

import sqlalchemy as sa
from alembic import op


revision = '5c1e8a0d4b27'
down_revision = '26346e715f39'
branch_labels = None
depends_on = None

# The procedure's SQL lives once, in app/sql/portal_claim_next.sql (migration 9b3f2c7d1e60
# replaces it from there; this one creates it on a fresh database from the same file).

def _mysql():
    return op.get_bind().dialect.name in ("mysql", "mariadb")


SETTING = sa.table("setting", sa.column("key", sa.String), sa.column("value", sa.String))
TASK = sa.table("revisit_task", sa.column("id", sa.Integer), sa.column("status", sa.String),
                sa.column("callback_at", sa.DateTime), sa.column("reserved_until", sa.DateTime))


def _grace_minutes(bind):
    value = bind.execute(sa.select(SETTING.c.value).where(SETTING.c.key == "CALLBACK_GRACE_MINUTES")).scalar()
    if value is not None:
        return int(str(value).strip())
    try:
        from flask import current_app

        return int(current_app.config["CALLBACK_GRACE_MINUTES"])
    except (RuntimeError, KeyError):  # outside the app: config.py's default
        return 15


def upgrade():
    with op.batch_alter_table('revisit_task', schema=None) as batch_op:
        # create before drop: MariaDB keeps an index on the assigned_to_id foreign key at all times
        batch_op.create_index('ix_revisit_held', ['assigned_to_id', 'reserved_until'], unique=False)
        batch_op.drop_index('ix_revisit_assigned_to')

    bind = op.get_bind()
    grace = timedelta(minutes=_grace_minutes(bind))
    booked = bind.execute(sa.select(TASK.c.id, TASK.c.callback_at).where(
        TASK.c.status == "CALLBACK", TASK.c.callback_at.isnot(None))).all()
    for task_id, callback_at in booked:
        bind.execute(TASK.update().where(TASK.c.id == task_id).values(reserved_until=callback_at + grace))

    if _mysql():
        from app import sql

        sql.replace_procedure(op.execute, sql.CLAIM_PROCEDURE)


def downgrade():
    if _mysql():
        op.execute("DROP PROCEDURE IF EXISTS portal_claim_next")
    op.get_bind().execute(TASK.update().where(TASK.c.status == "CALLBACK").values(reserved_until=None))
    with op.batch_alter_table('revisit_task', schema=None) as batch_op:
        batch_op.create_index('ix_revisit_assigned_to', ['assigned_to_id'], unique=False)
        batch_op.drop_index('ix_revisit_held')
