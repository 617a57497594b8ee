"""The tamper-evident audit trail (issue 15 point 1): every event hashed as written, sealed period by period
into a chain; `seal.verify` finds an event changed, deleted or inserted with plain SQL and names it, and a
protected record (here loan ledger rows) changed, deleted or inserted beside its events."""
import datetime
import threading
import time
from decimal import Decimal as D

import pytest
from sqlalchemy import insert, select, text, update

from app.extensions import db
from app.models import AuditEvent, Customer
from app.models.identity import IdentityVerification
from app.models.audit import AuditSeal
from app.models.servicing import LoanLedgerEntry
from app.services import audit, clock, dashboard, seal
from app.tasks.audit import seal_events
from tests.services.test_loan import add_loan
from tests.services.test_ledger import frozen, templates  # noqa: F401  (fixtures)


@pytest.fixture
def sealable(monkeypatch):
    """Every committed event may be sealed at once (the real horizon is tested on its own below)."""
    monkeypatch.setattr(seal, "horizon", lambda session=None: datetime.datetime(9999, 1, 1))


def write_events(n, entity="policy"):
    with audit.acting_as("test:writer"):
        for i in range(n):
            audit.record(db.session, "update", entity, i + 1, {"status": "A"}, {"status": f"B{i}", "n": i})
    db.session.commit()


def sql(statement, **params):
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def event_ids():
    return list(db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars())


def first_break():
    report = seal.verify()
    db.session.rollback()
    assert not report.intact, report.summary()
    return report.breaks[0]


def test_every_event_is_written_with_the_hash_of_its_content(seeded):
    rows = db.session.execute(select(AuditEvent)).scalars().all()
    assert rows and all(row.row_hash and row.row_hash == audit.event_hash(vars(row)) for row in rows)


def test_a_fresh_database_verifies_clean(app):
    report = seal.verify()
    assert report.intact and report.events == 0
    assert seal.seal() is None


def test_the_seeded_trail_seals_verifies_and_the_job_run_twice_seals_nothing_twice(seeded, sealable):
    write_events(5)
    total = len(event_ids())
    seal_events()
    seal_events()
    seals = db.session.execute(select(AuditSeal)).scalars().all()
    assert len(seals) == 1 and seals[0].count == total and seals[0].prev_hash == seal.GENESIS
    write_events(3)
    seal_events()
    seal_events()
    seals = db.session.execute(select(AuditSeal).order_by(AuditSeal.id)).scalars().all()
    assert [s.count for s in seals] == [total, 3]
    assert seals[1].prev_hash == seals[0].chain_hash and seals[1].first_id == seals[0].last_id + 1
    report = seal.verify()
    assert report.intact, report.summary()
    assert report.seals == 2 and report.events == total + 3 and "审计记录完好" in report.summary()
    status = dashboard.figures()["seal"]
    assert status["ok"] and status["id"] == seals[1].id and status["last_id"] == seals[1].last_id


def test_an_event_changed_with_sql_is_named(seeded, sealable):
    write_events(5)
    seal.seal()
    target = event_ids()[-3]
    sql("UPDATE audit_event SET actor_name = 'someone else' WHERE id = :id", id=target)
    found = first_break()
    assert found.kind == "changed" and found.event_id == target
    assert f"事件 #{target} 的内容被改动" in found.message


def test_an_event_rewritten_with_its_hash_breaks_its_seal(seeded, sealable):
    write_events(5)
    sealed = seal.seal()
    target = event_ids()[-2]
    row = dict(db.session.execute(select(AuditEvent.__table__).where(AuditEvent.id == target)).one()._mapping)
    db.session.rollback()
    row["after"] = {"status": "forged"}
    sql("UPDATE audit_event SET after = :after, row_hash = :h WHERE id = :id",
        after='{"status": "forged"}', h=audit.event_hash(row), id=target)
    found = first_break()
    assert found.kind == "seal" and found.seal_id == sealed.id and f"封存 #{sealed.id}" in found.message


