"""What the workbench, the supervisors' board and the call-centre API read: who may open a task,
the agent's tasks, the board's page, agents' load, a task's trail, paged results and attempts."""
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models.customer import Customer
from app.models.identity import IdentityVerification
from app.models.policy import Policy
from app.models.revisit import CallAttempt, RevisitAnswer, RevisitTask
from app.models.sms import SmsMessage
from app.services import audit, clock, export, settings
from app.services.errors import DomainError
from app.services.revisit.states import BOARD, HELD, PHONE_OPEN, RESULTS, target_of

CLAIMED = target_of("claim")
MAX_OFFSET = 2 ** 62  # a page past this is empty (MariaDB refuses an OFFSET beyond 2^64 - 1)
BOOKED = target_of("call_callback")


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


def held_by(user_id):
    """The calls and booked callbacks the agent holds now, calls first."""
    return (db.session.query(RevisitTask)
            .filter(RevisitTask.assigned_to_id == user_id, RevisitTask.reserved_until.isnot(None),
                    RevisitTask.status.in_(HELD))
            .order_by(RevisitTask.status.desc(), RevisitTask.callback_at, RevisitTask.id).all())


def comes_back_on(task, today=None):
    """The day a task put back in the queue after a failed call may be called again: the next day when
    it was tried today and the attempts must fall on different days (PHONE_ATTEMPTS_DIFFERENT_DAYS),
    else today. None when the task is not waiting in the queue."""
    today = today or clock.today()
    if task.status != target_of("give_back"):
        return None
    if settings.get("PHONE_ATTEMPTS_DIFFERENT_DAYS") and task.last_attempt_date is not None \
            and task.last_attempt_date >= today:
        return task.last_attempt_date + timedelta(days=1)
    return today


def waiting_later(user_id, limit=50):
    """The agent's own tasks waiting for a later day: the ones they called today without reaching
    the customer, back in the queue, that nobody may call again before tomorrow (the different-days
    rule). Dicts of task, back_on (the day) and outcome (the agent's last call), oldest call first."""
    today = clock.today()
    if not settings.get("PHONE_ATTEMPTS_DIFFERENT_DAYS"):
        return []
    calls = (db.session.query(CallAttempt.task_id, CallAttempt.outcome)
             .join(RevisitTask, RevisitTask.id == CallAttempt.task_id)
             .filter(CallAttempt.agent_id == user_id, CallAttempt.started_at >= clock.start_of_day(today),
                     RevisitTask.status == target_of("give_back"), RevisitTask.last_attempt_date == today)
             .order_by(CallAttempt.id).limit(limit * 4).all())
    outcomes = {}
    for task_id, outcome in calls:
        outcomes.pop(task_id, None)
        outcomes[task_id] = outcome  # the last call, in the order of the calls
    ids = list(outcomes)[:limit]
    tasks = {t.id: t for t in db.session.query(RevisitTask).filter(RevisitTask.id.in_(ids))} if ids else {}
    return [{"task": tasks[i], "back_on": comes_back_on(tasks[i], today), "outcome": outcomes[i]}
            for i in ids if i in tasks]


def done_today(user_id, limit=50):
    """The agent's tasks that reached a result today, newest first."""
    today_start = clock.start_of_day(clock.today())
    return (db.session.query(RevisitTask)
            .filter(RevisitTask.assigned_to_id == user_id, RevisitTask.status.in_(RESULTS),
                    RevisitTask.updated_at >= today_start)
            .order_by(RevisitTask.updated_at.desc()).limit(limit).all())


def board(status=None, agent_id=None, page=1, page_size=50):
    """The supervisors' board: (tasks of the page, total). `status` one of BOARD, else every
    open phone task; problem cases first, then the nearest hesitation deadline."""
    query = db.session.query(RevisitTask)
    if status in BOARD:
        query = query.filter(RevisitTask.status == status)
    else:
        query = query.filter(RevisitTask.status.in_(PHONE_OPEN))
    if agent_id is not None:
        query = query.filter(RevisitTask.assigned_to_id == agent_id)
    total = query.count()
    tasks = (query.order_by(RevisitTask.is_problem.desc(), RevisitTask.hesitation_deadline,
                            RevisitTask.created_at, RevisitTask.id)
             .offset(_offset(page, page_size)).limit(page_size).all())
    return tasks, total


def _offset(page, page_size):
    return min((page - 1) * page_size, MAX_OFFSET)


def problem_cases(limit=50):
    return (db.session.query(RevisitTask).filter(RevisitTask.status == target_of("call_problem"))
            .order_by(RevisitTask.hesitation_deadline, RevisitTask.id).limit(limit).all())


def agent_load():
    """Each agent's calls in hand, booked callbacks, and attempts today."""
    from app.models import User

    today_start = clock.start_of_day(clock.today())
    held = dict(db.session.execute(
        select(RevisitTask.assigned_to_id, func.count()).where(RevisitTask.status == CLAIMED)
        .group_by(RevisitTask.assigned_to_id)).all())
    callbacks = dict(db.session.execute(
        select(RevisitTask.assigned_to_id, func.count()).where(RevisitTask.status == BOOKED)
        .group_by(RevisitTask.assigned_to_id)).all())
    attempts = dict(db.session.execute(
        select(CallAttempt.agent_id, func.count()).where(CallAttempt.started_at >= today_start)
        .group_by(CallAttempt.agent_id)).all())
    agents = [u for u in db.session.query(User).order_by(User.username)
              if "Agent" in {r.name for r in u.roles}]
    return [{"id": u.id, "username": u.username, "name": f"{u.first_name}{u.last_name}",
             "in_call": held.get(u.id, 0), "callbacks": callbacks.get(u.id, 0),
             "attempts_today": attempts.get(u.id, 0)} for u in agents]


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


# --- the call-centre API: pages in SQL ---------------------------------------------------------

def results_page(start, end, page, page_size):
    """Revisit results reached between two dates (inclusive), one page: (tasks, total)."""
    query = export.results_query(start, end)
    total = query.order_by(None).count()
    tasks = (query.options(selectinload(RevisitTask.policy), selectinload(RevisitTask.assigned_to),
                           selectinload(RevisitTask.attempts).selectinload(CallAttempt.agent),
                           selectinload(RevisitTask.answers))
             .offset(_offset(page, page_size)).limit(page_size).all())
    return tasks, total


def tasks_of_policy(policy_no):
    """The revisit tasks of one policy, newest first; None for an unknown policy number."""
    policy = db.session.query(Policy).filter_by(policy_no=policy_no).one_or_none()
    if policy is None or policy.policy_no != policy_no:  # collations compare case-insensitively
        return None
    return (db.session.query(RevisitTask).filter_by(policy_id=policy.id)
            .options(selectinload(RevisitTask.attempts), selectinload(RevisitTask.answers))
            .order_by(RevisitTask.id.desc()).all())


def attempts_page(since, page, page_size):
    """Call attempts started at or after `since`, oldest first, one page: (attempts, total)."""
    query = db.session.query(CallAttempt).filter(CallAttempt.started_at >= since)
    total = query.count()
    rows = (query.options(selectinload(CallAttempt.task).selectinload(RevisitTask.policy),
                          selectinload(CallAttempt.agent))
            .order_by(CallAttempt.started_at, CallAttempt.id).offset(_offset(page, page_size)).limit(page_size).all())
    return rows, total
