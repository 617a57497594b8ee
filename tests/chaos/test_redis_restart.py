"""Redis terminated and restarted while a real Celery worker (a separate `celery worker` process, under a
restart loop like systemd's Restart=always) works through a batch of SMS sends with late acknowledgement:
the worker resumes, no task is lost, and every message is sent exactly once (issue 14, item 1).

Redis runs with its append-only file, as production's should (README, "Running in production"): what was
queued survives the restart; what a worker had taken but not acknowledged comes back from Redis's
`unacked` hash after CELERY_VISIBILITY_TIMEOUT (5 s here)."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from celery import Celery
from sqlalchemy import func

from app.extensions import HEARTBEAT_KEY, db
from app.models.sms import SmsMessage
from app.services import sms
from tests import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVITE = {"name": "张德强", "title": "先生", "product": "爱心人寿心享未来年金保险", "link": "http://x/s/abc"}


class PersistentRedis:
    """redis-server with appendonly on a fixed port, so it can be terminated and started again."""

    def __init__(self, base_dir):
        self.dir, self.port = base_dir, harness.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.log = open(os.path.join(base_dir, "redis.log"), "a")

    def start(self):
        self.process = subprocess.Popen(
            [harness._binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir],
            stdout=self.log, stderr=subprocess.STDOUT)
        harness._wait(lambda: harness._port_open(self.port), "Redis", 30)

    def terminate(self):
        self.process.terminate()
        self.process.wait(20)


class SupervisedWorker:
    """`celery -A app.celery_worker worker` restarted whenever it exits, as systemd's Restart=always
    (RestartSec=1) does; counts the restarts and keeps the log."""

    def __init__(self, env, log_path):
        self.env, self.log_path = env, log_path
        self.starts, self.exit_codes = 0, []
        self.process = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        with open(self.log_path, "a") as log:
            while not self._stop.is_set():
                self.starts += 1
                self.process = subprocess.Popen(
                    [os.path.join(os.path.dirname(sys.executable), "celery"), "-A", "app.celery_worker", "worker",
                     "-P", "prefork", "-c", "2", "-I", "tests.chaos.tasks", "--without-mingle", "--without-gossip",
                     "-n", f"chaos{self.starts}@%h", "--loglevel=WARNING"],
                    cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
                code = self.process.wait()
                if self._stop.is_set():
                    break
                self.exit_codes.append(code)
                time.sleep(1)  # RestartSec

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._thread.join(30)


@pytest.fixture
def redis_server(tmp_path):
    server = PersistentRedis(str(tmp_path))
    server.start()
    yield server
    if server.process.poll() is None:
        server.terminate()


def _worker_env(servers, redis_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_", "RATELIMIT_"))}
    env.update(DATABASE_URL=servers["database_url"], CELERY_BROKER_URL=redis_url, SMS_BACKEND="outbox",
               CELERY_VISIBILITY_TIMEOUT="5", WORKER_HEARTBEAT_SECONDS="1", PORTAL_ENV="development",
               SECRET_KEY="test-secret-key-that-is-long-enough-0123456789", RATELIMIT_STORAGE_URI="memory://",
               PORTAL_INSTANCE_DIR=str(tmp_path / "instance"), PYTHONPATH=ROOT)
    return env


def _sent():
    db.session.commit()
    return db.session.query(func.count(SmsMessage.id)).filter(SmsMessage.status == "SENT").scalar()


def _wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def run_batch(servers, redis_server, tmp_path, count, restarts):
    """Queue `count` sends, terminate and restart Redis `restarts` times while the worker works through
    them; return what was counted."""
    if not servers["redis_url"]:
        pytest.skip("needs MariaDB and Redis")
    ids = [sms.queue("EREVISIT_INVITE", f"1390000{i:04d}", INVITE).id for i in range(count)]
    db.session.commit()
    sender = Celery("chaos-sender", broker=redis_server.url)
    sender.conf.update(broker_connection_retry_on_startup=True, task_ignore_result=True)
    for message_id in ids:
        sender.send_task("chaos.slow_send", args=[message_id])
    worker = SupervisedWorker(_worker_env(servers, redis_server.url, tmp_path), str(tmp_path / "worker.log"))
    worker.start()
    try:
        for round_ in range(restarts):
            # a few more sends done, a task in flight: Redis goes away for two seconds
            target = (round_ + 1) * count // (restarts + 2)
            assert _wait(lambda: _sent() >= target, 90), f"stuck at {_sent()} of {count} before restart {round_}"
            redis_server.terminate()
            time.sleep(2)
            redis_server.start()
        completed = _wait(lambda: _sent() == count, 120)
        sent = _sent()
        heartbeat = _wait(lambda: _heartbeat_fresh(redis_server.url), 20)
    finally:
        worker.stop()
        sender.close()
    log = open(tmp_path / "worker.log").read()
    db.session.commit()
    attempts = [a for (a,) in db.session.query(SmsMessage.send_attempts).filter(SmsMessage.id.in_(ids))]
    counts = {"messages": count, "sent": sent, "send_attempts": sum(attempts), "most_attempts": max(attempts),
              "redis_restarts": restarts,
              "worker_starts": worker.starts, "worker_exit_codes": worker.exit_codes,
              "hostname_crash_logged": "has no attribute 'hostname'" in log}
    print("chaos counts:", counts)
    assert completed, (counts, log[-3000:])
    return counts, heartbeat, log


def _heartbeat_fresh(url):
    import redis

    try:
        beats = [float(v) for v in redis.Redis.from_url(url, socket_timeout=1).hvals(HEARTBEAT_KEY)]
    except Exception:  # noqa: BLE001
        return False
    return bool(beats) and time.time() - max(beats) < 5


def test_worker_resumes_after_a_redis_restart(seeded, servers, redis_server, tmp_path):
    """The quick case (`make test` runs it): 12 sends, one Redis restart."""
    counts, heartbeat, log = run_batch(servers, redis_server, tmp_path, count=12, restarts=1)
    assert counts["sent"] == 12 and counts["send_attempts"] == 12  # each sent once
    assert not counts["hostname_crash_logged"], log[-3000:]
    assert heartbeat, "the worker's heartbeat did not resume"


@pytest.mark.chaos
def test_worker_resumes_after_repeated_redis_restarts(seeded, servers, redis_server, tmp_path):
    counts, heartbeat, log = run_batch(servers, redis_server, tmp_path, count=60, restarts=4)
    assert counts["sent"] == 60 and counts["send_attempts"] == 60
    assert not counts["hostname_crash_logged"], log[-3000:]
    assert heartbeat
