"""A second app on the test MariaDB whose Celery goes through the test Redis to a real worker
thread: tasks run in the background as in production. The session app stays eager."""
import contextlib
import time

import pytest
from celery.contrib.testing.worker import start_worker

from tests.conftest import make_config

WORKER_CELERY = {
    "task_always_eager": False, "task_ignore_result": True, "task_acks_late": True,
    "worker_prefetch_multiplier": 1, "timezone": "Asia/Shanghai",
    "broker_connection_retry_on_startup": False, "broker_connection_timeout": 5,  # fail, never hang
}


@contextlib.contextmanager
def worker_app(session_app, servers, **config):
    """Yields the second app, with a solo worker consuming its queue from the test Redis."""
    if not servers["redis_url"]:
        pytest.skip("needs the test Redis")
    from app import create_app

    celery_config = dict(WORKER_CELERY, broker_url=servers["redis_url"], result_backend=servers["redis_url"])
    second = create_app(make_config(servers, CELERY=celery_config, **config))
    celery = second.extensions["celery"]
    celery.set_default()
    celery.set_current()  # shared tasks' .delay() now goes to Redis
    celery.connection_for_write().default_channel.client.flushdb()  # nothing left from other runs
    try:
        with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10,
                          loglevel="WARNING"):
            yield second
    finally:
        session_celery = session_app.extensions["celery"]  # the other tests run eagerly
        session_celery.set_default()
        session_celery.set_current()


def aliyun_config(fake, **extra):
    """Config of an app whose SMS go through the real Alibaba SDK to the fake dysms server."""
    return {"SMS_BACKEND": "aliyun", "ALIYUN_ACCESS_KEY_ID": "test-ak", "ALIYUN_ACCESS_KEY_SECRET": "test-secret",
            "ALIYUN_SMS_ENDPOINT": fake.endpoint, "ALIYUN_SMS_PROTOCOL": "HTTP", **extra}


def make_current(flask_app):
    """Make this app's Celery the one shared tasks' .delay() goes to (conftest resets it per test)."""
    celery = flask_app.extensions["celery"]
    celery.set_default()
    celery.set_current()


def wait_for(predicate, timeout=30.0, poll=0.1):
    """Poll until predicate() holds; each look starts a new transaction to see the worker's commits."""
    from app.extensions import db

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.commit()
        if predicate():
            return True
        time.sleep(poll)
    return False
