"""The claim procedure runs exactly the SQL of its versioned file (app/sql/portal_claim_next.sql),
and its status literals are the claim's in the revisit task's state table. The same claim cases
run on the procedure and on the statements path in tests/services/test_phone_revisit.py."""
import re

import pytest
from sqlalchemy import text

from app import sql
from app.extensions import db


def test_the_deployed_procedure_has_the_files_body(app):
    if db.engine.dialect.name != "mysql":
        pytest.skip("stored procedures: MariaDB/MySQL only")
    deployed = db.session.execute(text(
        "SELECT ROUTINE_DEFINITION FROM information_schema.ROUTINES"
        " WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = :name"), {"name": sql.CLAIM_PROCEDURE}).scalar()
    assert deployed is not None and deployed.strip() == sql.body(sql.CLAIM_PROCEDURE)


def test_the_procedures_statuses_are_the_claims_in_the_state_table():
    from app.services.revisit import states

    statement = sql.read(sql.CLAIM_PROCEDURE)
    literals = set(re.findall(r"'([A-Z_]+)'", statement)) - {"CLAIM_RESERVATION_MINUTES",
                                                              "PHONE_ATTEMPTS_DIFFERENT_DAYS"}
    assert literals <= set(states.STATUSES)
    # it takes a task from exactly the claim's sources, and moves it to the claim's target
    assert set(re.findall(r"SET v_expected = '(\w+)'", statement)) == set(states.sources_of("claim"))
    assert set(re.findall(r"SET status = '(\w+)'", statement)) == {states.target_of("claim")}
    # the call the agent already holds is the claim's target
    assert re.search(r"status = '%s'\s+ORDER BY id LIMIT 1" % states.target_of("claim"), statement)
