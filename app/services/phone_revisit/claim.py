"""Holding a phone task: the claim ("下一个任务" and a named task), the idle reservation, the lapse
of reservations and of booked callbacks, and the supervisors' assign and release.

Claims are conditional set-based UPDATEs on a row picked with SELECT ... FOR UPDATE SKIP
LOCKED (MariaDB); on SQLite the conditional UPDATE alone decides (it moves a row only when
it is still in the state the statement expects), so no task is ever held by two agents.
On MariaDB the claim runs those rules inside the server, as the stored procedure
portal_claim_next (app/sql/portal_claim_next.sql): one round trip, the hot path of the workbench.
Every status written here comes from the state table (app/services/revisit/states.py).
Set-based moves are audited explicitly with audit.record(); ORM changes audit themselves.
"""
import functools
from datetime import timedelta

import pymysql
from flask import current_app
from sqlalchemy import and_, bindparam, func, or_, select, true, update
from sqlalchemy.exc import DBAPIError

from app import dbpool, table_versions
from app.extensions import db
from app.models.revisit import RevisitTask
from app.services import audit, clock, settings, unit
from app.services.errors import DomainError
from app.services.revisit.states import can, sources_of, target_of, transition

CLAIMED = target_of("claim")
QUEUED = target_of("release")  # the open queue every agent claims from
CLAIM_TRIES = 3  # a claim that lost a lock race (the procedure rolled back) runs again
CALL_CLAIM = "CALL portal_claim_next(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"


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


def _not_attempted_today(today, different_days=None):
    if different_days is None:
        different_days = settings.get("PHONE_ATTEMPTS_DIFFERENT_DAYS")
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
        selectors.append((QUEUED, select(RevisitTask.id).where(
            RevisitTask.status == QUEUED, RevisitTask.is_problem == problem, day_rule)))
    selectors = [(expected, query.order_by(*_queue_order()).limit(1)) for expected, query in selectors]
    if locking:
        selectors = [(expected, query.with_for_update(skip_locked=True)) for expected, query in selectors]
    own = select(RevisitTask.id, RevisitTask.status, RevisitTask.reserved_until, RevisitTask.callback_at).where(
        RevisitTask.assigned_to_id == bindparam("b_agent"), RevisitTask.reserved_until > bindparam("b_now"),
        RevisitTask.status.in_((CLAIMED,) + sources_of("callback_lapse")))
    # who may take a task in each claimable state: their own callback, an unassigned problem case
    # not yet called, anything in the open queue
    who = {"CALLBACK": RevisitTask.assigned_to_id == bindparam("b_agent"),
           "PROBLEM": RevisitTask.assigned_to_id.is_(None), QUEUED: true()}
    take = {expected: update(RevisitTask).where(
        RevisitTask.id == bindparam("b_task"), RevisitTask.status == expected, who[expected]
    ).values(status=transition(expected, "claim"), assigned_to_id=bindparam("b_agent"),
             reserved_until=bindparam("b_until"), updated_at=bindparam("b_now"))
        for expected in sources_of("claim")}
    return own, selectors, take


def queue_filter(today=None):
    """Which rows an agent's "下一个任务" may take (for counting the queue)."""
    today = today or clock.today()
    return or_(
        and_(RevisitTask.status == "PROBLEM", RevisitTask.attempt_count == 0,
             RevisitTask.assigned_to_id.is_(None)),
        and_(RevisitTask.status == QUEUED, _not_attempted_today(today)))


def queue_size():
    return db.session.scalar(select(func.count()).select_from(RevisitTask).where(queue_filter()))


def _held(agent_id, now):
    return db.session.scalar(select(RevisitTask.id).where(
        RevisitTask.assigned_to_id == agent_id, RevisitTask.status == CLAIMED,
        RevisitTask.reserved_until > now).order_by(RevisitTask.id).limit(1))


def claim_next(agent_id):
    """Claim the next task for the agent and return its id, or None when the queue is empty.

    An agent holds one call at a time: with a live reservation, that task is returned; then
    their own callbacks that are due; then the open queue."""
    now, today = clock.now(), clock.today()
    if _is_mysql() and current_app.config["CLAIM_WITH_PROCEDURE"]:
        return _claim_by_procedure(agent_id, now, today)
    conn = _begin_read_committed()
    reservation, different_days = settings.get_many("CLAIM_RESERVATION_MINUTES", "PHONE_ATTEMPTS_DIFFERENT_DAYS",
                                                    conn=conn)
    until = now + timedelta(minutes=reservation)
    own_query, selectors, _ = _claim_statements(_is_mysql(), bool(different_days))
    own = conn.execute(own_query, {"b_agent": agent_id, "b_now": now}).all()
    for row in own:
        if row.status == CLAIMED:
            db.session.commit()
            return row.id
    due = sorted((r for r in own if can(r.status, "claim") and r.callback_at and r.callback_at <= now),
                 key=lambda r: (r.callback_at, r.id))
    for row in due:
        if _take(conn, row.id, row.status, agent_id, now, until):
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


def _claim_by_procedure(agent_id, now, today):
    """The same claim in one round trip: the stored procedure portal_claim_next runs these rules
    inside MariaDB, audit event included. It begins and commits its own transaction, so it runs
    on the autocommit pool, on the pool's DBAPI connection itself (SQLAlchemy's Connection would
    send a ROLLBACK on close even in autocommit)."""
    actor_type, actor_id, actor_name = audit.current_actor()
    ip, user_agent = audit.origin()
    config = current_app.config
    params = (agent_id, now, today, config["CLAIM_RESERVATION_MINUTES"],
              int(bool(config["PHONE_ATTEMPTS_DIFFERENT_DAYS"])), actor_type, actor_id, actor_name, ip, user_agent)
    db.session.expire_all()  # the caller reads the task afresh after the claim
    return unit.retry_on_lock(_call_claim, params, tries=CLAIM_TRIES)


