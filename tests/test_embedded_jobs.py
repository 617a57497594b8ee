"""The embedded default behaves like production (issue 13, item 12): its scheduled jobs run every
minute in the server's process (a policy waiting for its invitation gets the SMS without a restart),
SMS links use the port the portal serves on unless PUBLIC_BASE_URL says otherwise, and no broker
warning is logged when none is configured."""
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from app.extensions import db
from app.models import SmsMessage
from app.tasks import embedded

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.smoke


def _invitations():
    db.session.commit()  # end our snapshot: the jobs ran in their own sessions
    return db.session.query(SmsMessage).filter_by(purpose="EREVISIT").count()


def test_the_scheduled_jobs_run_again_while_the_portal_runs(seeded, app):
    """The seed's new policies wait for their e-revisit SMS: the running portal sends them at its next
    tick, not at the next restart."""
    assert _invitations() == 0
    jobs = embedded.start(app, tick_seconds=0.2)
    assert jobs is not None
    try:
        assert embedded.start(app) is None  # one per process
        deadline = time.monotonic() + 30
        while _invitations() < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _invitations() == 4
        ticks = jobs.ticks
        time.sleep(1)
        assert jobs.ticks > ticks and _invitations() == 4  # it keeps running; nobody gets the SMS twice
    finally:
        jobs.stop()
    assert not jobs.thread.is_alive()


@pytest.mark.parametrize("setting, value", [("PORTAL_ENV", "production"), ("CELERY", {"task_always_eager": False})])
def test_the_embedded_beat_never_runs_in_production_or_beside_a_broker(app, monkeypatch, setting, value):
    monkeypatch.setitem(app.config, setting, value)
    assert embedded.refusal(app) and embedded.start(app) is None


def test_never_under_gunicorn(app, monkeypatch):
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/23.0.0")
    assert embedded.refusal(app) == "gunicorn" and embedded.start(app) is None


def _start_portal(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "PUBLIC_BASE_URL", "PORTAL_ENV",
                          "SECRET_KEY", "SMS_BACKEND", "HOST", "PORT", "PORTAL_CLOCK_OFFSET_DAYS")}
    clean.update(PORTAL_INSTANCE_DIR=str(tmp_path), FLASK_APP="run.py", **env)
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    done = subprocess.run([flask, "portal", "start"], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(tmp_path / "portal.db") as conn:
        texts = [row[0] for row in conn.execute("SELECT content FROM sms_message WHERE purpose = 'EREVISIT'")]
    return done.stdout + done.stderr, texts


def test_make_runs_start_links_to_its_port_and_warns_of_no_broker(tmp_path):
    output, texts = _start_portal(tmp_path, PORT="5123")
    assert texts and all("http://127.0.0.1:5123/s/" in text for text in texts)
    assert "No hostname was supplied" not in output and "WARNI [kombu" not in output


def test_public_base_url_wins_over_the_port(tmp_path):
    _, texts = _start_portal(tmp_path, PORT="5123", PUBLIC_BASE_URL="https://cs.example.com")
    assert texts and all("https://cs.example.com/s/" in text for text in texts)
