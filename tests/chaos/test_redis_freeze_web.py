"""Redis frozen (SIGSTOP, then SIGCONT) under gunicorn with two workers (issue 14): while it is frozen, the
customer's link page (/s/<code>), the account pages (/my/) and the staff sign-in answer, none with a 500 and
none held long, from several clients at once; once Redis answers again, so do they."""
import os
import signal
import threading
import time

import pytest

from app.extensions import db
from app.models import RevisitLink
from tests.chaos import shape

FROZEN_SECONDS = 6
CLIENTS = 4
DEADLINE = 5.0  # seconds a request may take while Redis is frozen (it held a worker 5 s and then 500 before)


@pytest.fixture
def web(servers, own_redis, seeded, tmp_path):
    from app.services import revisit

    revisit.issue_invitations()
    db.session.commit()
    env = shape.base_env(servers, tmp_path, REDIS_URL=own_redis.url)  # sessions, rate limits, broker
    server = shape.Web(env, str(tmp_path / "gunicorn.log"))
    yield server
    server.stop()


def _hammer(web, paths, until, results):
    while time.monotonic() < until:
        for path in paths:
            started = time.monotonic()
            status, _ = web.get(path, timeout=DEADLINE + 5)
            results.append((path, status, time.monotonic() - started))


@pytest.mark.chaos
def test_redis_frozen_customer_pages_and_sign_in_answer(web, own_redis, tmp_path):
    code = db.session.query(RevisitLink.code).first().code
    paths = [f"/s/{code}", "/my/", "/login/"]
    before = {path: web.get(path)[0] for path in paths}
    assert all(status is not None and status < 400 for status in before.values()), before

    os.kill(own_redis.process.pid, signal.SIGSTOP)
    frozen_at = time.monotonic()
    results = []
    try:
        threads = [threading.Thread(target=_hammer, args=(web, paths, frozen_at + FROZEN_SECONDS, results))
                   for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE * 4 + FROZEN_SECONDS)
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)
    after = {path: web.get(path)[0] for path in paths}

    statuses = {}
    for path, status, _ in results:
        statuses.setdefault(path, {}).setdefault(status, 0)
        statuses[path][status] += 1
    slowest = max(seconds for _, _, seconds in results)
    counts = {"frozen_seconds": FROZEN_SECONDS, "clients": CLIENTS, "requests": len(results),
              "statuses": statuses, "slowest_s": round(slowest, 2),
              "over_1s": sum(1 for *_, s in results if s > 1), "after": after}
    print("chaos counts:", counts)
    log = open(web.log_path).read()
    assert len(results) >= CLIENTS * len(paths), counts
    assert all(status is not None and status < 500 for _, status, _ in results), (counts, log[-3000:])
    assert slowest < DEADLINE, counts
    assert after == before, counts
