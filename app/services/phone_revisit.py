"""The phone revisit (DOMAIN.md section 2): the agents' queue, claims, attempts, letter hand-over.

State machine of the phone side (the online side lives in app/services/revisit.py):

    PHONE_QUEUE / PROBLEM(not yet called) --claim--> IN_CALL
    CALLBACK (own, due) --claim--> IN_CALL
    IN_CALL --success--> SUCCESS            (holder in person, every answer 是)
            --problem / any 否--> PROBLEM   (to the supervisors, with the reason)
            --callback--> CALLBACK          (stays with the agent until the time + grace)
            --failed try--> PHONE_QUEUE     (or LETTER_DUE once the tries run out)
            --release / reservation lapsed--> PHONE_QUEUE
    CALLBACK --time + grace passed--> PHONE_QUEUE (open to every agent)

Claims are conditional set-based UPDATEs on a row picked with SELECT ... FOR UPDATE SKIP
LOCKED (MariaDB); on SQLite the conditional UPDATE alone decides (it moves a row only when
it is still in the state the statement expects), so no task is ever held by two agents.
On MariaDB the claim runs those rules inside the server, as the stored procedure
portal_claim_next (migration 5c1e8a0d4b27): one round trip, the hot path of the workbench.
Set-based moves are audited explicitly with audit.record(); ORM changes audit themselves.
"""
import functools
from datetime import datetime, timedelta

import pymysql
from flask import current_app
from sqlalchemy import and_, bindparam, func, or_, select, true, update

from app import dbpool
from app.extensions import db
from app.models.customer import Customer
from app.models.identity import IdentityVerification
from app.models.policy import Policy
from app.models.revisit import CALL_OUTCOMES, CallAttempt, RevisitAnswer, RevisitTask
from app.models.sms import SmsMessage
from app.services import audit, clock, revisit, settings
from app.services.errors import DomainError

# Where each outcome of a call takes the task (one table; LETTER_DUE replaces PHONE_QUEUE
# when a failed try was the last one allowed).
OUTCOME_STATUS = {
    "SUCCESS": "SUCCESS",
    "NO_ANSWER": "PHONE_QUEUE",
    "BUSY": "PHONE_QUEUE",
    "INVALID_NUMBER": "PHONE_QUEUE",
    "REFUSED": "PHONE_QUEUE",
    "NOT_HOLDER": "PHONE_QUEUE",
    "CALLBACK": "CALLBACK",
    "PROBLEM": "PROBLEM",
}
# The customer was reached in person: only then are answers taken.
REACHED = {"SUCCESS", "PROBLEM", "CALLBACK"}
# A booked callback is not a failed try: it does not count towards the cap.
UNCOUNTED = {"CALLBACK"}
PHONE_OPEN = ("PHONE_QUEUE", "IN_CALL", "CALLBACK", "PROBLEM")
RESULT_STATUSES = ("SUCCESS", "PROBLEM", "LETTER_DUE", "FAILED")
MAX_CALLBACK_DAYS = 30


def _setting(key):
    return settings.get(key)


def _settings(*keys, conn=None):
    """Several business settings in one query (admin override, else config.py's default); a stored
    value outside its range counts as not set (services/settings.py)."""
    return settings.get_many(*keys, conn=conn)


def _is_mysql():
    return db.engine.dialect.name in ("mysql", "mariadb")


def _begin_read_committed():
    """Start the claim's transaction at READ COMMITTED on MariaDB and return its connection:
    a locking scan then keeps no locks on rows it passed over, so other agents' SKIP LOCKED
    sees them. (SET TRANSACTION applies to the next transaction only: nothing to reset.)
    The claim path runs Core statements on that connection: it is the hot path."""
    db.session.rollback()
    conn = db.session.connection()
    engine_level = (current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}).get("isolation_level")
    if _is_mysql() and engine_level != "READ COMMITTED":  # config.py sets it engine-wide
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return conn


# --- the queue ------------------------------------------------------------------------------

def _not_attempted_today(today, different_days=None):
    if different_days is None:
        different_days = _setting("PHONE_ATTEMPTS_DIFFERENT_DAYS")
    if not different_days:
        return True
    return or_(RevisitTask.last_attempt_date.is_(None), RevisitTask.last_attempt_date < today)