def test_an_event_deleted_with_sql_is_named(seeded, sealable):
    write_events(5)
    seal.seal()
    target = event_ids()[-4]
    sql("DELETE FROM audit_event WHERE id = :id", id=target)
    found = first_break()
    assert found.kind == "deleted" and found.event_id == target and f"事件 #{target} 已被删除" in found.message
    # the last event of a seal too
    db.session.rollback()


def test_the_last_event_of_a_seal_deleted_is_named(seeded, sealable):
    write_events(3)
    seal.seal()
    target = event_ids()[-1]
    sql("DELETE FROM audit_event WHERE id = :id", id=target)
    found = first_break()
    assert found.kind == "deleted" and found.event_id == target


def test_an_event_inserted_into_a_sealed_range_is_named(seeded, sealable):
    write_events(5)
    hole = event_ids()[-3]
    sql("DELETE FROM audit_event WHERE id = :id", id=hole)  # a rolled-back insert leaves such a gap
    sealed = seal.seal()
    assert [hole, hole] in sealed.gaps  # (the ids before this test's events are a gap too)
    assert seal.verify().intact
    db.session.rollback()
    row = audit._event_row("update", "policy", 1, None, {"status": "forged"})
    with db.engine.begin() as conn:
        conn.execute(insert(AuditEvent.__table__), [dict(row, id=hole)])
    found = first_break()
    assert found.kind == "inserted" and found.event_id == hole and f"事件 #{hole} 是事后插入的" in found.message


def test_a_seal_deleted_or_changed_is_found(seeded, sealable):
    write_events(2)
    first = seal.seal()
    write_events(2)
    second = seal.seal()
    sql("UPDATE audit_seal SET chain_hash = :h WHERE id = :id", h="f" * 64, id=first.id)
    found = first_break()
    assert found.kind == "seal" and found.seal_id == first.id
    db.session.rollback()
    sql("UPDATE audit_seal SET chain_hash = :h WHERE id = :id", h=first.chain_hash, id=first.id)
    sql("DELETE FROM audit_seal WHERE id = :id", id=first.id)
    found = first_break()
    assert found.kind == "seal" and found.seal_id == second.id


def _ledger_entry(loan_id, key, amount="100.00"):
    return dict(loan_id=loan_id, kind="REPAYMENT", event_key=key, on_day=datetime.date(2026, 11, 1),
                principal_delta=-D(amount), interest_delta=D("0"), amount=D(amount), principal_after=D("900.00"),
                interest_carried_after=D("0"), actor="test", created_at=clock.now())


def test_protected_records_are_checked_against_their_events(seeded, sealable):
    loan_id = add_loan()
    db.session.add(LoanLedgerEntry(**_ledger_entry(loan_id, "repayment:t1")))
    db.session.commit()
    # a set-based INSERT (as the ledger's roll-over writes) gets one event a row with the full values
    db.session.execute(insert(LoanLedgerEntry.__table__), [_ledger_entry(loan_id, "repayment:t2"),
                                                           _ledger_entry(loan_id, "repayment:t3", "50.00")])
    db.session.commit()
    bulk = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "loan_ledger_entry",
                                                       AuditEvent.action == "bulk_insert")).scalars().all()
    assert len(bulk) == 2 and bulk[1].after["amount"] == "50.00" and bulk[1].after["event_key"] == "repayment:t3"
    seal_events()
    report = seal.verify()
    assert report.intact and report.records >= 3, report.summary()
    db.session.rollback()
    ids = list(db.session.execute(select(LoanLedgerEntry.id).order_by(LoanLedgerEntry.id)).scalars())
    db.session.rollback()

    sql("UPDATE loan_ledger_entry SET amount = 1.00 WHERE id = :id", id=ids[1])
    found = first_break()
    assert found.kind == "record_changed" and f"贷款台账记录 #{ids[1]} 的“amount”被改动" in found.message
    sql("UPDATE loan_ledger_entry SET amount = 100.00 WHERE id = :id", id=ids[1])
    assert seal.verify().intact
    db.session.rollback()

    sql("DELETE FROM loan_ledger_entry WHERE id = :id", id=ids[2])
    found = first_break()
    assert found.kind == "record_deleted" and f"贷款台账记录 #{ids[2]} 已被删除" in found.message
    db.session.rollback()

    with db.engine.begin() as conn:  # back, and one more row, both with SQL beside the audit trail
        conn.execute(insert(LoanLedgerEntry.__table__), [dict(_ledger_entry(loan_id, "repayment:t3", "50.00"),
                                                              id=ids[2])])
    assert seal.verify().intact
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(insert(LoanLedgerEntry.__table__), [_ledger_entry(loan_id, "repayment:forged")])
    found = first_break()
    assert found.kind == "record_inserted" and "绕过系统用 SQL 插入" in found.message


