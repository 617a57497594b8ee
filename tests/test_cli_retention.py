"""`flask retention export --before DATE --out FILE.zip`: the records of the policies whose retention ended
before DATE, one JSON-lines file a table and a manifest with counts and SHA-256, in a ZIP; nothing deleted;
exit 2 for an unusable date or no database (a fresh checkout, no traceback)."""
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from datetime import date

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Policy, RevisitTask
from app.services import clock, retention

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["retention", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip()


def _counts():
    counts = {}
    for table in db.metadata.sorted_tables:
        counts[table.name] = db.session.execute(select(func.count()).select_from(table)).scalar()
    db.session.rollback()
    return counts


def _read(path):
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        files = {name: archive.read(name) for name in archive.namelist() if name != "manifest.json"}
    return manifest, files


def _rows(files, table):
    return [json.loads(line) for line in files[f"records/{table}.jsonl"].decode("utf-8").splitlines()]


def test_the_export_holds_an_expired_policys_records_and_deletes_nothing(seeded, tmp_path):
    with_task = db.session.scalars(select(Policy).join(RevisitTask, RevisitTask.policy_id == Policy.id)
                                   .order_by(Policy.id)).first()
    expired_id = with_task.id
    with_task.status, with_task.contract_ended_on = "TERMINATED", date(2012, 2, 29)  # kept until 2022-02-28
    db.session.commit()
    live = db.session.scalars(select(Policy).where(Policy.id != expired_id).order_by(Policy.id)).all()
    assert all(retention.retention_end(p) is None or retention.retention_end(p) >= clock.today() for p in live)
    tasks = db.session.scalars(select(RevisitTask.id).where(RevisitTask.policy_id == expired_id)).all()
    db.session.rollback()
    before = _counts()
    out = tmp_path / "archive.zip"
    code, text = run(seeded, "export", "--before", clock.today().isoformat(), "--out", str(out))
    assert code == 0, text
    assert text.startswith("已导出 1 份保存期限于") and "未删除任何记录" in text
    after = _counts()
    assert after.pop("audit_event") == before.pop("audit_event") + 1  # the export itself, audited
    assert after == before
    manifest, files = _read(out)
    assert [p["policy_no"] for p in manifest["policies"]] == [with_task.policy_no]
    assert manifest["policies"][0]["retention_end"] == "2022-02-28"
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == entry["sha256"]
        assert len(files[name].splitlines()) == entry["rows"]
    assert [r["id"] for r in _rows(files, "policy")] == [expired_id]
    assert sorted(r["id"] for r in _rows(files, "revisit_task")) == sorted(tasks)
    assert all(r["policy_id"] == expired_id for r in _rows(files, "beneficiary"))
    assert all(r["task_id"] in tasks for r in _rows(files, "revisit_answer") + _rows(files, "call_attempt"))
    events = _rows(files, "audit_event")
    assert events and {(e["entity"], e["entity_id"]) for e in events if e["entity"] == "policy"} <= {
        ("policy", str(expired_id))}
    live_ids = {p.id for p in live}
    assert not {r["id"] for r in _rows(files, "policy")} & live_ids
    assert not {r["policy_id"] for r in _rows(files, "revisit_task")} & live_ids
    export_event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert export_event.action == "export" and export_event.after["policies"] == 1


def test_nothing_expired_writes_an_empty_archive(seeded, tmp_path):
    out = tmp_path / "none.zip"
    code, text = run(seeded, "export", "--before", clock.today().isoformat(), "--out", str(out))
    assert code == 0 and text.startswith("已导出 0 份")
    manifest, files = _read(out)
    assert manifest["policies"] == [] and all(entry["rows"] == 0 for entry in manifest["files"].values())


def test_unusable_input_exits_2(app, tmp_path):
    assert run(app, "export", "--before", "2026-13-01", "--out", str(tmp_path / "a.zip"))[0] == 2
    assert run(app, "export", "--before", "2999-01-01", "--out", str(tmp_path / "a.zip"))[0] == 2
    code, _ = run(app, "export", "--before", "2020-01-01", "--out", str(tmp_path / "no" / "such" / "a.zip"))
    assert code == 2


def test_a_fresh_checkout_without_a_database_exits_2_without_a_traceback(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "FLASK_APP": "run.py",
           "PORTAL_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "retention", "export",
                           "--before", "2020-01-01", "--out", str(tmp_path / "a.zip")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "a.zip").exists()
