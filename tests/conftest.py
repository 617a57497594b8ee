"""Test fixtures: one MariaDB and one Redis for the session (started here on loopback),
the schema built by the migrations, every table emptied after each test, the demo data seeded once
and copied back for each test that asks for it (`seeded`).

PORTAL_TEST_DB=sqlite runs on a SQLite file instead (the embedded-default smoke run);
TEST_DATABASE_URL / TEST_REDIS_URL point at servers that are already running.
"""
import os
import re
import shutil
import tempfile
from contextlib import contextmanager

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from tests import harness

PASSWORD = "Test@Pass2026"
# The real photos and clip of ../shared (beside the repository, as on CI).
FACES = os.environ.get("PORTAL_TEST_FACES") or os.path.normpath(
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "testdata", "faces"))
KEEP_TABLES = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_permission_view_role",
               "ab_role", "alembic_version"}


def pytest_configure(config):
    config.addinivalue_line("markers", "smoke: embedded-default checks, also run on SQLite")
    config.addinivalue_line("markers", "e2e: drives headless Chromium")


@pytest.fixture(scope="session")
def servers():
    base = tempfile.mkdtemp(prefix="portal-test-")
    started = []
    sqlite = os.environ.get("PORTAL_TEST_DB") == "sqlite"
    try:
        db_url = os.environ.get("TEST_DATABASE_URL")
        if not db_url:
            if sqlite:
                db_url = "sqlite:///" + os.path.join(base, "portal.db")
            else:
                server = harness.start_mariadb(base)
                started.append(server)
                db_url = server.url
        redis_url = os.environ.get("TEST_REDIS_URL")
        if not redis_url and not sqlite:
            server = harness.start_redis(base)
            started.append(server)
            redis_url = server.url
        yield {"database_url": db_url, "redis_url": redis_url, "base_dir": base}
    finally:
        for server in started:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


def make_config(servers, **overrides):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": servers["database_url"],
        "UPLOAD_DIR": os.path.join(servers["base_dir"], "uploads"),
        "RATELIMIT_STORAGE_URI": "memory://",
        # server-side sessions: in the test Redis on the MariaDB run, in files on the SQLite run
        "SESSION_REDIS_URL": servers["redis_url"],
        # the list-page cache on, as in production (views/page_cache.py): the lists the tests read after a
        # change show it, which is what the cache promises
        "PAGE_CACHE_REDIS_URL": servers["redis_url"],
        "SESSION_FILE_DIR": os.path.join(servers["base_dir"], "sessions"),
        "SMS_BACKEND": "outbox",
        # a cheap hash for the demo users seeded before most tests (scrypt took half the suite's
        # time); test_production_hashes_passwords_with_scrypt keeps the production method honest
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        "AUTH_DB_FAKE_PASSWORD_HASH_CHECK": "pbkdf2:sha256:1$salt$" + "0" * 64,
        "CELERY": {"broker_url": "memory://", "task_always_eager": True, "task_eager_propagates": True,
                   "task_ignore_result": True, "timezone": "Asia/Shanghai"},
    }
    config.update(overrides)
    return config



