"""The systemd units in deploy/ tried for real (issue 14, item 1).

1. `systemd-analyze verify` on each unit, copied with its paths rewritten to this checkout: /srv/portal/app to the
   checkout, its .venv/bin to the venv running the tests, /etc/portal/portal.env to an env file made from
   deploy/portal.env.example, /srv/portal/* to a temporary folder. The rewrite is textual and knows nothing else
   of the unit, so a misspelt or misplaced directive or an executable that is not there still fails.
2. The units' processes started the way systemd starts them (there is no systemd as PID 1 in the container): a
   clean environment plus Environment= and EnvironmentFile=, WorkingDirectory=, ExecStart= as argv (its quoting
   and $VAR expansion), on the test MariaDB and a Redis of its own, in `production` with every value the example
   marks CHANGE-ME filled in. /health, /health/worker and /health/beat answer 200; then the worker's main
   process is killed with SIGKILL and Restart=always (RestartSec=, the rest of the control group killed first)
   brings it back: /health/worker goes stale and recovers.

Not emulated: User=/Group= (the tests run as whoever runs them), the sandboxing and resource directives.
"""
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import threading
import time

import pytest

from tests import harness
from tests.chaos import shape

ROOT = shape.ROOT
BIN = shape.BIN  # the venv running the tests: what /srv/portal/app/.venv/bin is in production
DEPLOY = os.path.join(ROOT, "deploy")
UNITS = ("portal-web.service", "portal-worker.service", "portal-beat.service")
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"  # what systemd gives a service
HEARTBEAT_SECONDS, HEARTBEAT_MAX_AGE = 1, 4  # so that a dead worker shows within seconds


# --- the units, as text ---------------------------------------------------------------------------------------

def installed(tmp):
    """(prefix in the units, where it is here): the longest first."""
    return [("/srv/portal/app/.venv/bin", BIN), ("/srv/portal/app", ROOT),
            ("/etc/portal/portal.env", os.path.join(tmp, "portal.env")), ("/srv/portal", tmp)]


def rewrite(text, tmp):
    mapping = installed(tmp)
    pattern = re.compile("|".join(re.escape(prefix) for prefix, _ in mapping))
    return pattern.sub(lambda match: dict(mapping)[match.group(0)], text)


def install_units(tmp):
    """The units copied to tmp/units with their paths rewritten; the folders production would have made."""
    units = os.path.join(tmp, "units")
    for folder in (units, os.path.join(tmp, "uploads"), os.path.join(tmp, "instance")):
        os.makedirs(folder, exist_ok=True)
    for name in UNITS:
        with open(os.path.join(DEPLOY, name), encoding="utf-8") as source:
            text = rewrite(source.read(), tmp)
        with open(os.path.join(units, name), "w", encoding="utf-8") as target:
            target.write(text)
    return units


def read_unit(path):
    """{section: [(key, value), ...]} as systemd reads a unit file: comments (# ;), backslash continuations."""
    sections, current, pending = {}, None, ""
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.rstrip("\n")
            if not pending and line.lstrip().startswith(("#", ";")):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line, pending = (pending + line).strip(), ""
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], [])
            else:
                key, _, value = line.partition("=")
                current.append((key.strip(), value.strip()))
    return sections


def directive(unit, section, key, default=None):
    values = [value for k, value in unit.get(section, []) if k == key]
    return values[-1] if values else default


def read_env_file(path):
    """EnvironmentFile= as systemd reads it: KEY=VALUE lines, # and ; comments, quotes around a value."""
    env = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            env[key.strip()] = value
    return env


