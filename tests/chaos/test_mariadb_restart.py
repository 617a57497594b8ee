"""MariaDB restarted under gunicorn with two workers (issue 14): once it is back, the customer's link page, the
staff sign-in, the health endpoint and the intake API answer without an error: the pools replace the connections
the restart cut (app/dbpool.py pings one that sat idle longer than DB_PING_IDLE_SECONDS; a failed one is discarded
with its pool). With DB_PING_IDLE_SECONDS=0 (a ping on every checkout, as pool_pre_ping) no request fails at all;
at the default (10 s) each worker's first request after a quick restart answers 503 once (counted below).

Two restarts: one with no request while the database is down (the pooled connections were used a moment before,
so none is pinged: the first request after it finds them cut), one with requests while it is down (the API
answers JSON 503 with Retry-After, item 8; nothing hangs). The session's own MariaDB (tests/harness.py) is the
one restarted, with the same command line, data directory and port; it is stopped cleanly (SIGTERM)."""
import os
import signal
import subprocess
import time

import pytest
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models import RevisitLink
from tests import harness
from tests.chaos import shape
from tests.conftest import PASSWORD
from tests.services.test_intake import policy_row


def _session_mariadb(port):
    """The pid and command line of the MariaDB this test session started (a child of this process)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                args = [a.decode() for a in handle.read().split(b"\0") if a]
            with open(f"/proc/{pid}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if args and os.path.basename(args[0]) in ("mariadbd", "mysqld") and f"--port={port}" in args \
                and parent == os.getpid():
            return int(pid), args
    return None, None


class Restartable:
    """The session's MariaDB, stopped and started again as `systemctl restart mariadb` would."""

    started = []  # the processes started here, stopped at the end of the session (conftest)

    def __init__(self, url):
        self.port = make_url(url).port
        self.pid, self.args = _session_mariadb(self.port)
        self.process = None

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(60)
        else:
            os.kill(self.pid, signal.SIGTERM)
            harness._wait(lambda: not os.path.exists(f"/proc/{self.pid}") or _zombie(self.pid), "MariaDB's stop", 60)
        harness._wait(lambda: not harness._port_open(self.port), "the port's release", 30)

    def start(self):
        datadir = next(a.split("=", 1)[1] for a in self.args if a.startswith("--datadir="))
        log = open(os.path.join(os.path.dirname(datadir), "mariadb-restarted.log"), "a")
        self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        Restartable.started.append(self.process)
        harness._wait(lambda: self.process.poll() is not None or harness._port_open(self.port), "MariaDB", 60)
        assert self.process.poll() is None, "MariaDB did not start again"


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture
def database(servers):
    if os.environ.get("TEST_DATABASE_URL") or not servers["database_url"].startswith("mysql"):
        pytest.skip("restarts the MariaDB the tests started")
    server = Restartable(servers["database_url"])
    if server.pid is None:
        pytest.skip("the session's MariaDB was not found")
    yield server
    if not harness._port_open(server.port):  # a failed test left it down: the next tests need it
        server.start()
    # this process's pools held connections the restart cut (the session app's, its autocommit pool)
    from flask import current_app

    db.session.remove()
    db.engine.dispose()
    autocommit = current_app.extensions.get("portal_autocommit_engine")
    if autocommit is not None:
        autocommit.dispose()


@pytest.fixture(params=[10, 0], ids=["ping-idle-10s", "ping-every-checkout"])
def web(request, servers, database, seeded, tmp_path):
    """gunicorn with DB_PING_IDLE_SECONDS at 10 (only a connection idle that long is pinged) or at its default
    0 (every checkout pinged, pool_pre_ping's behaviour)."""
    from app.services import revisit

    revisit.issue_invitations()
    db.session.commit()
    env = shape.base_env(servers, tmp_path, REDIS_URL=servers["redis_url"] or "",
                         DB_PING_IDLE_SECONDS=request.param)
    server = shape.Web(env, str(tmp_path / "gunicorn.log"))
    server.ping_idle = request.param
    yield server
    server.stop()


def _round(web, code, token, number):
    """Every page and the API once from each of a few clients; {name: [statuses]}."""
    answers = {}
    for client in range(4):
        answers.setdefault("link", []).append(web.get(f"/s/{code}")[0])
        answers.setdefault("login", []).append(web.get("/login/")[0])
        answers.setdefault("health", []).append(web.get("/health")[0])
        status, reply = web.post_json("/api/v1/intake/policies",
                                      {"policies": [policy_row(f"99{number:03d}{client:010d}")]},
                                      headers=token)
        answers.setdefault("intake", []).append(status)
    return answers


def _token(web):
    status, reply = web.post_json("/api/v1/security/login", {"username": "integration", "password": PASSWORD,
                                                             "provider": "db", "refresh": False})
    assert status == 200, (status, getattr(reply, "text", reply))
    return {"Authorization": "Bearer " + reply.json()["access_token"]}


@pytest.mark.chaos
def test_pages_and_the_intake_api_answer_once_mariadb_is_back(web, database):
    code = db.session.query(RevisitLink.code).first().code
    token = _token(web)
    assert _round(web, code, token, 1) == {name: [200] * 4 for name in ("link", "login", "health", "intake")}
    db.session.remove()
    db.engine.dispose()

    # 1. restarted while nobody asked: the first requests after it meet the cut connections
    started = time.monotonic()
    database.stop()
    database.start()
    quiet_restart = round(time.monotonic() - started, 1)
    after_quiet = _round(web, code, token, 2)

    # 2. requests while it is down: answered at once, the API in JSON 503 with Retry-After
    database.stop()
    down, slowest = [], 0.0
    for path in ("/api/v1/intake/policies", "/health", "/api/v1/intake/policies", "/health"):
        began = time.monotonic()
        if path.startswith("/api/"):
            status, reply = web.post_json(path, {"policies": [policy_row("990009999999999")]}, headers=token)
            json_body = reply.headers.get("Content-Type", "").startswith("application/json") if status else False
            down.append((path, status, json_body, bool(status and reply.headers.get("Retry-After"))))
        else:
            status, reply = web.get(path)
            down.append((path, status))
        slowest = max(slowest, time.monotonic() - began)
    database.start()
    after_down = _round(web, code, token, 3)

    counts = {"DB_PING_IDLE_SECONDS": web.ping_idle, "quiet_restart_s": quiet_restart, "after_quiet_restart": after_quiet, "while_down": down,
              "slowest_while_down_s": round(slowest, 2), "after_restart": after_down}
    print("chaos counts:", counts)
    log = open(web.log_path).read()
    ok = {name: [200] * 4 for name in ("link", "login", "health", "intake")}
    if web.ping_idle == 0:
        assert after_quiet == ok, (counts, log[-4000:])
    else:
        # Why the default is 0: at 10, a connection used less than 10 s before the restart is not pinged, so
        # each gunicorn worker's first request after a quick restart fails, as the Chinese 503 (item 8), never
        # a 500; the failed connection takes its pool with it and the next request answers.
        failed = [status for statuses in after_quiet.values() for status in statuses if status != 200]
        assert len(failed) <= 2 and set(failed) <= {503}, (counts, log[-4000:])  # at most one per worker
        assert _round(web, code, token, 4) == ok, counts
    assert after_down == ok, (counts, log[-4000:])
    assert all(item[1] == 503 for item in down), counts
    assert all(item[2] and item[3] for item in down if item[0].startswith("/api/")), counts
    assert slowest < 10, counts
