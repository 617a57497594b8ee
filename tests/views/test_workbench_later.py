"""After a failed call the agent is told when the task comes back (the different-days rule: the next
day) and the workbench lists their own tasks waiting for a later day (issue 13, item 4)."""
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import RevisitTask
from app.models.setting import Setting
from app.services import settings
from tests.conftest import csrf_token, login
from tests.services.test_phone_revisit import T0, _travel
from tests.views.test_workbench import _browser, _claimed

pytestmark = pytest.mark.smoke


def _record_no_answer(client, task_id):
    login(client, "agent1")
    page = client.get(f"/workbench/task/{task_id}").get_data(as_text=True)
    return client.post(f"/workbench/task/{task_id}/attempt",
                       data={"csrf_token": csrf_token(page), "outcome": "NO_ANSWER"}, follow_redirects=True)


def test_after_no_answer_the_agent_reads_when_the_task_comes_back_and_sees_it_waiting(seeded, client):
    with _travel(T0):
        task_id = _claimed()
        reply = _record_no_answer(client, task_id)
        html = reply.get_data(as_text=True)
        assert reply.status_code == 200
        assert "已放回电话回访队列" in html and "明天(2026-11-25)起可再次拨打" in html
        policy_no = db.session.get(RevisitTask, task_id).policy.policy_no
        waiting = html.split('id="waiting-later"')[1].split("</table>")[0]
        assert policy_no in waiting and "无人接听" in waiting and "2026-11-25" in waiting
        # another agent's workbench does not list it
        other = _browser(client)
        login(other, "agent2")
        theirs = other.get("/workbench/").get_data(as_text=True)
        assert policy_no not in theirs.split('id="waiting-later"')[1]
    with _travel(T0 + timedelta(days=1)):  # the next day it is in the queue again, no longer waiting
        client = _browser(client)
        login(client, "agent1")
        html = client.get("/workbench/").get_data(as_text=True)
        assert policy_no not in html.split('id="waiting-later"')[1] and "暂无等待改日再拨的任务" in html


def test_without_the_different_days_rule_the_task_can_be_taken_again_at_once(seeded, client):
    db.session.add(Setting(key="PHONE_ATTEMPTS_DIFFERENT_DAYS", value="false"))  # an admin turned it off
    db.session.commit()
    assert settings.get("PHONE_ATTEMPTS_DIFFERENT_DAYS") is False
    with _travel(T0):
        task_id = _claimed()
        html = _record_no_answer(client, task_id).get_data(as_text=True)
    assert "可通过“下一个任务”再次领取" in html and "起可再次拨打" not in html
    assert "暂无等待改日再拨的任务" in html