def seconds(value):
    """RestartSec= and the other time spans: 3, 3s, 500ms, 1min."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m)?", value.strip())
    assert match, f"time span not understood: {value!r}"
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60}[unit]


# --- 1. systemd-analyze verify --------------------------------------------------------------------------------

def _systemd_analyze():
    path = shutil.which("systemd-analyze")
    if not path:
        pytest.skip("systemd-analyze is not installed (Debian package systemd; `make system-deps` installs it)")
    return path


@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_verify_finds_nothing_wrong(name, tmp_path):
    analyze = _systemd_analyze()
    units = install_units(str(tmp_path))
    with open(os.path.join(DEPLOY, "portal.env.example"), encoding="utf-8") as example:
        (tmp_path / "portal.env").write_text(example.read(), encoding="utf-8")
    path = os.path.join(units, name)
    result = subprocess.run([analyze, "verify", "--man=no", path], capture_output=True, text=True, timeout=60)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    # messages about other units (a system target missing in a container, say) are not ours to fix
    ours = [line for line in lines if path in line or line.startswith(name) or str(tmp_path) in line]
    print(f"systemd-analyze verify {name}: exit {result.returncode}", *lines, sep="\n  ")
    assert ours == [], ours
    assert result.returncode == 0 or len(ours) < len(lines), lines


def test_the_start_limits_are_in_the_unit_section():
    """StartLimitIntervalSec= and StartLimitBurst= are [Unit] settings: under [Service] systemd ignores the
    first (with a warning only) and the limit falls back to 5 starts in 10 s."""
    for name in UNITS:
        unit = read_unit(os.path.join(DEPLOY, name))
        assert directive(unit, "Unit", "StartLimitIntervalSec") and directive(unit, "Unit", "StartLimitBurst"), name
        assert not directive(unit, "Service", "StartLimitIntervalSec"), name
        assert not directive(unit, "Service", "StartLimitBurst"), name


# --- 2. the processes, as systemd would run them ----------------------------------------------------------------

def fill_env_file(tmp, servers, redis_url):
    """deploy/portal.env.example with the test's servers and folders, every CHANGE-ME filled in; plus the
    heartbeat settings that make a dead worker show within seconds. Returns the env file's path."""
    import base64

    from cryptography.fernet import Fernet

    generated = {"SECRET_KEY": secrets.token_urlsafe(48), "DATA_HASH_KEY": secrets.token_urlsafe(48),
                 "DATA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                 "EVIDENCE_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode()}
    ours = {"DATABASE_URL": servers["database_url"], "CELERY_BROKER_URL": redis_url,
            "PUBLIC_BASE_URL": "http://127.0.0.1"}
    lines, seen = [], set()
    with open(os.path.join(DEPLOY, "portal.env.example"), encoding="utf-8") as example:
        for line in example:
            line = rewrite(line.rstrip("\n"), tmp)  # UPLOAD_DIR, PORTAL_INSTANCE_DIR under /srv/portal
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith(("#", ";")):
                seen.add(key)
                if key in ours:
                    value = ours[key]
                elif "CHANGE-ME" in value:
                    value = generated.get(key) or secrets.token_urlsafe(24)
                line = f"{key}={value}"
            lines.append(line)
    assert {"PORTAL_ENV", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"} <= seen, seen
    lines += [f"WORKER_HEARTBEAT_SECONDS={HEARTBEAT_SECONDS}", f"WORKER_HEARTBEAT_MAX_AGE={HEARTBEAT_MAX_AGE}"]
    path = os.path.join(tmp, "portal.env")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    assert not [value for value in read_env_file(path).values() if "CHANGE-ME" in value]
    return path


def expand(words, env):
    """ExecStart='s variables: ${NAME} inside a word, $NAME as a word of its own (split at whitespace)."""
    argv = []
    for word in words:
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:
            argv += env.get(whole.group(1), "").split()
        else:
            argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word))
    return argv


