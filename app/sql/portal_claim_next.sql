-- portal_claim_next: the agents' "下一个任务" in one round trip (MariaDB / MySQL).
-- The one copy of this procedure: the migrations load it from here (5c1e8a0d4b27 created it,
-- 9b3f2c7d1e60 replaces it), and tests/test_claim_procedure.py checks that the database runs
-- exactly this body and that its status literals are the claim's in
-- app/services/revisit/states.py. Keep in step with phone_revisit.claim (the statements path);
-- change it by editing this file and adding a migration that calls app.sql.replace_procedure.
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
