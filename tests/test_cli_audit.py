"""`flask audit verify [--since]` and `flask audit seal`: a one-line summary and exit 0 when intact, the first
break in Chinese and exit 1, exit 2 for an unusable date or no database (a fresh checkout, no traceback)."""
import datetime
import os
import subprocess
import sys

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent
from app.services import clock, seal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["audit", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip()


@pytest.fixture
def sealable(monkeypatch):
    monkeypatch.setattr(seal, "horizon", lambda session=None: datetime.datetime(9999, 1, 1))


def test_seal_then_verify_then_a_changed_answer_of_the_trail_is_named(seeded, sealable):
    code, out = run(seeded, "seal")
    assert code == 0 and out.startswith("封存 #")
    assert run(seeded, "seal") == (0, "没有需要封存的新事件")
    code, out = run(seeded, "verify")
    assert code == 0 and out.startswith("审计记录完好") and len(out.splitlines()) == 1
    code, out = run(seeded, "verify", "--since", clock.today().isoformat())
    assert code == 0 and out.startswith("审计记录完好")
    target = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc())).scalar()
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET ip = '10.0.0.9' WHERE id = :id"), {"id": target})
    code, out = run(seeded, "verify")
    assert code == 1 and out == f"事件 #{target} 的内容被改动(与写入时的哈希不符)"


def test_an_unusable_date_exits_2(app):
    code, out = run(app, "verify", "--since", "2026-13-01")
    assert code == 2 and "YYYY-MM-DD" in out


# every operator command that reads the database (app/cli.py database_required)
@pytest.mark.parametrize("command", [("audit", "verify"), ("audit", "seal"), ("portal", "rotate-keys")],
                         ids=" ".join)
def test_a_fresh_checkout_without_a_database_exits_2_without_a_traceback(tmp_path, command):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "FLASK_APP": "run.py",
           "PORTAL_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), *command],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert "flask db upgrade" in done.stderr