class Service:
    """One unit's main process started as systemd starts it (its process group standing for its control group),
    stopped as systemd stops it (KillMode=control-group, the default: KillSignal to every process; mixed:
    to the main process only; then SIGKILL to what is left after TimeoutStopSec), and Restart=always: when the
    main process exits, what is left of the group is killed and after RestartSec it is started again."""

    def __init__(self, unit_path, log_path, argv_edit=None):
        self.name = os.path.basename(unit_path)
        unit = read_unit(unit_path)
        self.restart = directive(unit, "Service", "Restart", "no")
        self.restart_sec = seconds(directive(unit, "Service", "RestartSec", "100ms"))
        self.kill_signal = getattr(signal, directive(unit, "Service", "KillSignal", "SIGTERM"))
        self.kill_mode = directive(unit, "Service", "KillMode", "control-group")
        assert self.kill_mode in ("control-group", "mixed"), f"{self.name}: KillMode={self.kill_mode} not emulated"
        self.stop_timeout = seconds(directive(unit, "Service", "TimeoutStopSec", "90"))
        self.cwd = directive(unit, "Service", "WorkingDirectory")
        assert self.cwd and os.path.isdir(self.cwd), f"{self.name}: WorkingDirectory={self.cwd}"
        env = {"PATH": SYSTEMD_PATH, "HOME": os.path.dirname(log_path), "USER": "portal",  # home: /srv/portal
               "LOGNAME": "portal", "SHELL": "/usr/sbin/nologin"}
        for key, value in unit["Service"]:
            if key == "Environment":
                env.update(word.partition("=")[::2] for word in shlex.split(value))
            elif key == "EnvironmentFile":
                optional = value.startswith("-")
                path = value.lstrip("-")
                assert optional or os.path.isfile(path), f"{self.name}: EnvironmentFile={path} is missing"
                if os.path.isfile(path):
                    env.update(read_env_file(path))
        self.env = env
        starts = [value for key, value in unit["Service"] if key == "ExecStart"]
        assert len(starts) == 1, f"{self.name}: one ExecStart= for Type=simple"
        words = shlex.split(starts[0])
        words[0] = words[0].lstrip("-@:+!")
        assert "%" not in " ".join(words), f"{self.name}: specifiers are not emulated here"
        self.argv = expand(words, env)
        if argv_edit:
            self.argv = argv_edit(self.argv)
        assert os.path.isabs(self.argv[0]) and os.access(self.argv[0], os.X_OK), self.argv[0]
        self.log_path, self.process, self.starts, self.stopping = log_path, None, 0, False
        self._supervisor = None

    def start(self):
        self.starts += 1
        with open(self.log_path, "a") as log:
            log.write(f"--- start {self.starts}: {shlex.join(self.argv)}\n")
        self.process = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        if self._supervisor is None and self.restart == "always":
            self._supervisor = threading.Thread(target=self._supervise, daemon=True)
            self._supervisor.start()
        return self

    def _supervise(self):
        while not self.stopping:
            process = self.process
            process.wait()
            if self.stopping:
                return
            self._kill(process.pid, main_gone=True)
            time.sleep(self.restart_sec)
            if not self.stopping:
                self.start()

    def _kill(self, pgid, main_gone=False, grace=10):
        try:
            if self.kill_mode == "control-group":
                os.killpg(pgid, self.kill_signal)
            elif not main_gone:
                os.kill(pgid, self.kill_signal)  # mixed: the main process only (its pid is its group's id)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + (0 if main_gone and self.kill_mode == "mixed" else grace)
        while time.monotonic() < deadline:
            self.process.poll()  # the main process reaped, not counted as a zombie
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill_main_9(self):
        process = self.process
        os.kill(process.pid, signal.SIGKILL)
        return process

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def log(self, tail=4000):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-tail:]

    def stop(self):
        """`systemctl stop`: KillSignal as KillMode says, SIGKILL to the group after TimeoutStopSec (at most
        60 s here); returns the main process's exit status."""
        self.stopping = True
        if self.process is None:
            return None
        self._kill(self.process.pid, grace=min(self.stop_timeout, 60))
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            return None


def _health(url, path):
    status, answer = shape.request(url + path, timeout=5)
    return status, (answer.json() if status is not None else None)


def _until(check, timeout, what, services):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(what + "\n" + "\n".join(f"=== {s.name}\n{s.log()}" for s in services))


@pytest.fixture
def services(app, servers, own_redis, tmp_path):
    tmp = str(tmp_path)
    units = install_units(tmp)
    fill_env_file(tmp, servers, own_redis.url)
    port = harness.free_port()

    def loopback(argv):  # the unit binds 0.0.0.0:8000; here a free port on loopback
        at = next(i for i, word in enumerate(argv) if word in ("--bind", "-b"))
        return argv[:at + 1] + [f"127.0.0.1:{port}"] + argv[at + 2:]

    started = {
        "web": Service(os.path.join(units, "portal-web.service"), os.path.join(tmp, "web.log"), loopback),
        "worker": Service(os.path.join(units, "portal-worker.service"), os.path.join(tmp, "worker.log")),
        "beat": Service(os.path.join(units, "portal-beat.service"), os.path.join(tmp, "beat.log")),
    }
    started["url"] = f"http://127.0.0.1:{port}"
    try:
        for name in ("worker", "beat", "web"):
            started[name].start()
        yield started
    finally:
        for name in ("web", "beat", "worker"):
            started[name].stop()