def _queue_order():
    return (RevisitTask.hesitation_deadline, RevisitTask.created_at, RevisitTask.id)


@functools.lru_cache(maxsize=8)
def _claim_statements(locking, different_days):
    """The claim's statements, built once per process with bind parameters (the hot path: this
    saves building and hashing the expressions on every claim).

    The open queue, in its order: problem cases not yet called; problem cases back in the
    queue; the rest by hesitation deadline, then age (an agent's own due callbacks come first).
    is_problem = <literal>, not IS TRUE: an equality keeps each scan in ix_revisit_queue's
    order, so LIMIT 1 reads a handful of index entries and never sorts."""
    day_rule = (or_(RevisitTask.last_attempt_date.is_(None), RevisitTask.last_attempt_date < bindparam("b_today"))
                if different_days else true())
    selectors = [("PROBLEM", select(RevisitTask.id).where(
        RevisitTask.status == "PROBLEM", RevisitTask.is_problem == True,  # noqa: E712
        RevisitTask.attempt_count == 0, RevisitTask.assigned_to_id.is_(None)))]
    for problem in (True, False):
        selectors.append(("PHONE_QUEUE", select(RevisitTask.id).where(
            RevisitTask.status == "PHONE_QUEUE", RevisitTask.is_problem == problem, day_rule)))
    selectors = [(expected, query.order_by(*_queue_order()).limit(1)) for expected, query in selectors]
    if locking:
        selectors = [(expected, query.with_for_update(skip_locked=True)) for expected, query in selectors]
    own = select(RevisitTask.id, RevisitTask.status, RevisitTask.reserved_until, RevisitTask.callback_at).where(
        RevisitTask.assigned_to_id == bindparam("b_agent"), RevisitTask.reserved_until > bindparam("b_now"),
        RevisitTask.status.in_(("IN_CALL", "CALLBACK")))
    take = {}
    for expected, extra in (("CALLBACK", RevisitTask.assigned_to_id == bindparam("b_agent")),
                            ("PROBLEM", RevisitTask.assigned_to_id.is_(None)),
                            ("PHONE_QUEUE", true())):
        take[expected] = update(RevisitTask).where(
            RevisitTask.id == bindparam("b_task"), RevisitTask.status == expected, extra
        ).values(status="IN_CALL", assigned_to_id=bindparam("b_agent"), reserved_until=bindparam("b_until"),
                 updated_at=bindparam("b_now"))
    return own, selectors, take


def queue_filter(today=None):
    """Which rows an agent's "下一个任务" may take (for counting the queue)."""
    today = today or clock.today()
    return or_(
        and_(RevisitTask.status == "PROBLEM", RevisitTask.attempt_count == 0,
             RevisitTask.assigned_to_id.is_(None)),
        and_(RevisitTask.status == "PHONE_QUEUE", _not_attempted_today(today)))


def queue_size():
    return db.session.scalar(select(func.count()).select_from(RevisitTask).where(queue_filter()))


def _held(agent_id, now):
    return db.session.scalar(select(RevisitTask.id).where(
        RevisitTask.assigned_to_id == agent_id, RevisitTask.status == "IN_CALL",
        RevisitTask.reserved_until > now).order_by(RevisitTask.id).limit(1))


def claim_next(agent_id):
    """Claim the next task for the agent and return its id, or None when the queue is empty.

    An agent holds one call at a time: with a live reservation, that task is returned; then
    their own callbacks that are due; then the open queue."""
    now, today = clock.now(), clock.today()
    if _is_mysql() and current_app.config["CLAIM_WITH_PROCEDURE"]:
        return _claim_by_procedure(agent_id, now, today)
    conn = _begin_read_committed()
    reservation, different_days = _settings("CLAIM_RESERVATION_MINUTES", "PHONE_ATTEMPTS_DIFFERENT_DAYS",
                                            conn=conn)
    until = now + timedelta(minutes=reservation)
    own_query, selectors, _ = _claim_statements(_is_mysql(), bool(different_days))
    own = conn.execute(own_query, {"b_agent": agent_id, "b_now": now}).all()
    for row in own:
        if row.status == "IN_CALL":
            db.session.commit()
            return row.id
    due = sorted((r for r in own if r.status == "CALLBACK" and r.callback_at and r.callback_at <= now),
                 key=lambda r: (r.callback_at, r.id))
    for row in due:
        if _take(conn, row.id, "CALLBACK", agent_id, now, until):
            db.session.commit()
            return row.id
    params = {"b_today": today} if different_days else {}
    for expected, query in selectors:
        for _ in range(5):  # SQLite: another agent may win the row between SELECT and UPDATE
            task_id = conn.execute(query, params).scalar()
            if task_id is None:
                break
            if _take(conn, task_id, expected, agent_id, now, until):
                db.session.commit()
                return task_id
    db.session.commit()
    return None