def test_a_set_based_update_of_a_protected_record_is_captured(seeded, sealable):
    customer_id = db.session.execute(select(Customer.id)).scalars().first()
    check = IdentityVerification(customer_id=customer_id, kind="PHOTO", purpose="EREVISIT", status="PENDING",
                                 created_at=clock.now())
    db.session.add(check)
    db.session.commit()
    created = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "identity_verification")).scalar_one()
    assert created.action == "create" and created.entity_id == str(check.id)
    db.session.execute(update(IdentityVerification).where(IdentityVerification.id == check.id)
                       .values(status="FAILED", distance=0.4123))
    db.session.commit()
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "bulk_update")).scalar_one()
    assert event.entity_id == str(check.id) and event.after["status"] == "FAILED"
    assert seal.verify().intact
    db.session.rollback()
    sql("UPDATE identity_verification SET status = 'PASSED' WHERE id = :id", id=check.id)  # beside the trail
    found = first_break()
    assert found.kind == "record_changed" and f"身份核验记录 #{check.id} 的“status”被改动" in found.message


def test_two_concurrent_writers_are_both_sealed(seeded, app):
    """Writer A inserts first (the lower id) but commits last: while A is open nothing past its id is sealed;
    once it commits, both are sealed in id order, and the trail verifies."""
    app.config["AUDIT_SEAL_DELAY_SECONDS"] = 0
    try:
        seal_events()
        a_inserted, b_committed, a_may_commit = threading.Event(), threading.Event(), threading.Event()
        ids = {}

        def writer(name, first, then_wait, then_set):
            with app.app_context(), db.engine.connect() as conn:
                with conn.begin():
                    if not first:
                        a_inserted.wait(10)
                    with audit.acting_as(f"test:{name}"):
                        audit.record(conn, "update", "policy", name, None, {"by": name})
                    ids[name] = conn.execute(text("SELECT LAST_INSERT_ID()")).scalar()
                    if first:
                        a_inserted.set()
                    if then_wait is not None:
                        then_wait.wait(10)
                then_set and then_set.set()

        a = threading.Thread(target=writer, args=("A", True, a_may_commit, None))
        b = threading.Thread(target=writer, args=("B", False, None, b_committed))
        a.start(); b.start()
        assert b_committed.wait(10)
        time.sleep(1.1)
        db.session.rollback()
        before = seal.seal()  # A still open: nothing from A's id on is sealed
        assert before is None or before.last_id < ids["A"]
        a_may_commit.set()
        a.join(10); b.join(10)
        assert ids["A"] < ids["B"]
        time.sleep(1.1)
        seal_events()
        sealed = db.session.execute(select(AuditSeal).order_by(AuditSeal.id.desc())).scalars().first()
        assert sealed.last_id >= ids["B"] and not any(lo <= ids["A"] <= hi for lo, hi in (sealed.gaps or []))
        report = seal.verify()
        assert report.intact and report.unsealed == 0, report.summary()
    finally:
        app.config.pop("AUDIT_SEAL_DELAY_SECONDS", None)


def test_the_horizon_waits_for_the_delay(app):
    app.config["AUDIT_SEAL_DELAY_SECONDS"] = 300
    try:
        write_events(2)
        assert seal.seal() is None  # written just now: sealed on a later run
    finally:
        app.config.pop("AUDIT_SEAL_DELAY_SECONDS", None)


