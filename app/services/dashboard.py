"""The supervisors' figures, each counted on the day its event happened (issue 13, item 3):

- created: revisit tasks created in the period (one figure among the others);
- calls: phone calls made in the period (call_attempt.started_at), by outcome;
- completed: visits completed in the period (revisit_task.completed_at), by channel (e-revisit / phone);
- e-revisit completion rate: e-revisits completed online in the period ÷ those plus the e-revisits whose
  window closed unanswered in the period (erevisit_deadline in the period, moved to the phone);
- phone success rate: phone visits completed in the period ÷ those plus the phone visits that ran out of
  tries in the period (LETTER_DUE, on the day of their last try);
- tasks close to or past their hesitation-period deadline (open tasks, now).

A task created last month and visited today counts today. Each figure is one aggregate statement over
an indexed column (created_at, completed_at, started_at, erevisit_deadline, last_attempt_date).
"""
from datetime import timedelta

from sqlalchemy import case, func, select

from app.extensions import db
from app.models.revisit import CALL_OUTCOMES, TASK_CHANNELS, TASK_STATUSES, CallAttempt, RevisitTask
from app.services import clock, seal
from app.services.revisit.states import OPEN as OPEN_STATUSES
from app.services.revisit.states import PHONE_FAILED

DUE_SOON_DAYS = 2
COMPLETION_CHANNELS = ("ELECTRONIC", "PHONE")  # how a completed visit was done


def _rate(part, whole):
    return round(100.0 * part / whole, 1) if whole else None


def _split(rows):
    """rows of (key, count today, count this month) -> ({key: today}, {key: month}), zeros left out."""
    today, month = {}, {}
    for key, n_today, n_month in rows:
        if n_today:
            today[key] = int(n_today)
        if n_month:
            month[key] = int(n_month)
    return today, month


def _counts(column, key, start, day_start, end, *where):
    """(key, events today, events this month) for the rows whose `column` falls in the month so far."""
    return db.session.execute(
        select(key, func.sum(case((column >= day_start, 1), else_=0)), func.count())
        .where(column >= start, column < end, *where).group_by(key)).all()


def _period(created, calls, completed, expired, letters):
    completed_online = completed.get("ELECTRONIC", 0)
    completed_phone = completed.get("PHONE", 0)
    phone_failed = sum(letters.values())
    erevisit_decided = completed_online + expired
    phone_ended = completed_phone + phone_failed
    reached = calls.get("SUCCESS", 0) + calls.get("PROBLEM", 0) + calls.get("CALLBACK", 0)
    return {
        "created": sum(created.values()),
        "created_by_status": created,
        "calls": sum(calls.values()),
        "calls_by_outcome": calls,
        "calls_reached": reached,
        "completed": sum(completed.values()),
        "completed_by_channel": completed,
        "erevisit_done": completed_online,
        "erevisit_expired": expired,
        "erevisit_decided": erevisit_decided,
        "erevisit_rate": _rate(completed_online, erevisit_decided),
        "phone_success": completed_phone,
        "phone_failed": phone_failed,
        "phone_ended": phone_ended,
        "phone_rate": _rate(completed_phone, phone_ended),
    }


def figures(today=None):
    today = today or clock.today()
    day_start = clock.start_of_day(today)
    month_start = clock.start_of_day(today.replace(day=1))
    end = day_start + timedelta(days=1)

    created = _split(_counts(RevisitTask.created_at, RevisitTask.status, month_start, day_start, end))
    calls = _split(_counts(CallAttempt.started_at, CallAttempt.outcome, month_start, day_start, end))
    by_day = _completed_by_day(today)  # one statement for the figures and the daily chart
    completed = ({channel: n for (day, channel), n in by_day.items() if day == today.isoformat()}, {})
    for (day, channel), n in by_day.items():
        completed[1][channel] = completed[1].get(channel, 0) + n
    # the e-revisit window closed unanswered: the day-4 expiry moved the task to the phone
    expired = _split(_counts(RevisitTask.erevisit_deadline, RevisitTask.channel, month_start, day_start, end,
                             RevisitTask.channel != "ELECTRONIC", RevisitTask.is_problem.is_(False),
                             RevisitTask.erevisit_deadline <= clock.now()))
    # the phone visit failed on the day of its last try
    letters = _split(_counts(RevisitTask.last_attempt_date, RevisitTask.status, today.replace(day=1), today,
                             today + timedelta(days=1), RevisitTask.status.in_(PHONE_FAILED)))

    def period(i):
        return _period(created[i], calls[i], completed[i], sum(expired[i].values()), letters[i])

    soon_limit = today + timedelta(days=DUE_SOON_DAYS)
    overdue, due_soon = db.session.execute(
        select(func.sum(case((RevisitTask.hesitation_deadline < today, 1), else_=0)),
               func.sum(case((RevisitTask.hesitation_deadline >= today, 1), else_=0)))
        .where(RevisitTask.status.in_(OPEN_STATUSES), RevisitTask.hesitation_deadline <= soon_limit)).one()
    return {
        "today": period(0),
        "month": period(1),
        "overdue": int(overdue or 0),
        "due_soon": int(due_soon or 0),
        "due_soon_days": DUE_SOON_DAYS,
        "date": today,
        "statuses": TASK_STATUSES,
        "channels": TASK_CHANNELS,
        "outcomes": CALL_OUTCOMES,
        "seal": seal.last_seal_status(),  # the audit trail's last seal and its check (services/seal.py)
        "daily": daily_completions(today, by_day),
    }


def _completed_by_day(today):
    """{(ISO day, channel): visits completed} for this month up to today, counted by completed_at."""
    first = today.replace(day=1)
    day = func.date(RevisitTask.completed_at)
    rows = db.session.execute(
        select(day, RevisitTask.channel, func.count())
        .where(RevisitTask.completed_at >= clock.start_of_day(first),
               RevisitTask.completed_at < clock.start_of_day(today + timedelta(days=1)))
        .group_by(day, RevisitTask.channel)).all()
    return {(str(d)[:10], channel): int(n) for d, channel, n in rows}


def daily_completions(today=None, counts=None):
    """This month's visits completed, day by day up to today, by channel: {"days": ["11-01", ...],
    "ELECTRONIC": [n, ...], "PHONE": [n, ...]} (the dashboard's chart; counted by completed_at)."""
    today = today or clock.today()
    first = today.replace(day=1)
    counts = _completed_by_day(today) if counts is None else counts
    days = [first + timedelta(days=i) for i in range((today - first).days + 1)]
    series = {"days": [f"{d:%m-%d}" for d in days]}
    for channel in COMPLETION_CHANNELS:
        series[channel] = [counts.get((d.isoformat(), channel), 0) for d in days]
    return series


def urgent_tasks(limit=20, today=None):
    """The open tasks closest to (or past) their hesitation deadline, for the supervisors' list."""
    today = today or clock.today()
    return (db.session.query(RevisitTask)
            .filter(RevisitTask.status.in_(OPEN_STATUSES),
                    RevisitTask.hesitation_deadline <= today + timedelta(days=DUE_SOON_DAYS))
            .order_by(RevisitTask.hesitation_deadline, RevisitTask.id).limit(limit).all())