def test_the_units_run_restart_the_worker_after_kill_9_and_stop_it_warm(services, servers, own_redis):
    web, worker, beat, url = services["web"], services["worker"], services["beat"], services["url"]
    everyone = [web, worker, beat]
    started = time.monotonic()

    # the web process: reaches the database (production: the env file's keys and secrets were accepted)
    _until(lambda: _health(url, "/health")[0] == 200 or web.starts > 1 or not web.alive(), 120,
           "gunicorn did not answer", everyone)
    status, body = _health(url, "/health")
    assert (status, body) == (200, {"status": "ok", "database": "ok", "redis": "ok"}), (body, web.log())
    # the worker's heartbeat and beat's last tick, through Redis
    _until(lambda: _health(url, "/health/worker")[0] == 200, 90, "no worker heartbeat", everyone)
    _until(lambda: _health(url, "/health/beat")[0] == 200, 90, "no beat tick", everyone)
    status, body = _health(url, "/health/worker")
    assert body["worker"] == "ok" and body["workers"] == 1, body
    assert _health(url, "/health/beat")[1]["beat"] == "ok"
    ready = time.monotonic() - started

    # kill -9 of the worker's main process: the heartbeat goes stale, Restart=always brings it back
    assert worker.restart == "always" and worker.restart_sec > 0
    killed = worker.kill_main_9()
    killed_at = time.monotonic()
    _until(lambda: _health(url, "/health/worker")[0] == 503, HEARTBEAT_MAX_AGE + 10,
           "/health/worker still 200 after the worker was killed", everyone)
    stale = _health(url, "/health/worker")[1]
    assert stale["worker"] == "stale", stale
    _until(lambda: worker.starts == 2, worker.restart_sec + 15, "the worker was not started again", everyone)
    assert killed.returncode == -signal.SIGKILL
    _until(lambda: _health(url, "/health/worker")[0] == 200, 90, "/health/worker did not recover", everyone)
    recovered = _health(url, "/health/worker")[1]
    assert recovered["worker"] == "ok" and recovered["workers"] == 1, recovered
    back = time.monotonic() - killed_at
    # nothing of the killed worker's pool is left running (systemd kills its control group)
    with pytest.raises(ProcessLookupError):
        os.killpg(killed.pid, 0)
    assert web.alive() and beat.alive() and web.starts == beat.starts == 1
    assert _health(url, "/health")[0] == 200 and _health(url, "/health/beat")[0] == 200

    # `systemctl stop portal-worker` while a task is in flight: a warm shutdown, the task finishes. The beat
    # job sms.dispatch_due is held on a table lock, so it is still running when the stop comes.
    from celery import Celery
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(servers["database_url"], poolclass=NullPool)
    sender = Celery("deploy-sender", broker=own_redis.url, set_as_current=False)
    with engine.connect() as locker:
        locker.exec_driver_sql("LOCK TABLES sms_message WRITE")
        task_id = sender.send_task("sms.dispatch_due").id
        _until(lambda: f"sms.dispatch_due[{task_id}] received" in worker.log(20000), 30,
               "the worker did not take the task", everyone)
        time.sleep(0.5)  # it waits for the lock now
        stopping = time.monotonic()
        stopped = {}
        stopper = threading.Thread(target=lambda: stopped.update(code=worker.stop()))
        stopper.start()
        time.sleep(1.5)  # the TERM is in: the worker is shutting down, the task still waits
        locker.exec_driver_sql("UNLOCK TABLES")
    stopper.join(90)
    sender.close()
    engine.dispose()
    log = worker.log(50000)
    assert stopped.get("code") == 0, (stopped, log[-4000:])
    assert f"sms.dispatch_due[{task_id}] succeeded" in log, log[-4000:]
    assert "WorkerLostError" not in log and "exited with 'signal" not in log, log[-4000:]
    warm = time.monotonic() - stopping
    print(f"deploy units: healthy after {ready:.1f} s; worker killed, back after {back:.1f} s "
          f"(RestartSec={worker.restart_sec:g}); stale answer: {stale}; recovered: {recovered}; "
          f"stopped with a task in flight: exit 0 after {warm:.1f} s, the task finished")
