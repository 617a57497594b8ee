"""The production shape's processes for the chaos cases: a Celery worker that can be killed with SIGKILL,
gunicorn with two workers, and plain HTTP against it with a deadline (urllib, no redirects followed)."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SECRET = "test-secret-key-that-is-long-enough-0123456789"


def base_env(servers, tmp_path, **extra):
    """The environment of a portal process on the test database (development: no production checks)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_", "RATELIMIT_", "SESSION_"))}
    env.update(DATABASE_URL=servers["database_url"], PORTAL_ENV="development", SECRET_KEY=SECRET,
               PORTAL_INSTANCE_DIR=str(tmp_path / "instance"), UPLOAD_DIR=str(tmp_path / "uploads"),
               PYTHONPATH=ROOT, FAB_PASSWORD_HASH_METHOD="pbkdf2:sha256:1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Worker:
    """`celery -A app.celery_worker worker` (prefork, 2 processes, as deploy/portal-worker.service runs it) in a
    process group of its own, so `kill_9()` takes the pool's children with it, as the kernel's OOM killer or a
    power cut would."""

    def __init__(self, env, log_path):
        self.env, self.log_path, self.process, self.starts = env, log_path, None, 0

    def start(self):
        self.starts += 1
        self.process = subprocess.Popen(
            [os.path.join(BIN, "celery"), "-A", "app.celery_worker", "worker", "-P", "prefork", "-c", "2",
             "-I", "tests.chaos.tasks", "--without-mingle", "--without-gossip", "-n", f"chaos{self.starts}@%h",
             "--loglevel=WARNING"],
            cwd=ROOT, env=self.env, stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT,
            start_new_session=True)
        return self

    def kill_9(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


class Web:
    """gunicorn with two workers ('app:create_app()', as deploy/portal-web.service) on a loopback port."""

    def __init__(self, env, log_path, workers=2):
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [os.path.join(BIN, "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
             "--timeout", "60", "app:create_app()"],
            cwd=ROOT, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
        self.log_path = log_path
        harness._wait(lambda: self.process.poll() is not None or harness._port_open(self.port), "gunicorn", 90)
        if self.process.poll() is not None:
            raise RuntimeError("gunicorn exited: " + open(log_path).read()[-3000:])
        # every worker loads the app on its first request: ask until a few in a row answer quickly
        deadline, quick = time.monotonic() + 120, 0
        while quick < 4 and time.monotonic() < deadline:
            started = time.monotonic()
            status, _ = self.get("/login/", timeout=60)
            quick = quick + 1 if status == 200 and time.monotonic() - started < 1 else 0

    def get(self, path, timeout=10, headers=None):
        return request(self.url + path, timeout=timeout, headers=headers)

    def post_json(self, path, body, timeout=10, headers=None):
        return request(self.url + path, json.dumps(body).encode(), timeout=timeout,
                       headers={"Content-Type": "application/json", **(headers or {})})

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def request(url, data=None, timeout=10, headers=None):
    """(status, response) of one HTTP request: a redirect is an answer, not followed; (None, error) when no
    answer came within `timeout`."""
    try:
        with _opener.open(urllib.request.Request(url, data=data, headers=headers or {}), timeout=timeout) as reply:
            return reply.status, _Answer(reply.status, reply.headers, reply.read())
    except urllib.error.HTTPError as error:
        return error.code, _Answer(error.code, error.headers, error.read())
    except (urllib.error.URLError, OSError) as error:
        return None, error


class _Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")
