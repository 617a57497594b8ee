"""Connection pool handling for MariaDB/MySQL: the same safety as pool_pre_ping and
reset-on-return, without two extra round trips on every checkout.

SQLAlchemy's defaults ping the server on every checkout and send ROLLBACK on every checkin,
even straight after a COMMIT. Each request and each Celery task checks a connection out
after every commit, so those two round trips were a third of the agents' claim
(bench/agent_claims.py). Here:

* checkout pings only a connection that sat idle longer than DB_PING_IDLE_SECONDS. A dead
  one (server restarted, wait_timeout passed) raises DisconnectionError, and the pool
  replaces it with a fresh connection before the caller sees it, as pool_pre_ping does.
* checkin rolls back only when the server says a transaction is still open (the status
  flags of the last reply, which PyMySQL keeps), so a connection never returns to the pool
  holding locks or uncommitted work.

autocommit_engine() is a second, autocommit pool on the same database for statements that
are a whole transaction by themselves: the agents' claim, a stored procedure that begins and
commits its own transaction, is then one round trip.
"""
import time

from flask import current_app
from sqlalchemy import create_engine, event, exc

IN_TRANSACTION = 1  # SERVER_STATUS_IN_TRANS



def install(engine, ping_idle_seconds):
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

        install(engine, current_app.config["DB_PING_IDLE_SECONDS"])
        engine = current_app.extensions.setdefault("portal_autocommit_engine", engine)
    return engine
