"""app/dbpool.py on MariaDB: pinging only idle connections, and the autocommit pool's rollback only
when a transaction is open, must not cost safety. A connection handed back inside a transaction
is rolled back (its locks go), even when its last reply was a result set, on both pools; and a
pooled connection the server dropped is replaced before anyone uses it."""
import time

import pymysql.connections
import pytest
from sqlalchemy import create_engine, text

from app import dbpool
from app.extensions import db
from app.models import Policy


@pytest.fixture
def engine(servers):
    if not servers["database_url"].startswith("mysql"):
        pytest.skip("MariaDB's pool handling")
    engine = create_engine(servers["database_url"], pool_size=1, max_overflow=0, pool_pre_ping=False,
                           isolation_level="READ COMMITTED")  # the main pool's options (config.py)
    dbpool.install(engine, ping_idle_seconds=0.2)
    yield engine
    engine.dispose()


def _lock_is_free(engine, policy_id):
    other = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        with other.connect() as conn:
            conn.execute(text("SET SESSION innodb_lock_wait_timeout = 1"))
            started = time.monotonic()
            conn.execute(text("SELECT id FROM policy WHERE id = :id FOR UPDATE"), {"id": policy_id})
            conn.rollback()
            return time.monotonic() - started < 0.5
    finally:
        other.dispose()


def _first_policy():
    policy_id = db.session.query(Policy.id).order_by(Policy.id).first()[0]
    db.session.rollback()
    return policy_id


def test_a_connection_returned_in_a_transaction_loses_its_locks(seeded, engine):
    policy_id = _first_policy()
    fairy = engine.raw_connection()
    cursor = fairy.cursor()
    cursor.execute("SELECT id FROM policy WHERE id = %s FOR UPDATE", (policy_id,))
    cursor.close()
    # PyMySQL keeps no status flags from a result set: the transaction looks closed ...
    assert not fairy.dbapi_connection.server_status & dbpool.IN_TRANSACTION
    fairy.close()  # ... yet back in the pool with the row locked, it is rolled back
    assert _lock_is_free(engine, policy_id)


def test_the_autocommit_pool_rolls_back_only_an_open_transaction(seeded):
    policy_id = _first_policy()
    engine = dbpool.autocommit_engine()
    engine.raw_connection().close()  # connected (SQLAlchemy's first connect rolls back once)
    rollbacks = []
    original = pymysql.connections.Connection.rollback

    def spy(connection):
        rollbacks.append(connection)
        return original(connection)

    pymysql.connections.Connection.rollback = spy
    try:
        fairy = engine.raw_connection()  # a claim-like use: whole statements, nothing left open
        cursor = fairy.cursor()
        cursor.execute("SELECT id FROM policy WHERE id = %s FOR UPDATE", (policy_id,))
        cursor.close()
        fairy.close()
        assert rollbacks == []
        fairy = engine.raw_connection()  # a transaction begun by hand and left open
        cursor = fairy.cursor()
        cursor.execute("START TRANSACTION")
        cursor.execute("SELECT id FROM policy WHERE id = %s FOR UPDATE", (policy_id,))
        cursor.close()
        fairy.close()
        assert len(rollbacks) == 1
    finally:
        pymysql.connections.Connection.rollback = original
    assert _lock_is_free(engine, policy_id)


def test_a_connection_the_server_dropped_is_replaced_before_use(seeded, engine, servers):
    with engine.connect() as conn:
        first_id = conn.execute(text("SELECT CONNECTION_ID()")).scalar()
    killer = create_engine(servers["database_url"])
    try:
        with killer.connect() as conn:
            conn.execute(text(f"KILL {int(first_id)}"))
    finally:
        killer.dispose()
    time.sleep(0.3)  # idle past the ping threshold
    with engine.connect() as conn:  # the pool pings, finds it dead, connects anew
        assert conn.execute(text("SELECT CONNECTION_ID()")).scalar() != first_id
        assert conn.execute(text("SELECT COUNT(*) FROM policy")).scalar() >= 1
