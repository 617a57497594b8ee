"""The supervisors' figures, each on the day of its event, today and this month (creations, calls,
completions by channel), the e-revisit
completion rate, the phone success rate, tasks due within 2 days and overdue ones."""
from datetime import datetime, timedelta

from app.extensions import db
from app.models import RevisitTask
from app.services import dashboard
from tests.services.test_phone_revisit import T0, _travel, phone_task


def _set(task_id, **values):
    db.session.query(RevisitTask).filter_by(id=task_id).update(values)
    db.session.commit()


def test_figures_for_today_and_this_month(seeded):
    """Each figure on the day of its event: completions by completed_at, failures on the day of the
    last try, expiries on their deadline, creations by created_at."""
    db.session.query(RevisitTask).update({"created_at": datetime(2026, 10, 1)})  # the seed's: last month
    db.session.commit()
    earlier = T0 - timedelta(days=10)  # this month, not today
    with _travel(T0):
        online_ok = phone_task(created_at=T0)
        _set(online_ok, status="SUCCESS", channel="ELECTRONIC", completed_at=T0)
        still_online = phone_task(created_at=T0)
        _set(still_online, status="SMS_SENT", channel="ELECTRONIC", erevisit_deadline=T0 + timedelta(days=3))
        phone_ok = phone_task(created_at=earlier)
        _set(phone_ok, status="SUCCESS", channel="PHONE", completed_at=earlier + timedelta(days=5))
        letter = phone_task(created_at=earlier)
        _set(letter, status="LETTER_DUE", channel="LETTER", last_attempt_date=(earlier + timedelta(days=6)).date())
        due_tomorrow = phone_task(created_at=earlier, hesitation_days=6)  # issued T0-5: ends T0+1
        overdue = phone_task(created_at=earlier, hesitation_days=3)  # ended T0-2
        closed_overdue = phone_task(created_at=earlier, hesitation_days=3)
        _set(closed_overdue, status="SUCCESS", channel="PHONE", completed_at=T0)
        f = dashboard.figures()
    today, month = f["today"], f["month"]
    assert today["created"] == 2 and today["created_by_status"] == {"SUCCESS": 1, "SMS_SENT": 1}
    assert today["completed_by_channel"] == {"ELECTRONIC": 1, "PHONE": 1}
    assert today["erevisit_rate"] == 100.0  # the one still in its window is not counted yet
    assert (today["phone_success"], today["phone_ended"]) == (1, 1)
    assert month["created"] == 7 and month["completed"] == 3
    # the phone tasks' e-revisit windows closed on T0-1 (issued T0-5): 5 expired unanswered this month
    assert month["erevisit_expired"] == 5 and month["erevisit_rate"] == round(100 / 6, 1)
    assert (month["phone_success"], month["phone_ended"], month["phone_rate"]) == (2, 3, 66.7)
    assert (f["due_soon"], f["overdue"]) == (1, 1)
    urgent = [t.id for t in dashboard.urgent_tasks(today=T0.date())]
    assert urgent == [overdue, due_tomorrow]
    assert {due_tomorrow, overdue}.isdisjoint({online_ok, still_online, phone_ok, letter})


def test_an_empty_table_gives_zeros_not_errors(app):
    with _travel(T0):
        f = dashboard.figures()
    assert f["month"]["created"] == 0 and f["month"]["calls"] == 0 and f["month"]["erevisit_rate"] is None
    assert (f["due_soon"], f["overdue"]) == (0, 0)
