"""The README's walkthrough on the supervisor's dashboard (issue 13, item 3): a phone revisit failed
on day 4 (无人接听) and succeeded on day 5; on day 5 the dashboard counts the call and the completed
visit of that day, and this month's two calls, whatever day the task was created."""
from datetime import datetime, timedelta

import pytest

from app.extensions import db
from app.models import RevisitTask
from app.services import dashboard, phone_revisit
from tests.conftest import login
from tests.services.test_phone_revisit import T0, _travel, all_yes, phone_task, user_id

pytestmark = pytest.mark.smoke

DAY4, DAY5 = T0, T0 + timedelta(days=1)


def _walkthrough():
    """The seed's tasks were created last month; one more, created last month too, goes to the phone."""
    db.session.query(RevisitTask).update({"created_at": datetime(2026, 10, 1)})
    db.session.commit()
    agent = user_id("agent1")
    with _travel(DAY4):
        task_id = phone_task(created_at=datetime(2026, 10, 20))
        assert phone_revisit.claim_next(agent) == task_id
        phone_revisit.record_attempt(task_id, agent, "NO_ANSWER")
    with _travel(DAY5):
        assert phone_revisit.claim_next(agent) == task_id
        phone_revisit.record_attempt(task_id, agent, "SUCCESS", answers=all_yes(task_id), holder_verified=True)
    return task_id


def test_the_walkthroughs_day_5_counts_the_call_and_the_visit_of_the_day(seeded):
    _walkthrough()
    with _travel(DAY5 + timedelta(hours=2)):
        f = dashboard.figures()
    today, month = f["today"], f["month"]
    assert (today["calls"], today["calls_by_outcome"]) == (1, {"SUCCESS": 1})
    assert (today["completed"], today["completed_by_channel"]) == (1, {"PHONE": 1})
    assert (today["phone_success"], today["phone_rate"]) == (1, 100.0)
    assert today["created"] == 0  # created last month: one figure among the others
    assert (month["calls"], month["calls_by_outcome"]) == (2, {"NO_ANSWER": 1, "SUCCESS": 1})
    assert month["completed_by_channel"] == {"PHONE": 1}
    with _travel(DAY4 + timedelta(hours=2)):
        day4 = dashboard.figures()["today"]
    # seen on day 4 afterwards: that day's failed call, nothing completed that day
    assert (day4["calls"], day4["calls_by_outcome"], day4["completed"]) == (1, {"NO_ANSWER": 1}, 0)


def test_the_supervisor_sees_the_walkthroughs_figures_on_the_page(seeded, client):
    _walkthrough()
    with _travel(DAY5 + timedelta(hours=2)):
        login(client, "supervisor")
        page = client.get("/revisit-dashboard/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "拨打电话" in html and "完成回访" in html
    assert 'id="today-calls">1<' in html and 'id="today-completed">1<' in html
    assert 'id="today-completed-PHONE">1<' in html and 'id="today-created">0<' in html
    assert 'id="month-calls">2<' in html


def test_the_daily_chart_counts_the_visit_on_the_day_it_was_completed(seeded, client):
    _walkthrough()
    with _travel(DAY5 + timedelta(hours=2)):
        daily = dashboard.daily_completions()
        login(client, "supervisor")
        html = client.get("/revisit-dashboard/").get_data(as_text=True)
    day5 = f"{DAY5:%m-%d}"
    assert daily["days"][0] == f"{DAY5.replace(day=1):%m-%d}" and daily["days"][-1] == day5
    assert daily["PHONE"][daily["days"].index(day5)] == 1 and sum(daily["PHONE"]) == 1
    assert 'id="daily-chart"' in html and "/vendor/echarts/" in html  # ECharts from the portal itself
