"""Health endpoints for the load balancer and the supervisor (issue 14, item 1): 200 with everything up,
503 with the database or Redis down or a worker/beat that stopped beating; JSON without internals."""
import json
import time

import pytest

from app.extensions import BEAT_TICK_KEY, HEARTBEAT_KEY, HeartbeatScheduler
from tests import workers
from tests.test_redis_degradation import closed_port_url, other_app

SECRET_WORDS = ("redis://", "mysql", "127.0.0.1", "password", "Traceback", "portal:portal")


def _eager(broker_url):
    return {"CELERY": {"broker_url": broker_url, "task_always_eager": True, "task_ignore_result": True,
                       "timezone": "Asia/Shanghai"}}


def _get(client, path):
    answer = client.get(path)
    text = answer.get_data(as_text=True)
    assert not any(word in text for word in SECRET_WORDS), text
    return answer.status_code, json.loads(text), answer


@pytest.fixture
def redis_url(servers):
    if not servers["redis_url"]:
        pytest.skip("needs Redis")
    return servers["redis_url"]


def test_web_health_follows_the_database(app, servers, redis_url):
    with other_app(app, servers, **_eager(redis_url)) as second:
        status, body, answer = _get(second.test_client(), "/health")
        assert status == 200 and body == {"status": "ok", "database": "ok", "redis": "ok"}
        assert _get(second.test_client(), "/healthz")[0] == 200
    dead_db = "mysql+pymysql://portal:portal@127.0.0.1:1/portal_test?connect_timeout=1"
    with other_app(app, servers, SQLALCHEMY_DATABASE_URI=dead_db, **_eager(closed_port_url())) as second:
        status, body, answer = _get(second.test_client(), "/health")
        assert status == 503 and body["database"] == "unavailable" and body["redis"] == "unavailable"
        assert answer.headers["Retry-After"]


def test_worker_health_reads_the_heartbeat_of_a_real_worker(app, servers, redis_url):
    with workers.worker_app(app, servers, WORKER_HEARTBEAT_SECONDS=1) as second:
        client = second.test_client()
        redis = second.extensions["celery"].connection_for_write().default_channel.client
        deadline = time.monotonic() + 15
        while not redis.hlen(HEARTBEAT_KEY) and time.monotonic() < deadline:
            time.sleep(0.2)
        status, body, _ = _get(client, "/health/worker")
        assert status == 200 and body["worker"] == "ok" and body["workers"] == 1, body
        assert body["heartbeat_age"] < 5
    # the worker stopped: its heartbeat grows old
    redis.hset(HEARTBEAT_KEY, mapping={k: time.time() - 1000 for k in redis.hkeys(HEARTBEAT_KEY)})
    with other_app(app, servers, **_eager(redis_url)) as second:
        status, body, answer = _get(second.test_client(), "/health/worker")
        assert status == 503 and body["worker"] == "stale" and body["workers"] == 0
        assert answer.headers["Retry-After"]
        redis.delete(HEARTBEAT_KEY)
        status, body, _ = _get(second.test_client(), "/health/worker")
        assert status == 503 and body["worker"] == "never"


def test_beat_health_reads_the_last_tick(app, servers, redis_url, tmp_path):
    with other_app(app, servers, **_eager(redis_url)) as second:
        celery = second.extensions["celery"]
        redis = celery.connection_for_write().default_channel.client
        redis.delete(BEAT_TICK_KEY)
        client = second.test_client()
        assert _get(client, "/health/beat")[:2] == (503, {"status": "unavailable", "beat": "never"})
        scheduler = HeartbeatScheduler(app=celery, schedule_filename=str(tmp_path / "beat-schedule"), lazy=False)
        try:
            scheduler.tick()
        finally:
            scheduler.close()
        status, body, _ = _get(client, "/health/beat")
        assert status == 200 and body["beat"] == "ok" and body["tick_age"] < 5
        redis.set(BEAT_TICK_KEY, time.time() - 1000)
        status, body, _ = _get(client, "/health/beat")
        assert status == 503 and body["beat"] == "stale"


def test_worker_and_beat_health_with_redis_down(app, servers):
    with other_app(app, servers, **_eager(closed_port_url())) as second:
        client = second.test_client()
        for path, key in (("/health/worker", "worker"), ("/health/beat", "beat")):
            status, body, answer = _get(client, path)
            assert status == 503 and body == {"status": "unavailable", key: "redis_unavailable"}
            assert answer.headers["Retry-After"]


def test_embedded_default_has_no_separate_worker_or_beat(app, servers):
    with other_app(app, servers, **_eager("memory://localhost//")) as second:
        client = second.test_client()
        assert _get(client, "/health/worker")[:2] == (200, {"status": "ok", "worker": "embedded"})
        assert _get(client, "/health/beat")[:2] == (200, {"status": "ok", "beat": "embedded"})
        status, body, _ = _get(client, "/health")
        assert status == 200 and body == {"status": "ok", "database": "ok"}