@contextmanager
def migration_database(servers, name):
    """An empty database of its own for a migration test, its URL yielded: on SQLite the file
    <name>.db in the run's folder (made afresh), on MariaDB the database portal_<name> ('-' read as '_'),
    created empty on the test server and dropped afterwards."""
    url = servers["database_url"]
    if url.startswith("sqlite"):
        path = os.path.join(servers["base_dir"], name + ".db")
        if os.path.exists(path):
            os.remove(path)
        yield "sqlite:///" + path
        return
    database = "portal_" + name.replace("-", "_")
    server_url, _, _ = url.rpartition("/")
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {database}"))
        conn.execute(text(f"CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    yield f"{server_url}/{database}?charset=utf8mb4"
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {database}"))
    admin.dispose()

@pytest.fixture(scope="session")
def app(servers):
    from flask_migrate import upgrade

    from app import create_app

    app = create_app(make_config(servers))
    with app.app_context():
        upgrade()
        _ensure_roles(app)
    yield app


def _ensure_roles(app):
    """What `flask portal init` does: every role and its allow-list in the database."""
    from app.security import sync_roles

    sync_roles(app.appbuilder)


@pytest.fixture(autouse=True)
def _app_context(request):
    if "app" not in request.fixturenames:
        # pure unit tests (no app fixture in their closure) run without a database
        yield
        return
    app = request.getfixturevalue("app")
    # Tests that start a real worker or a second app change Celery's current app; every test
    # starts again from the session app's (eager) Celery.
    celery_app = app.extensions["celery"]
    celery_app.set_current()
    celery_app.set_default()
    with app.app_context():
        yield
        _empty_tables(app)
    from app.extensions import limiter

    limiter.reset()
    if getattr(app.appbuilder.sm, "limiter", None) is not None:
        app.appbuilder.sm.limiter.reset()


def _empty_tables(app):
    from app.extensions import db

    db.session.rollback()
    db.session.remove()
    engine = db.engine
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP_TABLES]
    with engine.begin() as conn:
        mysql = engine.dialect.name == "mysql"
        if mysql:
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in tables:
            conn.execute(table.delete())
        if mysql:
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


class FreshContextClient(FlaskClient):
    """Each request gets an app context of its own, as in production: nothing on flask.g (the
    signed-in user, a CSRF token) or in the SQLAlchemy session carries over from the test's own
    context or from another client's request."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = FreshContextClient
    return app.test_client()


# The demo rows as demo.seed left them, by what seeding reads (the day, the settings it uses): seeded
# once a session, then copied back into the emptied tables with one multi-row INSERT a table.
_SEEDS = {}
SEED_SETTINGS = ("HESITATION_DAYS", "LOAN_RATIO", "EREVISIT_VALID_DAYS", "FAB_PASSWORD_HASH_METHOD")


@pytest.fixture
def seeded(app):
    """The demo data, with every demo user's password set to PASSWORD (the same rows and ids in every
    test of the session)."""
    from app.services import clock

    key = (clock.today(), *(app.config[name] for name in SEED_SETTINGS))
    if key in _SEEDS and _restore(_SEEDS[key]):
        return app
    empty = _all_empty()
    _seed()
    if empty:  # a copy of the demo rows alone, not of what a fixture wrote before
        _SEEDS[key] = _copy()
    return app


def _tables():
    from app.extensions import db

    return [t for t in db.metadata.sorted_tables if t.name not in KEEP_TABLES]


def _all_empty():
    from sqlalchemy import exists, select

    from app.extensions import db

    with db.engine.connect() as conn:
        return not any(conn.execute(select(exists().select_from(t))).scalar() for t in _tables())


def _seed():
    from app.extensions import db
    from app.services import audit, demo

    with audit.acting_as("test-seed"):
        demo.seed(PASSWORD)
    db.session.remove()  # the test starts with an empty session, as after a restore


def _copy():
    from app.extensions import db

    with db.engine.connect() as conn:
        return [(table, [dict(row) for row in conn.execute(table.select()).mappings()]) for table in _tables()]


def _restore(copy):
    """The copied rows back into the emptied tables; False when something is already there (a fixture
    wrote rows first), so the caller seeds as before."""
    from sqlalchemy.exc import IntegrityError

    from app.extensions import db

    engine = db.engine
    mysql = engine.dialect.name == "mysql"
    try:
        with engine.begin() as conn:
            if mysql:
                conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))  # as _empty_tables: the copy is consistent
            try:
                for table, rows in copy:
                    if rows:
                        conn.execute(table.insert(), rows)
            finally:
                if mysql:  # the pooled connection keeps the setting
                    conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    except IntegrityError:
        return False
    return True


def csrf_token(html):
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client, username, password=PASSWORD):
    """Sign in through the real login form; the session's CSRF token is kept on client.csrf."""
    page = client.get("/login/")
    client.csrf = csrf_token(page.get_data(as_text=True))
    return client.post("/login/", data={"username": username, "password": password,
                                         "csrf_token": client.csrf}, follow_redirects=True)


class KeyRotation:
    """A new Fernet key put in front of the current one (DATA_ENCRYPTION_KEYS), as an operator rotates:
    run(batch) runs `flask portal rotate-keys` and returns its output (exit 0 asserted); drop_old() leaves
    the new key alone, as once the old one is retired."""

    def __init__(self, app):
        from cryptography.fernet import Fernet

        from app.services import crypto

        self.app = app
        self.old = crypto.keys_from(app.config)[0][0].decode()
        self.new = Fernet.generate_key().decode()
        app.config["DATA_ENCRYPTION_KEYS"] = f"{self.new},{self.old}"
        self._session_reset()

    def _session_reset(self):
        from app.extensions import db

        db.session.remove()

    def run(self, batch):
        result = self.app.test_cli_runner().invoke(args=["portal", "rotate-keys", "--batch", str(batch)])
        assert result.exit_code == 0, result.output
        return result.output

    def drop_old(self):
        self.app.config["DATA_ENCRYPTION_KEYS"] = self.new
        self._session_reset()


@pytest.fixture
def key_rotation(app):
    saved = app.config.get("DATA_ENCRYPTION_KEYS")
    yield lambda: KeyRotation(app)
    app.config["DATA_ENCRYPTION_KEYS"] = saved


@pytest.fixture
def own_redis(servers, tmp_path):
    """A Redis of this test's own, to stop, freeze or restart (the MariaDB run has Redis; the SQLite one
    skips). Thawed before it is stopped, whatever the test left it in."""
    import contextlib
    import signal

    if not servers["redis_url"]:
        pytest.skip("needs MariaDB and Redis (the production shape)")
    server = harness.start_redis(str(tmp_path))
    yield server
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()