CLAIM_TRIES = 3  # a claim that lost a lock race (the procedure rolled back) runs again


def _claim_by_procedure(agent_id, now, today):
    """The same claim in one round trip: the stored procedure portal_claim_next (migration
    5c1e8a0d4b27) runs these rules inside MariaDB, audit event included. It begins and commits
    its own transaction, so it runs on the autocommit pool, on the pool's DBAPI connection
    itself (SQLAlchemy's Connection would send a ROLLBACK on close even in autocommit)."""
    actor_type, actor_id, actor_name = audit.current_actor()
    ip, user_agent = audit.origin()
    config = current_app.config
    params = (agent_id, now, today, config["CLAIM_RESERVATION_MINUTES"],
              int(bool(config["PHONE_ATTEMPTS_DIFFERENT_DAYS"])), actor_type, actor_id, actor_name, ip, user_agent)
    db.session.expire_all()  # the caller reads the task afresh after the claim
    for attempt in range(1, CLAIM_TRIES + 1):
        connection = dbpool.autocommit_engine().raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("CALL portal_claim_next(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", params)
            task_id = cursor.fetchone()[0]
            cursor.close()
            return task_id
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as error:
            if not revisit.is_deadlock(error):
                connection.invalidate()  # a broken connection never goes back to the pool
                raise
            if attempt == CLAIM_TRIES:
                raise
        finally:
            connection.close()  # back to the pool (a no-op after invalidate)


def _take(conn, task_id, expected, agent_id, now, until):
    statement = _claim_statements(_is_mysql(), True)[2][expected]
    moved = conn.execute(statement, {"b_task": task_id, "b_agent": agent_id, "b_until": until,
                                     "b_now": now}).rowcount
    if moved == 1:
        audit.record(conn, "claim", "revisit_task", task_id, {"status": expected},
                     {"status": "IN_CALL", "assigned_to_id": agent_id,
                      "reserved_until": until.isoformat()})
    return moved == 1


def claim_task(task_id, agent_id):
    """Claim one named task: only one that is in the open queue or the agent's own callback."""
    now, today = clock.now(), clock.today()
    conn = _begin_read_committed()
    task = db.session.get(RevisitTask, task_id)
    if task is None:
        raise DomainError("task_not_found")
    if task.status == "IN_CALL" and task.assigned_to_id == agent_id:
        db.session.commit()
        return task_id
    claimable = (
        (task.status == "CALLBACK" and task.assigned_to_id == agent_id)
        or (task.status == "PROBLEM" and task.attempt_count == 0 and task.assigned_to_id is None)
        or (task.status == "PHONE_QUEUE" and task.assigned_to_id is None))
    if not claimable:
        raise DomainError("task_not_claimable")
    held = _held(agent_id, now)
    if held is not None and held != task_id:
        raise DomainError("claim_one_at_a_time")
    if (_setting("PHONE_ATTEMPTS_DIFFERENT_DAYS") and task.last_attempt_date == today
            and task.status != "CALLBACK"):
        raise DomainError("attempt_same_day")
    until = now + timedelta(minutes=_setting("CLAIM_RESERVATION_MINUTES"))
    if not _take(conn, task_id, task.status, agent_id, now, until):
        db.session.rollback()
        raise DomainError("task_not_claimable")
    db.session.commit()
    return task_id


