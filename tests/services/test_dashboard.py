"""The supervisors' figures: tasks by status and channel today and this month, the e-revisit
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
    db.session.query(RevisitTask).update({"created_at": datetime(2026, 10, 1)})  # the seed's: last month
    db.session.commit()
    earlier = T0 - timedelta(days=10)  # this month, not today
    with _travel(T0):
        online_ok = phone_task(created_at=T0)
        _set(online_ok, status="SUCCESS", channel="ELECTRONIC")
        still_online = phone_task(created_at=T0)
        _set(still_online, status="SMS_SENT", channel="ELECTRONIC")
        phone_ok = phone_task(created_at=earlier)
        _set(phone_ok, status="SUCCESS", channel="PHONE")
        letter = phone_task(created_at=earlier)
        _set(letter, status="LETTER_DUE", channel="LETTER")
        due_tomorrow = phone_task(created_at=earlier, hesitation_days=6)  # issued T0-5: ends T0+1
        overdue = phone_task(created_at=earlier, hesitation_days=3)  # ended T0-2
        closed_overdue = phone_task(created_at=earlier, hesitation_days=3)
        _set(closed_overdue, status="SUCCESS", channel="PHONE")
        f = dashboard.figures()
    today, month = f["today"], f["month"]
    assert today["total"] == 2
    assert today["by_status"] == {"SUCCESS": 1, "SMS_SENT": 1}
    assert today["erevisit_rate"] == 100.0  # the one still in its window is not counted yet
    assert today["phone_rate"] is None  # no phone visit ended among today's tasks
    assert month["total"] == 7
    assert month["cells"][("SUCCESS", "PHONE")] == 2 and month["by_channel"]["PHONE"] == 4
    assert month["erevisit_decided"] == 6 and month["erevisit_rate"] == round(100 / 6, 1)
    assert (month["phone_success"], month["phone_ended"], month["phone_rate"]) == (2, 3, 66.7)
    assert (f["due_soon"], f["overdue"]) == (1, 1)
    urgent = [t.id for t in dashboard.urgent_tasks(today=T0.date())]
    assert urgent == [overdue, due_tomorrow]
    assert {due_tomorrow, overdue}.isdisjoint({online_ok, still_online, phone_ok, letter})


def test_an_empty_table_gives_zeros_not_errors(app):
    with _travel(T0):
        f = dashboard.figures()
    assert f["month"]["total"] == 0 and f["month"]["erevisit_rate"] is None
    assert (f["due_soon"], f["overdue"]) == (0, 0)