def _call_claim(params):
    connection = dbpool.autocommit_engine().raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(CALL_CLAIM, params)
        task_id = cursor.fetchone()[0]
        cursor.close()
        if task_id:  # the procedure committed on the raw connection, which the engine's events do not see
            table_versions.bump(table_versions.PROCEDURES["portal_claim_next"])
        return task_id
    except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as error:
        if not unit.is_lock_error(error):
            connection.invalidate()  # a broken connection never goes back to the pool
        # as SQLAlchemy's error, which the one retry (unit.retry_on_lock) knows
        raise DBAPIError.instance(CALL_CLAIM, params, error, pymysql.err.Error) from error
    finally:
        connection.close()  # back to the pool (a no-op after invalidate)


def _take(conn, task_id, expected, agent_id, now, until):
    statement = _claim_statements(_is_mysql(), True)[2][expected]
    moved = conn.execute(statement, {"b_task": task_id, "b_agent": agent_id, "b_until": until,
                                     "b_now": now}).rowcount
    if moved == 1:
        audit.record(conn, "claim", "revisit_task", task_id, {"status": expected},
                     {"status": CLAIMED, "assigned_to_id": agent_id,
                      "reserved_until": until.isoformat()})
    return moved == 1


def claim_task(task_id, agent_id):
    """Claim one named task: only one that is in the open queue or the agent's own callback."""
    now, today = clock.now(), clock.today()
    conn = _begin_read_committed()
    task = db.session.get(RevisitTask, task_id)
    if task is None:
        raise DomainError("task_not_found")
    if task.status == CLAIMED and task.assigned_to_id == agent_id:
        db.session.commit()
        return task_id
    claimable = can(task, "claim") and (
        (task.status == "CALLBACK" and task.assigned_to_id == agent_id)
        or (task.status == "PROBLEM" and task.attempt_count == 0 and task.assigned_to_id is None)
        or (task.status == QUEUED and task.assigned_to_id is None))
    if not claimable:
        raise DomainError("task_not_claimable")
    held = _held(agent_id, now)
    if held is not None and held != task_id:
        raise DomainError("claim_one_at_a_time")
    if (settings.get("PHONE_ATTEMPTS_DIFFERENT_DAYS") and task.last_attempt_date == today
            and task.status != "CALLBACK"):
        raise DomainError("attempt_same_day")
    until = now + timedelta(minutes=settings.get("CLAIM_RESERVATION_MINUTES"))
    if not _take(conn, task_id, task.status, agent_id, now, until):
        db.session.rollback()
        raise DomainError("task_not_claimable")
    db.session.commit()
    return task_id


def touch(task_id, agent_id):
    """The agent is working on the task: its idle reservation starts again."""
    now = clock.now()
    until = now + timedelta(minutes=settings.get("CLAIM_RESERVATION_MINUTES"))
    db.session.execute(
        update(RevisitTask).where(RevisitTask.id == task_id, RevisitTask.status == CLAIMED,
                                  RevisitTask.assigned_to_id == agent_id, RevisitTask.reserved_until > now)
        .values(reserved_until=until).execution_options(synchronize_session=False))
    db.session.commit()


def release_lapsed(now=None):
    """Idle reservations lapse: the task goes back to the queue. Returns how many moved."""
    now = now or clock.now()
    return _lapse("reservation_lapse", RevisitTask.reserved_until <= now, "release_lapsed", now)


def reopen_lapsed_callbacks(now=None):
    """A booked callback stays with its agent until its time plus the grace period (as it was
    when the callback was booked: its reserved_until), then opens to every agent."""
    now = now or clock.now()
    return _lapse("callback_lapse", RevisitTask.reserved_until <= now, "reopen_callback", now)


def _lapse(event, lapsed, action, now):
    """Set-based: tasks the event moves whose time has `lapsed` return to the open queue (audited)."""
    sources, target = sources_of(event), target_of(event)
    where = (RevisitTask.status.in_(sources), lapsed)
    ids = db.session.execute(select(RevisitTask.id).where(*where)).scalars().all()
    moved = 0
    if ids:
        moved = db.session.execute(
            update(RevisitTask).where(RevisitTask.id.in_(ids), *where)
            .values(status=target, assigned_to_id=None, reserved_until=None, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount
        if moved:
            audit.record(db.session, action, "revisit_task", None, {"status": ",".join(sources)},
                         {"status": target, "count": moved, "ids": ids[:1000]})
    db.session.commit()
    return moved


def locked_task(task_id):
    """The task under a row lock (for a change that reads it first), or task_not_found."""
    task = db.session.query(RevisitTask).filter_by(id=task_id).with_for_update().one_or_none()
    if task is None:
        raise DomainError("task_not_found")
    return task


def release(task_id, user_id, by_supervisor=False):
    """Give a task back to the queue: the agent their own call, a supervisor any task the state
    table lets go (a held call, a booked callback, a problem case)."""
    task = locked_task(task_id)
    if not by_supervisor and (task.assigned_to_id != user_id or not can(task, "give_back")):
        raise DomainError("task_not_found")
    task.status = transition(task.status, "release" if by_supervisor else "give_back")
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
    task = locked_task(task_id)
    status = transition(task.status, "assign")
    until = clock.now() + timedelta(minutes=settings.get("CLAIM_RESERVATION_MINUTES"))  # before any change
    task.assigned_to_id = agent.id
    if status == CLAIMED:  # a booked callback stays one (CALLBACK), keeping its time, with its new agent
        task.status = status
        task.reserved_until = until
    db.session.commit()
    return task
