"""The embedded default's beat (no broker, eager Celery): the scheduled jobs of app/tasks/schedule.py
run in the web process, every minute, on a daemon thread, as `celery beat` runs them in production.

`flask portal run-jobs` and this thread call the same function, run_job(). The thread starts only from
`python run.py` (`make run`), once per process, never in production, never with a broker configured
(then `celery beat` is the scheduler) and never under gunicorn. Jobs on a plain interval (every
minute) run at each tick; crontab jobs (the day-4 expiry every 10 minutes, the 10:00 reminders, the
nightly loans) when their time has come since the previous tick.
"""
import logging
import os
import sys
import threading
from datetime import datetime, timezone

from celery.schedules import crontab

from app.tasks.schedule import beat_schedule

log = logging.getLogger(__name__)
TICK_SECONDS = 60
SERVER_SOFTWARE = "SERVER_SOFTWARE"  # set by gunicorn in its workers (not a portal setting)

_lock = threading.Lock()
_running = None  # the process's one EmbeddedJobs


def run_job(celery_app, entry, throw=True):
    """Run one beat entry's task now, in this process (what `flask portal run-jobs` does for each)."""
    return celery_app.tasks[entry["task"]].apply(throw=throw)


def refusal(app):
    """Why the embedded beat must not run in this process, or None."""
    if app.config.get("PORTAL_ENV") == "production":
        return "production"
    if not app.config.get("CELERY", {}).get("task_always_eager"):
        return "a broker is configured: run `celery beat`"
    if "gunicorn" in os.environ.get(SERVER_SOFTWARE, "") or "gunicorn" in sys.modules:
        return "gunicorn"
    return None


class EmbeddedJobs:
    """The thread; stop() ends it (tests)."""

    def __init__(self, app, tick_seconds=TICK_SECONDS):
        self.app, self.tick_seconds = app, tick_seconds
        self.stopped = threading.Event()
        self.ticks = 0
        now = self._now()
        # `flask portal start` ran every job just before serving: crontab jobs wait for their time
        self.last_run = {name: now for name in beat_schedule(app.config)}
        self.thread = threading.Thread(target=self._loop, name="portal-embedded-beat", daemon=True)

    @staticmethod
    def _now():
        return datetime.now(timezone.utc)

    def _due(self, name, entry, now):
        schedule = entry["schedule"]
        if not isinstance(schedule, crontab):
            return True  # every minute: each tick
        due, _next = schedule.is_due(self.last_run[name])
        return due

    def tick(self):
        """Run the jobs that are due, each in an app context of its own; a failing job is logged and
        the others still run."""
        celery_app = self.app.extensions["celery"]
        now = self._now()
        for name, entry in beat_schedule(self.app.config).items():
            if not self._due(name, entry, now):
                continue
            self.last_run[name] = now
            try:
                with self.app.app_context():
                    run_job(celery_app, entry, throw=True)
            except Exception:  # noqa: BLE001 - a job's bug must not stop the scheduler
                log.exception("embedded beat: job %s failed", name)
        self.ticks += 1

    def _loop(self):
        while not self.stopped.wait(self.tick_seconds):
            self.tick()

    def stop(self):
        global _running
        self.stopped.set()
        self.thread.join(30)
        with _lock:
            if _running is self:
                _running = None


def start(app, tick_seconds=TICK_SECONDS):
    """Start the embedded beat in this process and return it; None when it must not run here (logged)
    or when it already runs."""
    global _running
    reason = refusal(app)
    if reason:
        log.info("embedded beat not started: %s", reason)
        return None
    with _lock:
        if _running is not None:
            return None
        _running = EmbeddedJobs(app, tick_seconds)
        _running.thread.start()
    log.info("embedded beat: the scheduled jobs run every %s s in this process", tick_seconds)
    return _running
