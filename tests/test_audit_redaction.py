"""`flask audit redact-legacy` (issue 15 point 4): audit events written before the trail masked personal data,
inserted here with plain SQL with their clear ID number and mobile and a correct row_hash, and sealed, are
rewritten to what the writer stores now (masked, keyed hash beside); a redaction record per event keeps
`flask audit verify` at exit 0, while the event edited afterwards, the record edited, forged or deleted are
named (exit 1). A second run redacts 0; --dry-run writes nothing; without a database: exit 2."""
import datetime
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models.audit import AuditEvent, AuditRedaction
from app.services import audit, redaction, seal
from app.services.crypto import lookup_hash

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ID_NUMBER, MOBILE, PHONE = "110105198005170379", "13912340077", "13698761234"
WHEN = datetime.datetime(2026, 1, 5, 9, 30, 0)


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["audit", *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output.strip()


def sql(statement, **params):
    db.session.rollback()
    with db.engine.begin() as conn:
        return conn.execute(text(statement), params)


def fetch(statement, **params):
    db.session.rollback()
    with db.engine.connect() as conn:
        return conn.execute(text(statement), params).all()


def trail_text():
    """Every event's before and after as the database stores them (the JSON text), read with plain SQL."""
    return "\n".join(f"{before} {after}" for before, after in fetch(
        "SELECT CAST(`before` AS CHAR), CAST(`after` AS CHAR) FROM audit_event"))


def insert_legacy(action, entity, entity_id, before, after, minutes=0):
    """One event as the writer stored it before masking: clear values, row_hash of that content."""
    content = dict(occurred_at=WHEN + datetime.timedelta(minutes=minutes), actor_type="user", actor_id=3,
                   actor_name="clerk3", action=action, entity=entity, entity_id=entity_id, before=before,
                   after=after, ip="10.0.0.7", user_agent="Mozilla/5.0")
    row_hash = audit.event_hash(content)
    sql("INSERT INTO audit_event (occurred_at, actor_type, actor_id, actor_name, action, entity, entity_id,"
        " `before`, `after`, ip, user_agent, row_hash) VALUES (:occurred_at, :actor_type, :actor_id, :actor_name,"
        " :action, :entity, :entity_id, :before, :after, :ip, :user_agent, :row_hash)",
        **{**content, "before": None if before is None else json.dumps(before, ensure_ascii=False),
           "after": None if after is None else json.dumps(after, ensure_ascii=False), "row_hash": row_hash})
    return fetch("SELECT MAX(id) FROM audit_event")[0][0], row_hash


LEGACY_CUSTOMER = {"id": 41, "customer_no": "C0041", "name": "旧事件", "id_type": "RESIDENT_ID",
                   "id_number": ID_NUMBER, "id_number_hash": None, "mobile": MOBILE, "face_encoding": "***"}


@pytest.fixture
def sealable(monkeypatch):
    monkeypatch.setattr(seal, "horizon", lambda session=None: datetime.datetime(9999, 1, 1))


@pytest.fixture
def legacy(app, sealable):
    """A legacy customer creation (listener event), a legacy customer update of the mobile, a legacy explicit
    SMS event with a phone, and a current event, all sealed."""
    created = insert_legacy("create", "customer", "41", None, dict(LEGACY_CUSTOMER))
    changed = insert_legacy("update", "customer", "41", {"mobile": MOBILE, "updated_at": "2026-01-05T09:00:00"},
                            {"mobile": PHONE, "updated_at": "2026-01-05T09:31:00"}, minutes=1)
    queued = insert_legacy("queue", "sms_message", None, None, {"phone": PHONE, "template": "SMS_1", "count": 1},
                           minutes=2)
    with audit.acting_as("test:current"):
        audit.record(db.session, "queue", "sms_message", None, None, {"phone": MOBILE, "count": 2})
    db.session.commit()
    code, out = run(app, "seal")
    assert code == 0 and out.startswith("封存 #")
    assert run(app, "verify")[0] == 0
    return {"created": created, "changed": changed, "queued": queued}


@pytest.fixture
def redacted(app, legacy):
    code, out = run(app, "redact-legacy")
    assert code == 0, out
    first, last = legacy["created"][0], legacy["queued"][0]
    assert out.startswith(f"已脱敏 3 条历史审计事件(事件 #{first}–#{last}"), out
    return legacy


def event(event_id):
    db.session.rollback()
    return db.session.execute(select(AuditEvent).where(AuditEvent.id == event_id)).scalar_one()


def test_legacy_events_are_rewritten_to_what_the_writer_stores_now_and_the_trail_still_verifies(app, legacy):
    assert ID_NUMBER in trail_text() and MOBILE in trail_text()
    code, out = run(app, "redact-legacy", "--dry-run")
    assert (code, out) == (0, "试运行:3 条历史审计事件含明文身份证号或手机号,将被脱敏(未写入任何内容)")
    assert ID_NUMBER in trail_text() and fetch("SELECT COUNT(*) FROM audit_redaction")[0][0] == 0

    code, out = run(app, "redact-legacy")
    assert code == 0 and out.startswith("已脱敏 3 条历史审计事件"), out
    stored = trail_text()
    for clear in (ID_NUMBER, MOBILE, PHONE):
        assert clear not in stored
    # exactly what the writer stores now: the masks with the keyed hashes beside them
    created = event(legacy["created"][0])
    assert created.after == {**LEGACY_CUSTOMER, "id_number": "110***********0379",
                             "id_number_hash": lookup_hash(ID_NUMBER, "id_number"), "mobile": "139****0077",
                             "mobile_hash": lookup_hash(MOBILE, "mobile")}
    changed = event(legacy["changed"][0])
    assert changed.before == {"mobile": "139****0077", "mobile_hash": lookup_hash(MOBILE, "mobile"),
                              "updated_at": "2026-01-05T09:00:00"}
    assert changed.after["mobile"] == "136****1234" and changed.after["mobile_hash"] == lookup_hash(PHONE, "mobile")
    queued = event(legacy["queued"][0])
    assert queued.after == audit._scrub({"phone": PHONE, "template": "SMS_1", "count": 1})
    # the sealed hash stays; the record holds it and the new content's
    records = {r.event_id: r for r in db.session.execute(select(AuditRedaction)).scalars()}
    assert sorted(records) == [legacy["created"][0], legacy["changed"][0], legacy["queued"][0]]
    for name, (event_id, row_hash) in legacy.items():
        row = event(event_id)
        assert row.row_hash == row_hash == records[event_id].original_hash
        assert records[event_id].redacted_hash == audit.event_hash(vars(row)) != row_hash
    # the run is an audit event of its own: who, how many, why
    operation = event(records[legacy["created"][0]].operation_id)
    assert operation.action == "redact_legacy" and operation.actor_name.startswith("cli:audit-redact-legacy:")
    assert operation.after["count"] == 3 and operation.after["reason"] == redaction.DEFAULT_REASON
    assert operation.after["operator"]
    db.session.rollback()

    code, out = run(app, "verify")
    assert code == 0 and out.startswith("审计记录完好"), out
    assert seal.last_seal_status()["ok"]
    code, out = run(app, "seal")  # the run's own event is sealed like any other
    assert code == 0 and out.startswith("封存 #")
    assert run(app, "verify")[0] == 0 and seal.last_seal_status()["ok"]
    assert run(app, "verify", "--since", WHEN.date().isoformat())[0] == 0
    # idempotent
    assert run(app, "redact-legacy") == (0, "已脱敏 0 条历史审计事件:没有含明文身份证号或手机号的事件")
    assert run(app, "redact-legacy", "--dry-run")[1].startswith("试运行:0 条")
    assert fetch("SELECT COUNT(*) FROM audit_redaction")[0][0] == 3
    assert fetch("SELECT COUNT(*) FROM audit_event WHERE action = 'redact_legacy'")[0][0] == 1


def test_a_redacted_event_edited_afterwards_is_named(app, redacted):
    target = redacted["changed"][0]
    sql("UPDATE audit_event SET ip = '10.9.9.9' WHERE id = :id", id=target)
    code, out = run(app, "verify")
    assert code == 1 and out == f"事件 #{target} 的内容被改动(与写入时的哈希不符)"


def test_an_edited_redaction_record_is_named(app, redacted):
    target = redacted["queued"][0]
    sql("UPDATE audit_redaction SET reason = '另一个理由' WHERE event_id = :id", id=target)
    code, out = run(app, "verify")
    assert code == 1 and f"事件 #{target} 的脱敏记录被改动" in out, out
    assert not seal.last_seal_status()["ok"]


def test_a_record_edited_with_its_hash_recomputed_no_longer_matches_its_run(app, redacted):
    target = redacted["queued"][0]
    row = fetch("SELECT original_hash, redacted_hash, redacted_at FROM audit_redaction WHERE event_id = :id",
                id=target)[0]
    forged = redaction.record_hash(target, row.original_hash, row.redacted_hash, row.redacted_at, "另一个理由")
    sql("UPDATE audit_redaction SET reason = '另一个理由', record_hash = :h WHERE event_id = :id", h=forged, id=target)
    code, out = run(app, "verify")
    assert code == 1 and "脱敏记录" in out and "不符" in out, out


def test_an_event_edited_and_covered_by_a_forged_redaction_record_is_reported(app, redacted):
    """Someone edits a sealed event and inserts a redaction record for it with every hash right: the run's
    audit event (count, digest) does not know it."""
    target, row_hash = insert_legacy("update", "policy", "9", {"status": "A"}, {"status": "B"}, minutes=5)
    assert run(app, "seal")[0] == 0
    sql("UPDATE audit_event SET `after` = :a WHERE id = :id", a=json.dumps({"status": "C"}), id=target)
    computed = audit.event_hash(vars(event(target)), stored=True)
    operation_id = fetch("SELECT MAX(operation_id) FROM audit_redaction")[0][0]
    when = datetime.datetime(2026, 11, 30, 9, 0, 0)
    sql("INSERT INTO audit_redaction (event_id, operation_id, original_hash, redacted_hash, redacted_at, reason,"
        " record_hash) VALUES (:e, :op, :o, :r, :t, '伪造', :h)", e=target, op=operation_id, o=row_hash, r=computed,
        t=when, h=redaction.record_hash(target, row_hash, computed, when, "伪造"))
    code, out = run(app, "verify")
    assert code == 1 and "脱敏记录" in out and "伪造" in out, out


def test_a_deleted_redaction_record_leaves_its_event_changed(app, redacted):
    target = redacted["created"][0]
    sql("DELETE FROM audit_redaction WHERE event_id = :id", id=target)
    code, out = run(app, "verify")
    assert code == 1 and out == f"事件 #{target} 的内容被改动(与写入时的哈希不符)"
    assert not seal.last_seal_status()["ok"]


def test_all_records_of_a_run_deleted_are_reported(app, redacted):
    sql("DELETE FROM audit_redaction")
    code, out = run(app, "verify")
    assert code == 1 and out == f"事件 #{redacted['created'][0]} 的内容被改动(与写入时的哈希不符)"


def test_a_legacy_event_already_tampered_with_is_left_for_verify(app, legacy):
    target = legacy["queued"][0]
    sql("UPDATE audit_event SET ip = '10.9.9.9' WHERE id = :id", id=target)
    code, out = run(app, "redact-legacy")
    assert code == 1 and "已脱敏 2 条" in out and "另有 1 条" in out, out
    assert PHONE in trail_text()  # not laundered: verify still names it
    code, out = run(app, "verify")
    assert code == 1 and out == f"事件 #{target} 的内容被改动(与写入时的哈希不符)"


def test_the_auditors_event_pages_no_longer_show_the_clear_values(seeded, legacy, client):
    from tests.conftest import login

    login(client, "auditor")
    target = legacy["created"][0]
    assert ID_NUMBER in client.get(f"/auditeventview/show/{target}").get_data(as_text=True)
    assert run(seeded, "redact-legacy")[0] == 0
    for event_id, _row_hash in legacy.values():
        page = client.get(f"/auditeventview/show/{event_id}").get_data(as_text=True)
        assert "139****0077" in page or "136****1234" in page
        for clear in (ID_NUMBER, MOBILE, PHONE):
            assert clear not in page
    assert run(seeded, "verify")[0] == 0


def test_a_fresh_checkout_without_a_database_exits_2_without_a_traceback(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "FLASK_APP": "run.py",
           "PORTAL_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "audit", "redact-legacy"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert "flask db upgrade" in done.stderr


# --- the migration, on a database of its own (MariaDB, and SQLite in the smoke run) -----------------------

@pytest.fixture
def blank_database(servers):
    from tests.conftest import migration_database

    with migration_database(servers, "migration-redaction") as url:
        yield url


def test_the_migration_adds_the_redaction_table_and_the_downgrade_removes_it(servers, blank_database):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    from app import create_app
    from tests.conftest import make_config

    other = create_app(make_config(servers, SQLALCHEMY_DATABASE_URI=blank_database))
    with other.app_context():
        upgrade(revision="a15c0015sp15")
        assert "audit_redaction" not in inspect(db.engine).get_table_names()
        upgrade(revision="a15c0016rd16")
        columns = {c["name"] for c in inspect(db.engine).get_columns("audit_redaction")}
        assert columns == {"id", "event_id", "operation_id", "original_hash", "redacted_hash", "redacted_at",
                           "reason", "record_hash"}
        unique = inspect(db.engine).get_unique_constraints("audit_redaction")
        indexes = inspect(db.engine).get_indexes("audit_redaction")
        assert any(c["column_names"] == ["event_id"] for c in unique) or any(
            i["column_names"] == ["event_id"] and i["unique"] for i in indexes)
        downgrade(revision="a15c0015sp15")
        assert "audit_redaction" not in inspect(db.engine).get_table_names()
        upgrade(revision="a15c0016rd16")
        assert "audit_redaction" in inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()


def test_a_clear_id_number_nested_in_a_payload_is_redacted_too(app, sealable):
    """A servicing application's event from before: its payload lists the beneficiaries with their ID numbers."""
    payload = {"lists": {"DEATH": [{"name": "王一", "id_number": ID_NUMBER, "share": "100.00"}]}, "policies": ["1"]}
    event_id, row_hash = insert_legacy("create", "servicing_application", "7", None, {"id": 7, "payload": payload})
    assert run(app, "seal")[0] == 0
    code, out = run(app, "redact-legacy")
    assert code == 0 and out.startswith("已脱敏 1 条历史审计事件"), out
    assert ID_NUMBER not in trail_text()
    person = event(event_id).after["payload"]["lists"]["DEATH"][0]
    assert person == {"name": "王一", "id_number": "110***********0379",
                      "id_number_hash": lookup_hash(ID_NUMBER, "id_number"), "share": "100.00"}
    assert event(event_id).row_hash == row_hash
    assert run(app, "verify")[0] == 0