def touch(task_id, agent_id):
    """The agent is working on the task: its idle reservation starts again."""
    now = clock.now()
    until = now + timedelta(minutes=_setting("CLAIM_RESERVATION_MINUTES"))
    db.session.execute(
        update(RevisitTask).where(RevisitTask.id == task_id, RevisitTask.status == "IN_CALL",
                                  RevisitTask.assigned_to_id == agent_id, RevisitTask.reserved_until > now)
        .values(reserved_until=until).execution_options(synchronize_session=False))
    db.session.commit()


def release_lapsed(now=None):
    """Idle reservations lapse: the task goes back to the queue. Returns how many moved."""
    now = now or clock.now()
    return _back_to_queue("IN_CALL", RevisitTask.reserved_until <= now, "release_lapsed", now)


def reopen_lapsed_callbacks(now=None):
    """A booked callback stays with its agent until its time plus the grace period (as it was
    when the callback was booked: its reserved_until), then opens to every agent."""
    now = now or clock.now()
    return _back_to_queue("CALLBACK", RevisitTask.reserved_until <= now, "reopen_callback", now)


def _back_to_queue(status, lapsed, action, now):
    """Set-based: tasks in `status` whose time has `lapsed` return to the open queue (audited)."""
    ids = db.session.execute(select(RevisitTask.id).where(RevisitTask.status == status, lapsed)).scalars().all()
    moved = 0
    if ids:
        moved = db.session.execute(
            update(RevisitTask).where(RevisitTask.id.in_(ids), RevisitTask.status == status, lapsed)
            .values(status="PHONE_QUEUE", assigned_to_id=None, reserved_until=None, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount
        if moved:
            audit.record(db.session, action, "revisit_task", None, {"status": status},
                         {"status": "PHONE_QUEUE", "count": moved, "ids": ids[:1000]})
    db.session.commit()
    return moved


# --- who may see and touch a task ---------------------------------------------------------------

def task_for(task_id, user_id, sees_all):
    """The task, when the user may open it: supervisors (and read-only roles) every task,
    an agent only one assigned to them."""
    try:
        task_id = int(task_id)
    except (TypeError, ValueError):
        raise DomainError("task_not_found") from None
    task = db.session.get(RevisitTask, task_id)
    if task is None or (not sees_all and task.assigned_to_id != user_id):
        raise DomainError("task_not_found")
    return task


def release(task_id, user_id, by_supervisor=False):
    """Give a task back to the queue: the agent their own call, a supervisor any open one."""
    task = _locked(task_id)
    if not by_supervisor and (task.assigned_to_id != user_id or task.status != "IN_CALL"):
        raise DomainError("task_not_found")
    if task.status not in ("IN_CALL", "CALLBACK", "PROBLEM", "PHONE_QUEUE"):
        raise DomainError("task_bad_transition", status=task.status, event="release")
    task.status = "PHONE_QUEUE"
    task.assigned_to_id = None
    task.reserved_until = None
    task.callback_at = None
    db.session.commit()
    return task


def assign(task_id, agent_id, by_user_id=None):
    """A supervisor assigns (or reassigns) an open phone task to an agent."""
    from app.models import User

    agent = db.session.get(User, agent_id)
    if agent is None or not agent.active or "Agent" not in {r.name for r in agent.roles}:
        raise DomainError("agent_not_found")
    task = _locked(task_id)
    if task.status not in PHONE_OPEN:
        raise DomainError("task_bad_transition", status=task.status, event="assign")
    until = clock.now() + timedelta(minutes=_setting("CLAIM_RESERVATION_MINUTES"))  # before any change
    task.assigned_to_id = agent.id
    if task.status != "CALLBACK":  # a booked callback keeps its time, with its new agent
        task.status = "IN_CALL"
        task.reserved_until = until
    db.session.commit()
    return task


def _locked(task_id):
    task = db.session.query(RevisitTask).filter_by(id=task_id).with_for_update().one_or_none()
    if task is None:
        raise DomainError("task_not_found")
    return task


def agent_load():
    """Each agent's calls in hand, booked callbacks, and attempts today."""
    from app.models import User

    today_start = clock.start_of_day(clock.today())
    held = dict(db.session.execute(
        select(RevisitTask.assigned_to_id, func.count()).where(RevisitTask.status == "IN_CALL")
        .group_by(RevisitTask.assigned_to_id)).all())
    callbacks = dict(db.session.execute(
        select(RevisitTask.assigned_to_id, func.count()).where(RevisitTask.status == "CALLBACK")
        .group_by(RevisitTask.assigned_to_id)).all())
    attempts = dict(db.session.execute(
        select(CallAttempt.agent_id, func.count()).where(CallAttempt.started_at >= today_start)
        .group_by(CallAttempt.agent_id)).all())
    agents = [u for u in db.session.query(User).order_by(User.username)
              if "Agent" in {r.name for r in u.roles}]
    return [{"id": u.id, "username": u.username, "name": f"{u.first_name}{u.last_name}",
             "in_call": held.get(u.id, 0), "callbacks": callbacks.get(u.id, 0),
             "attempts_today": attempts.get(u.id, 0)} for u in agents]


# --- recording a call -------------------------------------------------------------------------

def parse_callback_at(raw):
    """The booked time from a datetime-local field (2026-11-25T15:30) or '2026-11-25 15:30'."""
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        return raw.replace(second=0, microsecond=0)
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(str(raw).strip(), fmt)
        except ValueError:
            continue
    raise DomainError("callback_time_bad")


def record_attempt(task_id, agent_id, outcome, answers=None, callback_at=None, note=None,
                   holder_verified=False, started_at=None):
    """Record one call and move the task; returns the CallAttempt.

    `answers` maps question ids to True (是) / False (否). The rules: answers only when the
    policyholder was reached; success only in person with every answer 是; any 否 is a problem
    case; a booked callback needs a future time; at most PHONE_MAX_ATTEMPTS counted tries, on
    different days (PHONE_ATTEMPTS_DIFFERENT_DAYS); the last failed one makes a letter due.
    """
    if outcome not in CALL_OUTCOMES:
        raise DomainError("attempt_bad_outcome")
    now, today = clock.now(), clock.today()
    task = _locked(task_id)
    if task.assigned_to_id != agent_id or task.status not in ("IN_CALL", "CALLBACK"):
        raise DomainError("task_not_yours_to_record")
    answers = dict(answers or {})
    note = (note or "").strip() or None
    questions = revisit.render_questions(task)
    by_id = {q["question_id"]: q for q in questions}
    if set(answers) - set(by_id):
        raise DomainError("answers_unknown_question")
    if outcome not in REACHED and answers:
        raise DomainError("attempt_answers_not_reached")
    noes = [by_id[qid] for qid in sorted(answers, key=lambda i: by_id[i]["position"]) if answers[qid] is False]
    if outcome == "SUCCESS":
        if noes:
            raise DomainError("attempt_success_with_no")
        missing = [str(q["position"]) for q in questions if q["question_id"] not in answers]
        if missing:
            raise DomainError("answers_incomplete", missing="、".join(missing))
        if not holder_verified:
            raise DomainError("attempt_holder_not_verified")
    if outcome == "PROBLEM" and not noes and not note:
        raise DomainError("attempt_problem_reason")
    if noes and outcome == "CALLBACK":
        outcome = "PROBLEM"  # a 否 is a problem case whatever else was agreed
    if outcome == "CALLBACK":
        callback_at = parse_callback_at(callback_at)
        if callback_at is None:
            raise DomainError("callback_time_required")
        if callback_at <= now or callback_at > now + timedelta(days=MAX_CALLBACK_DAYS):
            raise DomainError("callback_time_range", days=MAX_CALLBACK_DAYS)
    else:
        callback_at = None
    counted = outcome not in UNCOUNTED
    max_attempts, different_days = _settings("PHONE_MAX_ATTEMPTS", "PHONE_ATTEMPTS_DIFFERENT_DAYS")
    if counted:
        if different_days and task.last_attempt_date == today:
            raise DomainError("attempt_same_day")
        if task.attempt_count >= max_attempts:
            raise DomainError("attempt_cap_reached", max=max_attempts)

    started_at = min(started_at or now, now)
    attempt = CallAttempt(task_id=task.id, agent_id=agent_id, outcome=outcome, callback_at=callback_at,
                          note=note, started_at=started_at, ended_at=now)
    db.session.add(attempt)
    for qid in sorted(answers, key=lambda i: by_id[i]["position"]):  # one flush writes the call and its answers
        db.session.add(RevisitAnswer(task_id=task.id, question_id=qid, question_text=by_id[qid]["text"],
                                     answer=answers[qid], channel="PHONE", attempt=attempt,
                                     answered_at=now))
    if counted:
        task.attempt_count += 1
        task.last_attempt_date = today
    task.reserved_until = None
    status = OUTCOME_STATUS[outcome]
    if outcome == "SUCCESS":
        task.completed_at = now
        task.open_policy_id = None
        task.channel = "PHONE"
        task.result_note = "电话回访成功"
    elif outcome == "PROBLEM":
        task.is_problem = True
        reasons = [f"{q['position']}. {q['text']}:否" for q in noes]
        if note:
            reasons.append(note)
        task.problem_reason = "电话回访发现问题:" + ";".join(reasons)
        task.result_note = "电话回访发现问题,转主管处理"
    elif outcome == "CALLBACK":
        task.callback_at = callback_at
        # the agent keeps the callback until its time plus the grace period
        task.reserved_until = callback_at + timedelta(minutes=_setting("CALLBACK_GRACE_MINUTES"))
    else:
        task.callback_at = None
        if task.attempt_count >= max_attempts:
            status = "LETTER_DUE"  # the tries ran out: the phone visit failed, a letter is due
            task.channel = "LETTER"
            task.result_note = "电话回访失败(" + ";".join(_attempt_lines(task, attempt)) + "),转信函回访"
        else:
            task.assigned_to_id = None  # back to the queue for any agent on another day
    task.status = status
    db.session.commit()
    return attempt


def _attempt_lines(task, latest=None):
    rows = list(task.attempts)
    if latest is not None and latest not in rows:
        rows.append(latest)
    return [f"{a.started_at:%Y-%m-%d %H:%M} {CALL_OUTCOMES.get(a.outcome, a.outcome)}" for a in rows]


# --- what the task page shows ---------------------------------------------------------------------

def history(task):
    """The e-revisit trail of a task: SMS sends with receipts, face checks, answers, attempts."""
    holder_id = task.policy.holder_id
    sms_filter = [SmsMessage.customer_id == holder_id]
    if task.link_id:
        sms_filter = [or_(SmsMessage.link_id == task.link_id, SmsMessage.customer_id == holder_id)]
    sms = db.session.query(SmsMessage).filter(*sms_filter).filter(
        SmsMessage.created_at >= task.created_at - timedelta(days=1)).order_by(SmsMessage.id).all()
    faces = db.session.query(IdentityVerification).filter(
        IdentityVerification.customer_id == holder_id,
        or_(IdentityVerification.link_id == task.link_id, IdentityVerification.link_id.is_(None))
        if task.link_id else IdentityVerification.purpose == "EREVISIT"
    ).order_by(IdentityVerification.id).all()
    answers = db.session.query(RevisitAnswer).filter_by(task_id=task.id).order_by(RevisitAnswer.id).all()
    attempts = db.session.query(CallAttempt).filter_by(task_id=task.id).order_by(CallAttempt.id).all()
    return {"sms": sms, "faces": faces, "answers": answers, "attempts": attempts}


def reveal(task_id, user_id, sees_all, field):
    """The unmasked ID number or mobile of the policyholder; every reveal is an audit event."""
    if field not in ("id_number", "mobile"):
        raise DomainError("reveal_bad_field")
    task = task_for(task_id, user_id, sees_all)
    holder = db.session.get(Customer, task.policy.holder_id)
    audit.record(db.session, "reveal", "customer", holder.id, None,
                 {"field": field, "task_id": task.id, "policy_no": task.policy.policy_no})
    db.session.commit()
    return getattr(holder, field)


def policy_of(task):
    return db.session.get(Policy, task.policy_id)


__all__ = ["claim_next", "claim_task", "release", "assign", "release_lapsed", "reopen_lapsed_callbacks",
           "record_attempt", "task_for", "history", "reveal", "agent_load", "queue_size", "touch",
           "OUTCOME_STATUS", "RESULT_STATUSES"]
