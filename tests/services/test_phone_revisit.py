"""The phone revisit rules on MariaDB: queue order, claims, lapsed reservations, callbacks,
the attempt cap on different days, the letter hand-over, problem cases, audit events."""
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import current_app

from app.extensions import db
from app.models import Customer, Policy, Product, RevisitTask, User
from app.models.audit import AuditEvent
from app.models.revisit import CallAttempt, RevisitAnswer
from app.services import letters, phone_revisit
from app.services.errors import DomainError
from app.services.revisit import render_questions
from tests import factories

T0 = datetime(2026, 11, 24, 9, 0)  # a Tuesday morning, Asia/Shanghai wall clock


@pytest.fixture(autouse=True, params=["procedure", "statements"])
def claim_path(request, app):
    """Every rule holds on both claim paths of MariaDB: the stored procedure portal_claim_next
    (production) and the separate statements (what SQLite runs)."""
    app.config["CLAIM_WITH_PROCEDURE"] = request.param == "procedure"
    yield request.param
    app.config["CLAIM_WITH_PROCEDURE"] = True


def _travel(moment):
    return time_machine.travel(moment.replace(tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)


_seq = iter(range(1, 10_000))


def phone_task(hesitation_days=15, is_problem=False, status="PHONE_QUEUE", created_at=None, **fields):
    """A fresh policy of 张德强 (C0001) with a phone task in the queue; returns the task id."""
    holder = db.session.query(Customer).filter_by(customer_no="C0001").one()
    product = db.session.query(Product).order_by(Product.id).first()
    issued = T0.date() - timedelta(days=5)
    policy = Policy(policy_no=f"77{next(_seq):013d}", product_id=product.id, holder_id=holder.id,
                    insured_id=holder.id, issue_date=issued, receipt_signed_date=issued,
                    premium=Decimal("12000.00"), payment_mode="REGULAR", payment_frequency="YEARLY",
                    payment_years=10, sum_assured=Decimal("240000.00"))
    db.session.add(policy)
    db.session.flush()
    task = RevisitTask(policy_id=policy.id, open_policy_id=policy.id, template_id=factories.template().id,
                       status=status, channel="PHONE", is_problem=is_problem,
                       erevisit_deadline=datetime.combine(issued + timedelta(days=4), datetime.min.time()),
                       hesitation_deadline=issued + timedelta(days=hesitation_days), **fields)
    if created_at:
        task.created_at = created_at
    db.session.add(task)
    db.session.commit()
    return task.id


def user_id(username):
    return db.session.query(User.id).filter_by(username=username).scalar()


def all_yes(task_id):
    task = db.session.get(RevisitTask, task_id)
    return {q["question_id"]: True for q in render_questions(task)}


def reload(task_id):
    db.session.expire_all()
    return db.session.get(RevisitTask, task_id)


def test_queue_gives_problem_cases_first_then_nearest_deadline_then_oldest(seeded):
    with _travel(T0):
        late = phone_task(hesitation_days=15)
        older_same_deadline = phone_task(hesitation_days=10, created_at=T0 - timedelta(hours=2))
        newer_same_deadline = phone_task(hesitation_days=10, created_at=T0 - timedelta(hours=1))
        problem = phone_task(hesitation_days=20, is_problem=True, status="PROBLEM")
        agents = [user_id(u) for u in ("agent1", "agent2")]
        extra = [_make_agent(f"agent_q{i}") for i in range(2)]
        order = [phone_revisit.claim_next(a) for a in agents + extra]
    assert order == [problem, older_same_deadline, newer_same_deadline, late]


def _make_agent(username):
    sm = current_app.appbuilder.sm
    user = sm.add_user(username, "测试", "专员", f"{username}@test.local", [sm.find_role("Agent")],
                       password="Test@Pass2026")
    return user.id


def test_an_agent_holds_one_call_and_two_agents_never_share_one(seeded):
    with _travel(T0):
        first, second = phone_task(), phone_task()
        a1, a2 = user_id("agent1"), user_id("agent2")
        got = phone_revisit.claim_next(a1)
        assert phone_revisit.claim_next(a1) == got  # still the same call in hand
        other = phone_revisit.claim_next(a2)
        assert {got, other} == {first, second}
        assert phone_revisit.claim_next(user_id("supervisor")) is None
        with pytest.raises(DomainError) as refused:
            phone_revisit.claim_task(got, a2)
        assert refused.value.key == "task_not_claimable"
    task = reload(got)
    assert (task.status, task.assigned_to_id) == ("IN_CALL", a1)
    assert task.reserved_until == T0 + timedelta(minutes=30)
    claims = db.session.query(AuditEvent).filter_by(action="claim", entity="revisit_task").all()
    assert sorted(int(e.entity_id) for e in claims) == sorted([first, second])


def test_a_lapsed_reservation_returns_the_task_to_the_queue(seeded):
    a1, a2 = user_id("agent1"), user_id("agent2")
    with _travel(T0):
        task_id = phone_task()
        assert phone_revisit.claim_next(a1) == task_id
    with _travel(T0 + timedelta(minutes=29)):
        assert phone_revisit.release_lapsed() == 0
        assert phone_revisit.claim_next(a2) is None
    with _travel(T0 + timedelta(minutes=31)):
        assert phone_revisit.release_lapsed() == 1
        task = reload(task_id)
        assert (task.status, task.assigned_to_id, task.reserved_until) == ("PHONE_QUEUE", None, None)
        assert phone_revisit.claim_next(a2) == task_id
        # agent1 can no longer record on the task they let lapse
        with pytest.raises(DomainError) as refused:
            phone_revisit.record_attempt(task_id, a1, "NO_ANSWER")
        assert refused.value.key == "task_not_yours_to_record"
    assert db.session.query(AuditEvent).filter_by(action="release_lapsed").count() == 1


def test_opening_the_task_keeps_the_reservation_alive(seeded):
    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.claim_next(a1)
    with _travel(T0 + timedelta(minutes=20)):
        phone_revisit.touch(task_id, a1)
    with _travel(T0 + timedelta(minutes=40)):
        assert phone_revisit.release_lapsed() == 0
        assert reload(task_id).status == "IN_CALL"


def test_attempts_are_capped_on_different_days_then_a_letter_is_due(seeded):
    a1, a2 = user_id("agent1"), user_id("agent2")
    with _travel(T0):
        task_id = phone_task()
        assert phone_revisit.claim_next(a1) == task_id
        phone_revisit.record_attempt(task_id, a1, "NO_ANSWER")
        task = reload(task_id)
        assert (task.status, task.attempt_count, task.assigned_to_id) == ("PHONE_QUEUE", 1, None)
        # same day: nobody gets it again
        assert phone_revisit.claim_next(a2) is None
        with pytest.raises(DomainError) as same_day:
            phone_revisit.claim_task(task_id, a2)
        assert same_day.value.key == "attempt_same_day"
    with _travel(T0 + timedelta(hours=10)):  # 19:00 the same day
        assert phone_revisit.claim_next(a2) is None
    with _travel(T0 + timedelta(days=1)):
        assert phone_revisit.claim_next(a2) == task_id
        phone_revisit.record_attempt(task_id, a2, "BUSY")
    with _travel(T0 + timedelta(days=2, hours=5)):
        assert phone_revisit.claim_next(a1) == task_id
        phone_revisit.record_attempt(task_id, a1, "INVALID_NUMBER", note="提示空号")
        task = reload(task_id)
    assert (task.status, task.channel, task.attempt_count) == ("LETTER_DUE", "LETTER", 3)
    assert task.assigned_to_id == a1  # kept on record; the letter is printed from the task page
    assert "无人接听" in task.result_note and "占线" in task.result_note and "空号/停机" in task.result_note
    outcomes = [a.outcome for a in db.session.query(CallAttempt).filter_by(task_id=task_id).order_by(CallAttempt.id)]
    assert outcomes == ["NO_ANSWER", "BUSY", "INVALID_NUMBER"]
    # out of the phone queue for good
    with _travel(T0 + timedelta(days=5)):
        assert phone_revisit.claim_next(a2) is None

    pdf = letters.letter_pdf(task_id)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Type /Page" in pdf
    text = _pdf_text(pdf)
    assert task.policy.policy_no in text  # the letter names the policy
    assert "回执" in text and render_questions(task)[0]["text"][:8] in text  # questions and reply slip


def _pdf_text(pdf):
    """The text a reader extracts (pypdf maps the embedded font's glyphs back to characters)."""
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_letter_is_refused_before_the_phone_tries_ran_out(seeded):
    with _travel(T0):
        task_id = phone_task()
    with pytest.raises(DomainError) as refused:
        letters.letter_pdf(task_id)
    assert refused.value.key == "letter_not_due"


def test_the_cap_and_the_day_rule_follow_the_admin_settings(seeded):
    from app.models.setting import Setting

    db.session.add_all([Setting(key="PHONE_MAX_ATTEMPTS", value="2"),
                        Setting(key="PHONE_ATTEMPTS_DIFFERENT_DAYS", value="false")])
    db.session.commit()
    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.claim_next(a1)
        phone_revisit.record_attempt(task_id, a1, "NO_ANSWER")
    with _travel(T0 + timedelta(hours=2)):  # same day is allowed now
        assert phone_revisit.claim_next(a1) == task_id
        phone_revisit.record_attempt(task_id, a1, "REFUSED")
    assert reload(task_id).status == "LETTER_DUE"


def test_the_reservation_follows_the_admin_setting(seeded):
    from app.models.setting import Setting

    db.session.add(Setting(key="CLAIM_RESERVATION_MINUTES", value=" 5 "))
    db.session.commit()
    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        assert phone_revisit.claim_next(a1) == task_id
    task = reload(task_id)
    assert (task.status, task.assigned_to_id, task.reserved_until) == ("IN_CALL", a1, T0 + timedelta(minutes=5))
    claim = db.session.query(AuditEvent).filter_by(action="claim", entity_id=str(task_id)).one()
    assert claim.before == {"status": "PHONE_QUEUE"}
    assert claim.after == {"status": "IN_CALL", "assigned_to_id": a1,
                           "reserved_until": (T0 + timedelta(minutes=5)).isoformat()}
    assert claim.occurred_at == T0
    with _travel(T0 + timedelta(minutes=6)):
        assert phone_revisit.release_lapsed() == 1


def test_on_mariadb_a_claim_is_one_call_of_the_procedure(seeded, claim_path):
    """The claim's round trips to the server: one CALL on the autocommit pool (the procedure
    commits its own transaction), against the statements path's SELECTs, UPDATE, INSERT, COMMIT."""
    import pymysql.connections

    from app import dbpool

    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        sent = []
        original = pymysql.connections.Connection._execute_command

        def spy(connection, command, sql):
            words = sql.split() if sql else []  # COM_PING carries no SQL (the pool's check, app/dbpool.py)
            sent.append("PING" if not words else (words[0].upper() if isinstance(sql, str) else words[0].decode().upper()))
            return original(connection, command, sql)

        for engine in (db.engine, dbpool.autocommit_engine()):  # connected before we count
            engine.connect().close()
        pymysql.connections.Connection._execute_command = spy
        try:
            assert phone_revisit.claim_next(a1) == task_id
        finally:
            pymysql.connections.Connection._execute_command = original
    assert reload(task_id).status == "IN_CALL"
    if claim_path == "procedure":
        # one statement; the pool may ping the connection first (DB_PING_IDLE_SECONDS, 0 by default)
        assert [statement for statement in sent if statement != "PING"] == ["CALL"] and sent.count("PING") <= 1, sent
    else:
        assert "CALL" not in sent and "COMMIT" in sent and len(sent) >= 5


def test_a_second_counted_call_on_the_same_day_is_refused(seeded):
    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.claim_next(a1)
        phone_revisit.record_attempt(task_id, a1, "NO_ANSWER")
        phone_revisit.assign(task_id, a1)  # a supervisor hands it straight back
        with pytest.raises(DomainError) as refused:
            phone_revisit.record_attempt(task_id, a1, "BUSY")
        assert refused.value.key == "attempt_same_day"
    assert reload(task_id).attempt_count == 1


def test_success_needs_the_holder_in_person_and_every_answer_yes(seeded):
    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.claim_next(a1)
        yes = all_yes(task_id)
        first = next(iter(yes))
        for kwargs, key in (
                (dict(answers=yes), "attempt_holder_not_verified"),
                (dict(answers={first: True}, holder_verified=True), "answers_incomplete"),
                (dict(answers={**yes, first: False}, holder_verified=True), "attempt_success_with_no")):
            with pytest.raises(DomainError) as refused:
                phone_revisit.record_attempt(task_id, a1, "SUCCESS", **kwargs)
            assert refused.value.key == key
            db.session.rollback()
        with pytest.raises(DomainError) as not_reached:
            phone_revisit.record_attempt(task_id, a1, "NOT_HOLDER", answers=yes)
        assert not_reached.value.key == "attempt_answers_not_reached"
        db.session.rollback()
        assert db.session.query(CallAttempt).count() == 0
        phone_revisit.record_attempt(task_id, a1, "SUCCESS", answers=yes, holder_verified=True)
    task = reload(task_id)
    assert (task.status, task.channel, task.open_policy_id) == ("SUCCESS", "PHONE", None)
    assert task.completed_at == T0
    answers = db.session.query(RevisitAnswer).filter_by(task_id=task_id).all()
    assert len(answers) == len(yes) and all(a.answer and a.channel == "PHONE" and a.attempt_id for a in answers)


def test_a_no_answer_makes_a_problem_case_for_the_supervisors(seeded):
    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.claim_next(a1)
        questions = render_questions(db.session.get(RevisitTask, task_id))
        answers = {q["question_id"]: True for q in questions}
        answers[questions[-1]["question_id"]] = False
        phone_revisit.record_attempt(task_id, a1, "PROBLEM", answers=answers, holder_verified=True,
                                     note="客户称不清楚保险责任")
    task = reload(task_id)
    assert (task.status, task.is_problem) == ("PROBLEM", True)
    assert questions[-1]["text"] in task.problem_reason and "客户称不清楚保险责任" in task.problem_reason
    # a problem case already called is for the supervisors, not back in the agents' queue
    with _travel(T0 + timedelta(days=1)):
        assert phone_revisit.claim_next(user_id("agent2")) is None
        # until a supervisor puts it back: then it is first in line
        phone_task(hesitation_days=1)
        phone_revisit.release(task_id, user_id("supervisor"), by_supervisor=True)
        assert phone_revisit.claim_next(user_id("agent2")) == task_id


def test_problem_outcome_needs_a_reason(seeded):
    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.claim_next(a1)
        with pytest.raises(DomainError) as refused:
            phone_revisit.record_attempt(task_id, a1, "PROBLEM")
    assert refused.value.key == "attempt_problem_reason"


def test_a_booked_callback_stays_with_its_agent_until_time_plus_grace(seeded):
    a1, a2 = user_id("agent1"), user_id("agent2")
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.claim_next(a1)
        with pytest.raises(DomainError) as past:
            phone_revisit.record_attempt(task_id, a1, "CALLBACK", callback_at="2026-11-24T08:00")
        assert past.value.key == "callback_time_range"
        db.session.rollback()
        phone_revisit.record_attempt(task_id, a1, "CALLBACK", callback_at="2026-11-24T15:30")
        task = reload(task_id)
        assert (task.status, task.assigned_to_id, task.attempt_count) == ("CALLBACK", a1, 0)
        assert task.reserved_until == datetime(2026, 11, 24, 15, 45)  # held: the time plus 15 minutes grace
        assert phone_revisit.claim_next(a2) is None
    with _travel(datetime(2026, 11, 24, 15, 30)):
        assert phone_revisit.claim_next(a2) is None  # still agent1's
        assert phone_revisit.reopen_lapsed_callbacks() == 0
    with _travel(datetime(2026, 11, 24, 15, 40)):
        assert phone_revisit.claim_next(a1) == task_id  # agent1 calls back in time
        phone_revisit.release(task_id, a1)
        db.session.query(RevisitTask).filter_by(id=task_id).update(
            {"status": "CALLBACK", "assigned_to_id": a1, "callback_at": datetime(2026, 11, 24, 15, 30),
             "reserved_until": datetime(2026, 11, 24, 15, 45)})
        db.session.commit()
    with _travel(datetime(2026, 11, 24, 15, 46)):  # 15:30 + 15 minutes grace has passed
        assert phone_revisit.claim_next(a1) is None  # no longer agent1's own callback
        assert phone_revisit.reopen_lapsed_callbacks() == 1
        assert phone_revisit.claim_next(a2) == task_id


def test_assign_and_reassign_are_audited_and_only_to_agents(seeded):
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.assign(task_id, user_id("agent1"))
        phone_revisit.assign(task_id, user_id("agent2"))
        with pytest.raises(DomainError) as refused:
            phone_revisit.assign(task_id, user_id("operator"))
        assert refused.value.key == "agent_not_found"
    task = reload(task_id)
    assert (task.status, task.assigned_to_id) == ("IN_CALL", user_id("agent2"))
    changes = db.session.query(AuditEvent).filter_by(entity="revisit_task", entity_id=str(task_id),
                                                     action="update").all()
    assert [c.after["assigned_to_id"] for c in changes if "assigned_to_id" in c.after] == \
        [user_id("agent1"), user_id("agent2")]
    load = {row["username"]: row for row in phone_revisit.agent_load()}
    assert load["agent2"]["in_call"] == 1 and load["agent1"]["in_call"] == 0


def test_a_reveal_is_an_audit_event(seeded):
    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.claim_next(a1)
        mobile = phone_revisit.reveal(task_id, a1, False, "mobile")
        with pytest.raises(DomainError):
            phone_revisit.reveal(task_id, user_id("agent2"), False, "id_number")
    assert mobile == db.session.query(Customer.mobile).filter_by(customer_no="C0001").scalar()
    events = db.session.query(AuditEvent).filter_by(action="reveal").all()
    assert len(events) == 1 and events[0].after["field"] == "mobile" and events[0].after["task_id"] == task_id


def test_callback_times_are_read_from_the_form(seeded):
    assert phone_revisit.parse_callback_at("2026-11-25 15:30") == datetime(2026, 11, 25, 15, 30)
    assert phone_revisit.parse_callback_at("2026-11-25T15:30") == datetime(2026, 11, 25, 15, 30)
    with pytest.raises(DomainError):
        phone_revisit.parse_callback_at("明天下午")


def test_the_beat_jobs_return_lapsed_work_to_the_queue(seeded):
    from app.tasks.phone_revisit import release_lapsed, reopen_lapsed_callbacks

    a1 = user_id("agent1")
    with _travel(T0):
        held, booked = phone_task(), phone_task()
        phone_revisit.claim_task(booked, a1)
        phone_revisit.record_attempt(booked, a1, "CALLBACK", callback_at="2026-11-24T10:00")
        phone_revisit.claim_task(held, a1)
    with _travel(T0 + timedelta(hours=2)):
        release_lapsed.delay()
        reopen_lapsed_callbacks.delay()
    assert [reload(t).status for t in (held, booked)] == ["PHONE_QUEUE", "PHONE_QUEUE"]
    actors = {e.actor_name for e in db.session.query(AuditEvent).filter(
        AuditEvent.action.in_(("release_lapsed", "reopen_callback")))}
    assert actors == {"celery:phone_revisit"}


def test_a_claim_that_waited_too_long_for_a_lock_runs_again(seeded, claim_path, servers):
    """The agent's due callback is locked by someone else (a supervisor reassigning it, say) for
    longer than the server's lock wait: the claim is tried again and gets it once the lock goes."""
    import threading
    import time

    from sqlalchemy import create_engine, text

    from app import dbpool

    if claim_path != "procedure":
        pytest.skip("the statements path takes a callback with a conditional UPDATE in the caller's session")
    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.claim_next(a1)
        phone_revisit.record_attempt(task_id, a1, "CALLBACK", callback_at="2026-11-24T10:00")
    other = create_engine(servers["database_url"])
    holder = other.connect()
    holder.execute(text("SELECT id FROM revisit_task WHERE id = :id FOR UPDATE"), {"id": task_id})
    db.session.rollback()
    with db.engine.connect() as conn:
        conn.execute(text("SET GLOBAL innodb_lock_wait_timeout = 1"))
    dbpool.autocommit_engine().dispose()  # new sessions: they read the 1 s wait
    release = threading.Timer(1.6, holder.commit)
    try:
        release.start()
        started = time.monotonic()
        with _travel(datetime(2026, 11, 24, 10, 5)):
            assert phone_revisit.claim_next(a1) == task_id
        assert time.monotonic() - started >= 1.0  # it did wait, and came back for a second try
    finally:
        release.join()
        holder.close()
        other.dispose()
        with db.engine.connect() as conn:
            conn.execute(text("SET GLOBAL innodb_lock_wait_timeout = 50"))
        dbpool.autocommit_engine().dispose()
    assert reload(task_id).status == "IN_CALL"


def test_the_callback_window_follows_the_admin_setting(seeded):
    from app.models.setting import Setting

    db.session.add(Setting(key="CALLBACK_MAX_DAYS", value="2"))
    db.session.commit()
    a1 = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
        phone_revisit.claim_next(a1)
        with pytest.raises(DomainError) as too_far:
            phone_revisit.record_attempt(task_id, a1, "CALLBACK", callback_at="2026-11-26T09:01")
        assert too_far.value.key == "callback_time_range" and "2 天" in too_far.value.message
        db.session.rollback()
        phone_revisit.record_attempt(task_id, a1, "CALLBACK", callback_at="2026-11-26T09:00")
    assert reload(task_id).status == "CALLBACK"
