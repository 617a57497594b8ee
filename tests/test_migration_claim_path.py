"""Migration 5c1e8a0d4b27 on a database of its own: a callback booked before it keeps its agent
(reserved_until = its time plus the grace period), the claim procedure exists on MariaDB, and
the downgrade takes both away. Runs on MariaDB and, in the smoke run, on SQLite."""
from datetime import datetime

import pytest
from sqlalchemy import inspect, text

from app import create_app
from tests.conftest import make_config, migration_database

pytestmark = pytest.mark.smoke
BEFORE, THIS = "26346e715f39", "5c1e8a0d4b27"


@pytest.fixture
def blank_database(servers):
    with migration_database(servers, "migration") as url:
        yield url


def test_booked_callbacks_keep_their_agent_across_the_migration(servers, blank_database):
    from flask_migrate import downgrade, upgrade

    from app.extensions import db

    other = create_app(make_config(servers, SQLALCHEMY_DATABASE_URI=blank_database))
    with other.app_context():
        upgrade(revision=BEFORE)
        mysql = db.engine.dialect.name == "mysql"
        with db.engine.begin() as conn:
            if mysql:
                conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            conn.execute(text("INSERT INTO ab_user (id, first_name, last_name, username, email, active)"
                              " VALUES (7, '回访', '专员', 'agent7', 'agent7@test.local', 1)"))
            for task_id, status, callback_at in ((1, "CALLBACK", datetime(2026, 11, 24, 15, 30)),
                                                 (2, "SUCCESS", datetime(2026, 11, 20, 10, 0))):
                conn.execute(text(
                    "INSERT INTO revisit_task (id, policy_id, open_policy_id, template_id, status, channel,"
                    " is_problem, erevisit_deadline, hesitation_deadline, assigned_to_id, callback_at,"
                    " attempt_count, created_at, updated_at) VALUES (:id, :id, NULL, 1, :status, 'PHONE',"
                    " 0, '2026-11-20 00:00:00', '2026-12-01', 7, :callback_at, 0, '2026-11-16 09:00:00',"
                    " '2026-11-16 09:00:00')"), {"id": task_id, "status": status, "callback_at": callback_at})
        upgrade(revision=THIS)
        rows = dict(db.session.execute(text("SELECT id, reserved_until FROM revisit_task")).all())
        # the booked callback is held until 15:30 + 15 minutes; the finished task holds nothing
        assert str(rows[1])[:16] == "2026-11-24 15:45" and rows[2] is None
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("revisit_task")}
        assert "ix_revisit_held" in indexes and "ix_revisit_assigned_to" not in indexes
        procedures = "SELECT COUNT(*) FROM information_schema.routines WHERE routine_name = 'portal_claim_next'" \
                     " AND routine_schema = DATABASE()"
        if mysql:
            assert db.session.execute(text(procedures)).scalar() == 1
        db.session.rollback()

        downgrade(revision=BEFORE)
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("revisit_task")}
        assert "ix_revisit_assigned_to" in indexes and "ix_revisit_held" not in indexes
        assert db.session.execute(text("SELECT reserved_until FROM revisit_task WHERE id = 1")).scalar() is None
        if mysql:
            assert db.session.execute(text(procedures)).scalar() == 0
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