def test_an_answer_changed_by_hand_is_named(seeded, sealable):
    """The issue's "done when": one answer changed in the database by hand, and verify names it."""
    from app.models.revisit import Question, RevisitAnswer, RevisitTask

    task = db.session.execute(select(RevisitTask)).scalars().first()
    question = db.session.execute(select(Question)).scalars().first()
    answer = RevisitAnswer(task_id=task.id, question_id=question.id, question_text=question.text, answer=True,
                           channel="ELECTRONIC", answered_at=clock.now(), ip="10.1.2.3", user_agent="phone")
    db.session.add(answer)
    db.session.commit()
    seal_events()
    assert seal.verify().intact
    db.session.rollback()
    sql("UPDATE revisit_answer SET answer = 0 WHERE id = :id", id=answer.id)
    found = first_break()
    assert found.kind == "record_changed"
    assert found.message == f"回访答案 #{answer.id} 的“answer”被改动:审计事件记录为 True,数据库现为 False"


def test_the_set_based_roll_over_is_sealed_with_full_values(templates, sealable):
    """The ledger's roll-over writes its rows with set-based INSERTs: each row gets a bulk_insert event with
    its full values, so a rolled-over loan's rows are checked like the others."""
    from tests.services.test_ledger import disburse, pending_loan

    loan_id = pending_loan()
    disburse(loan_id)
    templates.move_to(datetime.datetime(2026, 9, 1, 0, 30))
    from app.services import ledger

    assert ledger.roll_over_due(datetime.date(2026, 9, 1)) == 1
    keys = {e.after["event_key"]: int(e.entity_id) for e in db.session.execute(
        select(AuditEvent).where(AuditEvent.entity == "loan_ledger_entry", AuditEvent.action == "bulk_insert"))
        .scalars()}
    assert set(keys) == {f"rollover-out:{loan_id}", f"rollover-in:{loan_id}"}
    seal_events()
    report = seal.verify()
    assert report.intact and report.records >= 3, report.summary()
    db.session.rollback()
    sql("UPDATE loan_ledger_entry SET principal_after = 1.00 WHERE id = :id", id=keys[f"rollover-in:{loan_id}"])
    found = first_break()
    assert found.kind == "record_changed" and "“principal_after”被改动" in found.message


def test_the_dashboard_shows_the_last_seal_and_its_check(seeded, client, sealable):
    from tests.conftest import login

    seal_events()
    last = db.session.execute(select(AuditSeal).order_by(AuditSeal.id.desc())).scalars().first()
    login(client, "supervisor")
    page = client.get("/revisit-dashboard/").get_data(as_text=True)
    assert f"最后封存 #{last.id}" in page and f"事件 #{last.first_id}–#{last.last_id}" in page and "核验通过" in page
    sql("UPDATE audit_event SET action = 'forged' WHERE id = :id", id=last.last_id)
    page = client.get("/revisit-dashboard/").get_data(as_text=True)
    assert "核验未通过" in page


def test_events_written_beside_the_session_get_their_hash_from_the_seal_job(seeded, sealable):
    """As the portal_claim_next procedure writes them: no row_hash until the seal job computes it."""
    sql("INSERT INTO audit_event (occurred_at, actor_type, actor_id, actor_name, action, entity, entity_id) "
        "VALUES (:at, 'user', 7, 'agent1', 'claim', 'revisit_task', '42')", at=clock.now())
    event_id = event_ids()[-1]
    assert seal.verify().intact  # not sealed yet: nothing to compare
    db.session.rollback()
    seal_events()
    row = db.session.execute(select(AuditEvent).where(AuditEvent.id == event_id)).scalar_one()
    assert row.row_hash == audit.event_hash(vars(row))
    assert seal.verify().intact


def test_an_event_dated_ahead_of_the_clock_does_not_hold_the_seal_back(app):
    write_events(1)
    future = clock.now() + datetime.timedelta(days=4)  # written while the demo's clock ran 4 days ahead
    sql("UPDATE audit_event SET occurred_at = :at", at=future)
    sql("UPDATE audit_event SET row_hash = NULL")
    app.config["AUDIT_SEAL_DELAY_SECONDS"] = 0
    try:
        assert seal.seal().count == 1
    finally:
        app.config.pop("AUDIT_SEAL_DELAY_SECONDS", None)
