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

# Keep in step with phone_revisit._claim_statements (the statements path).
CREATE = """
CREATE PROCEDURE portal_claim_next(
    IN p_agent INT, IN p_now DATETIME(6), IN p_today DATE,
    IN p_reservation_minutes INT, IN p_different_days TINYINT,
    IN p_actor_type VARCHAR(12), IN p_actor_id INT, IN p_actor_name VARCHAR(64),
    IN p_ip VARCHAR(45), IN p_user_agent VARCHAR(255))
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE v_id INT DEFAULT NULL;
    DECLARE v_expected VARCHAR(12) DEFAULT NULL;
    DECLARE v_minutes INT DEFAULT p_reservation_minutes;
    DECLARE v_different TINYINT DEFAULT p_different_days;
    DECLARE v_raw VARCHAR(255) DEFAULT NULL;
    DECLARE v_until DATETIME(6);
    DECLARE v_problem TINYINT DEFAULT 1;
    DECLARE v_none TINYINT DEFAULT 0;
    DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_none = 1;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;

    -- the claim is its own transaction: the caller runs in autocommit (app/dbpool.py), and
    -- START TRANSACTION would commit anything a caller had open
    START TRANSACTION;

    -- admin overrides (settings.parse validated them when they were saved)
    SELECT value INTO v_raw FROM setting WHERE `key` = 'CLAIM_RESERVATION_MINUTES';
    IF v_raw IS NOT NULL THEN SET v_minutes = CAST(TRIM(v_raw) AS UNSIGNED); END IF;
    SET v_raw = NULL;
    SELECT value INTO v_raw FROM setting WHERE `key` = 'PHONE_ATTEMPTS_DIFFERENT_DAYS';
    IF v_raw IS NOT NULL THEN SET v_different = LOWER(TRIM(v_raw)) IN ('true', '1', 'yes'); END IF;
    SET v_until = p_now + INTERVAL v_minutes MINUTE;

    -- the call the agent already holds (ix_revisit_held: live reservations only)
    SELECT id INTO v_id FROM revisit_task
     WHERE assigned_to_id = p_agent AND reserved_until > p_now AND status = 'IN_CALL'
     ORDER BY id LIMIT 1;
    IF v_id IS NULL THEN
        -- the agent's own callback that is due (still held: its time plus grace not passed).
        -- A plain read, then the conditional UPDATE decides, as for the statements path: a
        -- locking read here would lock the neighbour entry of another agent's range in
        -- ix_revisit_held, and two agents claiming at once could deadlock.
        SELECT id INTO v_id FROM revisit_task
         WHERE assigned_to_id = p_agent AND reserved_until > p_now AND status = 'CALLBACK'
           AND callback_at <= p_now
         ORDER BY callback_at, id LIMIT 1;
        IF v_id IS NOT NULL THEN
            SET v_expected = 'CALLBACK';
            UPDATE revisit_task
               SET status = 'IN_CALL', reserved_until = v_until, updated_at = p_now
             WHERE id = v_id AND status = 'CALLBACK' AND assigned_to_id = p_agent;
            IF ROW_COUNT() <> 1 THEN SET v_id = NULL; END IF;
        END IF;
        -- problem cases not yet called
        IF v_id IS NULL THEN
            SELECT id INTO v_id FROM revisit_task
             WHERE status = 'PROBLEM' AND is_problem = 1 AND attempt_count = 0 AND assigned_to_id IS NULL
             ORDER BY hesitation_deadline, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED;
            IF v_id IS NOT NULL THEN SET v_expected = 'PROBLEM'; END IF;
        END IF;
        -- problem cases back in the queue (is_problem 1), then the rest (0): nearest hesitation
        -- deadline, then oldest. One scan each, is_problem = <value>, in ix_revisit_queue's order.
        SET v_problem = 1;
        WHILE v_id IS NULL AND v_problem >= 0 DO
            SELECT id INTO v_id FROM revisit_task
             WHERE status = 'PHONE_QUEUE' AND is_problem = v_problem
               AND (v_different = 0 OR last_attempt_date IS NULL OR last_attempt_date < p_today)
             ORDER BY hesitation_deadline, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED;
            IF v_id IS NOT NULL THEN SET v_expected = 'PHONE_QUEUE'; END IF;
            SET v_problem = v_problem - 1;
        END WHILE;
        IF v_id IS NOT NULL AND v_expected <> 'CALLBACK' THEN
            -- the row is locked: the state it was picked in still holds
            UPDATE revisit_task
               SET status = 'IN_CALL', assigned_to_id = p_agent, reserved_until = v_until, updated_at = p_now
             WHERE id = v_id AND status = v_expected;
            IF ROW_COUNT() <> 1 THEN SET v_id = NULL; END IF;
        END IF;
        IF v_id IS NOT NULL THEN
            INSERT INTO audit_event (occurred_at, actor_type, actor_id, actor_name, action, entity,
                                     entity_id, `before`, `after`, ip, user_agent)
            VALUES (p_now, p_actor_type, p_actor_id, p_actor_name, 'claim', 'revisit_task', v_id,
                    JSON_OBJECT('status', v_expected),
                    JSON_OBJECT('status', 'IN_CALL', 'assigned_to_id', p_agent + 0,  -- + 0: a number, not a string
                                'reserved_until', DATE_FORMAT(v_until, '%Y-%m-%dT%H:%i:%s')),
                    p_ip, p_user_agent);
        END IF;
    END IF;
    COMMIT;
    SELECT v_id AS task_id;
END
"""


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
        op.execute("DROP PROCEDURE IF EXISTS portal_claim_next")
        op.execute(CREATE)


def downgrade():
    if _mysql():
        op.execute("DROP PROCEDURE IF EXISTS portal_claim_next")
    op.get_bind().execute(TASK.update().where(TASK.c.status == "CALLBACK").values(reserved_until=None))
    with op.batch_alter_table('revisit_task', schema=None) as batch_op:
        batch_op.create_index('ix_revisit_assigned_to', ['assigned_to_id'], unique=False)
        batch_op.drop_index('ix_revisit_held')
