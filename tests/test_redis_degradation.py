"""Redis trouble does not take the site down (issue 14, item 2): with the Redis of the rate limits and
the sessions stopped, frozen or never there, the staff login form and the customers' link pages answer
without a 500, the rate limits still limit (in this process's memory) and the account lock still counts."""
import contextlib
import os
import signal
import time

import pytest

from app.extensions import db
from tests import harness
from tests.conftest import PASSWORD, csrf_token, make_config


@contextlib.contextmanager
def other_app(session_app, servers, **overrides):
    """A second app on the test database with its own config. The rate limiter is one object for every
    app (app/extensions.py), so its state is put back for the session app afterwards."""
    from app import create_app
    from app.extensions import limiter

    saved = dict(vars(limiter))
    try:
        second = create_app(make_config(servers, **overrides))
        yield second
    finally:
        vars(limiter).clear()
        vars(limiter).update(saved)
        db.session.remove()


def closed_port_url():
    return f"redis://127.0.0.1:{harness.free_port()}/0"


def redis_config(url, **extra):
    return {"SESSION_REDIS_URL": url, "RATELIMIT_STORAGE_URI": url, **extra}


@pytest.fixture
def link_code(seeded):
    from app.models import RevisitLink
    from app.services import revisit

    revisit.issue_invitations()
    db.session.commit()
    return db.session.query(RevisitLink).first().code


def _login(client, username, password):
    page = client.get("/login/")
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/login/", data={"username": username, "password": password, "csrf_token": token})


def test_redis_stopped_login_form_and_link_pages_answer(app, servers, own_redis, link_code):
    with other_app(app, servers, **redis_config(own_redis.url, SHORT_LINK_PER_MINUTE="3 per minute")) as second:
        client = second.test_client()
        assert client.get("/login/").status_code == 200  # Redis up: as usual
        own_redis.stop()
        started = time.monotonic()
        login_page = client.get("/login/")
        assert login_page.status_code == 200, login_page.status_code
        assert 'name="username"' in login_page.get_data(as_text=True)
        # a sign-in cannot be kept without the session store: the Chinese 503, not a 500
        token = csrf_token(login_page.get_data(as_text=True))
        answer = client.post("/login/", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
        assert answer.status_code == 503 and answer.headers["Retry-After"]
        assert "服务暂时繁忙,请稍后再试" in answer.get_data(as_text=True)
        # the customer's link page answers; unknown codes (what the per-address limit counts against
        # guessing) are limited in memory: three misses, then 访问过于频繁
        assert client.get(f"/s/{link_code}").status_code == 200
        statuses = [client.get(f"/s/NOSUCHCODE{i:06d}").status_code for i in range(4)]
        assert statuses == [404, 404, 404, 429], statuses
        assert client.get(f"/s/{link_code}").status_code < 500
        assert time.monotonic() - started < 10  # nothing waited on the dead Redis for long


def test_redis_never_there_limits_count_in_memory(app, servers, link_code):
    url = closed_port_url()
    with other_app(app, servers, **redis_config(url, SHORT_LINK_PER_MINUTE="2 per minute")) as second:
        client = second.test_client()
        assert client.get(f"/s/{link_code}").status_code == 200
        statuses = [client.get(f"/s/NOSUCHCODE{i:06d}").status_code for i in range(3)]
        assert statuses == [404, 404, 429], statuses
        assert client.get("/login/").status_code == 200


def test_account_lock_counts_in_memory_when_the_limiter_storage_is_down(app, servers, seeded):
    # sessions in the test Redis (up), rate limits and account locks in a Redis that is not there
    config = {"RATELIMIT_STORAGE_URI": closed_port_url(), "ACCOUNT_LOCK_LIMIT": "3 per 15 minutes"}
    with other_app(app, servers, **config) as second:
        client = second.test_client()
        statuses = [_login(client, "admin", "wrong-password").status_code for _ in range(3)]
        assert all(status < 500 for status in statuses), statuses
        # locked now (counted in memory): even the right password is refused
        answer = _login(client, "admin", PASSWORD)
        assert answer.status_code < 500
        assert "/login/" in (answer.headers.get("Location") or "/login/")
        followed = client.get("/login/")
        assert "锁定" in followed.get_data(as_text=True)


def test_redis_frozen_pages_do_not_wait(app, servers, own_redis, link_code):
    with other_app(app, servers, **redis_config(own_redis.url)) as second:
        client = second.test_client()
        assert client.get("/login/").status_code == 200
        os.kill(own_redis.process.pid, signal.SIGSTOP)
        try:
            timings = []
            for path in ("/login/", f"/s/{link_code}", "/login/", f"/s/{link_code}"):
                started = time.monotonic()
                status = client.get(path).status_code
                timings.append(time.monotonic() - started)
                assert status < 500, (path, status)
            # the first request notices (socket timeouts of 0.5 s), the next ones do not wait at all
            assert timings[0] < 3 and max(timings[1:]) < 1.5, timings
        finally:
            os.kill(own_redis.process.pid, signal.SIGCONT)
