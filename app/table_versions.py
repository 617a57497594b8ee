"""A version number per table, in Redis, moved on every committed write (for the list-page cache,
app/views/page_cache.py, issue 14 point 6).

Every statement the portal's engines run passes before_cursor_execute: a write (INSERT, UPDATE, DELETE,
REPLACE, CALL, DDL) notes the tables it names on its DBAPI connection; when that connection commits, the
noted tables' versions go up by one in the Redis hash TABLE_VERSIONS_KEY (after the commit, so that a
reader who sees the new version also sees the new rows); a rollback forgets them. A write whose tables
cannot be told (a stored procedure not in PROCEDURES, DDL without a name) moves the version "*", on which
every cached page depends. Statements run on a raw DBAPI connection (the agents' claim) bypass the engine
and call bump() themselves.

Redis slow or gone never slows a write for long: after a failure the client rests REDIS_PAUSE seconds, the
versions it could not write are kept and written with the next ones, and readers treat the versions as
unknown (no cached page is served) while it rests.
"""
import logging
import re
import secrets
import threading
import time
from contextvars import ContextVar

log = logging.getLogger(__name__)

TABLE_VERSIONS_KEY = "portal:table_versions"
ANY = "*"
# a random number set when the hash is created: versions restart from 0 if Redis loses the hash, and
# the new epoch tells pages kept before that apart
EPOCH = "epoch"
REDIS_PAUSE = 5.0
# the stored procedures the portal calls, and the tables they write
PROCEDURES = {"portal_claim_next": ("revisit_task", "audit_event")}

_WRITE = re.compile(r"\s*(?:/\*.*?\*/\s*)*(INSERT|UPDATE|DELETE|REPLACE|CALL|TRUNCATE|ALTER|DROP|CREATE|RENAME|LOAD)\b",
                    re.I | re.S)
_NAMES = re.compile(r"\b(?:INTO|UPDATE|FROM|JOIN|TABLE|CALL)\s+[`\"\[]?(\w+)", re.I)
_reads = ContextVar("portal_table_reads", default=None)

_written = {}  # id(DBAPI connection) -> tables written in its open transaction
_lock = threading.Lock()


class _Client:
    def __init__(self, url, timeout):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.resting_until = 0.0
        self.pending = set()  # tables whose bump could not be written yet
        self.warned = False

    def _failed(self, error):
        self.resting_until = time.monotonic() + REDIS_PAUSE
        if not self.warned:
            log.warning("table versions: Redis unavailable (%s); list pages are not cached until it is back", error)
            self.warned = True

    def available(self):
        return time.monotonic() >= self.resting_until

    def bump(self, tables):
        with _lock:
            self.pending |= set(tables)
            if not self.available():
                return
            tables, self.pending = self.pending, set()
        try:
            pipe = self.redis.pipeline(transaction=False)
            for table in sorted(tables):
                pipe.hincrby(TABLE_VERSIONS_KEY, table, 1)
            pipe.execute()
            self.warned = False
        except Exception as error:  # noqa: BLE001 - Redis down must not fail the write that committed
            with _lock:
                self.pending |= tables
            self._failed(error)

    def current(self):
        if not self.available():
            return None
        try:
            if self.pending:
                self.bump(())
                if self.pending:
                    return None
            versions = self.redis.hgetall(TABLE_VERSIONS_KEY)
            if EPOCH.encode() not in versions:  # a new (or flushed, or restarted) Redis: a new epoch
                self.redis.hsetnx(TABLE_VERSIONS_KEY, EPOCH, secrets.randbits(62))
                versions = self.redis.hgetall(TABLE_VERSIONS_KEY)
            return {key.decode(): int(value) for key, value in versions.items()}
        except Exception as error:  # noqa: BLE001
            self._failed(error)
            return None


def _app_client():
    from flask import current_app, has_app_context

    return current_app.extensions.get("portal_table_versions") if has_app_context() else None


def enabled():
    return _app_client() is not None


def current():
    """{table: version}, read once a request (at its first use, before what it reads), or None when there
    is no Redis or it is resting."""
    from flask import has_request_context, request

    client = _app_client()
    if client is None:
        return None
    if not has_request_context():
        return client.current()
    if "portal.table_versions" not in request.environ:
        request.environ["portal.table_versions"] = client.current()
    return request.environ["portal.table_versions"]


def bump(tables):
    """Move these tables' versions (for writes that bypass the engine: a raw DBAPI connection)."""
    client = _app_client()
    if client is not None and tables:
        client.bump(tables)


def written_tables(statement):
    match = _WRITE.match(statement)
    if not match:
        return ()
    verb = match.group(1).upper()
    names = {name.lower() for name in _NAMES.findall(statement)}
    if verb == "CALL":
        tables = set()
        for name in names:
            tables |= set(PROCEDURES.get(name, (ANY,)))
        return tables or {ANY}
    return names or {ANY}


def read_tables(statement):
    return {name.lower() for name in _NAMES.findall(statement)}


class reads:
    """with reads() as tables: the tables named by the statements run meanwhile in this context."""

    def __enter__(self):
        self.tables = set()
        self._token = _reads.set(self.tables)
        return self.tables

    def __exit__(self, *exc):
        _reads.reset(self._token)
        return False


def install(app, engine, url, timeout=0.5):
    """Note the tables each statement writes (and, inside reads(), reads) on this engine, and bump the
    written ones in the Redis at `url` when the connection commits. Without a url nothing is noted."""
    from sqlalchemy import event

    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return
    client = app.extensions["portal_table_versions"] = _Client(url, timeout)

    @event.listens_for(engine, "before_cursor_execute")
    def _note(conn, cursor, statement, parameters, context, executemany):
        tables = written_tables(statement)
        if tables:
            key = _raw_id(conn.connection)
            with _lock:
                _written.setdefault(key, set()).update(tables)
        noted = _reads.get()
        if noted is not None:
            noted |= read_tables(statement)

    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def commit(dbapi_connection):
        do_commit(dbapi_connection)
        with _lock:
            tables = _written.pop(_raw_id(dbapi_connection), None)
        if tables:
            client.bump(tables)

    def rollback(dbapi_connection):
        try:
            do_rollback(dbapi_connection)
        finally:
            with _lock:
                tables = _written.pop(_raw_id(dbapi_connection), None)
            if tables and _autocommit(dbapi_connection):
                client.bump(tables)  # in autocommit every statement committed by itself

    dialect.do_commit, dialect.do_rollback = commit, rollback


def _raw_id(connection):
    """The DBAPI connection's id, whether given it or the pool's proxy of it (SQLAlchemy passes the proxy
    to do_commit and do_rollback)."""
    return id(getattr(connection, "dbapi_connection", None) or connection)


def _autocommit(dbapi_connection):
    dbapi_connection = getattr(dbapi_connection, "dbapi_connection", None) or dbapi_connection
    get = getattr(dbapi_connection, "get_autocommit", None)
    if get is not None:
        return bool(get())
    return getattr(dbapi_connection, "isolation_level", "") is None  # sqlite3
