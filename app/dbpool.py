"""Connection pool handling for MariaDB/MySQL.

* checkout pings only a connection that sat idle longer than DB_PING_IDLE_SECONDS, instead of
  pool_pre_ping's round trip on every checkout (each request and each Celery task checks a
  connection out again after every commit). A dead one (server restarted, wait_timeout
  passed) raises DisconnectionError, and the pool replaces it with a fresh connection before
  the caller sees it, as pool_pre_ping does.
* checkin keeps SQLAlchemy's rollback-on-return on the main pool. (Skipping it after a COMMIT
  was tried and dropped: PyMySQL does not update the server's status flags after a result
  set, so a transaction holding only SELECT ... FOR UPDATE locks looked closed;
  tests/test_dbpool.py keeps that case.)

autocommit_engine() is a second pool, in autocommit, for statements that are a whole
transaction by themselves: the agents' claim, a stored procedure that begins and commits its
own transaction, is then one round trip. A CALL always ends with an OK packet, whose status
flags are reliable, so that pool rolls back on checkin only when the server says a
transaction is still open.
"""
import time

from flask import current_app
from sqlalchemy import create_engine, event, exc

IN_TRANSACTION = 1  # SERVER_STATUS_IN_TRANS


def install(engine, ping_idle_seconds, autocommit=False):
    if engine.dialect.name not in ("mysql", "mariadb"):
        return

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since <= ping_idle_seconds:
            return
        try:
            dbapi_connection.ping(reconnect=False)
        except Exception as error:  # the pool retries with a new connection
            raise exc.DisconnectionError(f"stale connection: {error}") from error

    if not autocommit:
        return

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection, record, reset_state):
        if reset_state.terminate_only:
            return
        status = getattr(dbapi_connection, "server_status", None)
        if status is None or status & IN_TRANSACTION:
            dbapi_connection.rollback()


def autocommit_engine():
    """The app's autocommit pool (created on first use, one a process), READ COMMITTED."""
    engine = current_app.extensions.get("portal_autocommit_engine")
    if engine is None:
        from app.extensions import db

        options = current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
        engine = create_engine(
            db.engine.url, isolation_level="AUTOCOMMIT", pool_pre_ping=False, pool_reset_on_return=None,
            pool_recycle=options.get("pool_recycle", 3600), pool_size=options.get("pool_size", 10),
            max_overflow=options.get("max_overflow", 20))

        @event.listens_for(engine, "connect")
        def _read_committed(dbapi_connection, record):
            cursor = dbapi_connection.cursor()
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cursor.close()

        install(engine, current_app.config["DB_PING_IDLE_SECONDS"], autocommit=True)
        engine = current_app.extensions.setdefault("portal_autocommit_engine", engine)
    return engine
