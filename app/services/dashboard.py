"""The supervisors' figures: today and this month, tasks by status and channel, completion and
success rates, tasks close to or past their hesitation-period deadline.

Two aggregate statements over revisit_task; both read only indexed columns when the table has
the index the benchmark recommends (created_at, status, channel).
"""
from datetime import timedelta

from sqlalchemy import case, func, select

from app.extensions import db
from app.models.revisit import TASK_CHANNELS, TASK_STATUSES, RevisitTask
from app.services import clock
from app.services.revisit.states import OPEN as OPEN_STATUSES
from app.services.revisit.states import PHONE_FAILED, STILL_ONLINE, targets_of

DUE_SOON_DAYS = 2
ONLINE_SUCCESS, PHONE_SUCCESS = targets_of("all_yes"), targets_of("call_success")


def _rate(part, whole):
    return round(100.0 * part / whole, 1) if whole else None


def _period_figures(cells):
    """cells: {(status, channel): count} of tasks created in the period."""
    by_status, by_channel = {}, {}
    for (status, channel), n in cells.items():
        by_status[status] = by_status.get(status, 0) + n
        by_channel[channel] = by_channel.get(channel, 0) + n
    total = sum(cells.values())
    online_success = sum(cells.get((s, "ELECTRONIC"), 0) for s in ONLINE_SUCCESS)
    decided = total - sum(by_status.get(s, 0) for s in STILL_ONLINE)
    phone_success = sum(cells.get((s, "PHONE"), 0) for s in PHONE_SUCCESS)
    phone_ended = phone_success + sum(by_status.get(s, 0) for s in PHONE_FAILED)
    return {
        "total": total,
        "cells": cells,
        "by_status": by_status,
        "by_channel": by_channel,
        "erevisit_done": online_success,
        "erevisit_decided": decided,
        "erevisit_rate": _rate(online_success, decided),
        "phone_success": phone_success,
        "phone_ended": phone_ended,
        "phone_rate": _rate(phone_success, phone_ended),
    }


def figures(today=None):
    today = today or clock.today()
    day_start = clock.start_of_day(today)
    month_start = clock.start_of_day(today.replace(day=1))
    rows = db.session.execute(
        select(RevisitTask.status, RevisitTask.channel,
               func.sum(case((RevisitTask.created_at >= day_start, 1), else_=0)), func.count())
        .where(RevisitTask.created_at >= month_start, RevisitTask.created_at < day_start + timedelta(days=1))
        .group_by(RevisitTask.status, RevisitTask.channel)).all()
    today_cells = {(r[0], r[1]): int(r[2] or 0) for r in rows if r[2]}
    month_cells = {(r[0], r[1]): int(r[3]) for r in rows}
    soon_limit = today + timedelta(days=DUE_SOON_DAYS)
    overdue, due_soon = db.session.execute(
        select(func.sum(case((RevisitTask.hesitation_deadline < today, 1), else_=0)),
               func.sum(case((RevisitTask.hesitation_deadline >= today, 1), else_=0)))
        .where(RevisitTask.status.in_(OPEN_STATUSES), RevisitTask.hesitation_deadline <= soon_limit)).one()
    return {
        "today": _period_figures(today_cells),
        "month": _period_figures(month_cells),
        "overdue": int(overdue or 0),
        "due_soon": int(due_soon or 0),
        "due_soon_days": DUE_SOON_DAYS,
        "date": today,
        "statuses": TASK_STATUSES,
        "channels": TASK_CHANNELS,
    }


def urgent_tasks(limit=20, today=None):
    """The open tasks closest to (or past) their hesitation deadline, for the supervisors' list."""
    today = today or clock.today()
    return (db.session.query(RevisitTask)
            .filter(RevisitTask.status.in_(OPEN_STATUSES),
                    RevisitTask.hesitation_deadline <= today + timedelta(days=DUE_SOON_DAYS))
            .order_by(RevisitTask.hesitation_deadline, RevisitTask.id).limit(limit).all())
