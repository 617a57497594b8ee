"""The workbench, the supervisors' board, the dashboard, the export and the call-centre API,
through the real web UI (test client) on MariaDB."""
import pytest
import io
from datetime import datetime, timedelta

import openpyxl
from flask import g

from app.extensions import db
from app.models import Customer, RevisitTask
from app.models.audit import AuditEvent
from app.models.revisit import CallAttempt
from app.services import phone_revisit
from app.services.revisit import render_questions
from tests.conftest import PASSWORD, csrf_token, login
from tests.services.test_phone_revisit import T0, _travel, phone_task, user_id

# the three faces also run on the embedded default (SQLite) in `make test`
pytestmark = pytest.mark.smoke


def _browser(client):
    """Another browser. The tests run inside an app context that requests share, so what the first
    browser left on `g` (flask-login's user, Flask-WTF's CSRF token) must be forgotten first."""
    for key in ("_login_user", "user", "csrf_token"):
        g.pop(key, None)
    return client.application.test_client()


def _holder():
    return db.session.query(Customer).filter_by(customer_no="C0001").one()


def _claimed(username="agent1"):
    task_id = phone_task()
    assert phone_revisit.claim_next(user_id(username)) == task_id
    return task_id


def test_next_task_claims_and_opens_the_task_page_with_masked_data(seeded, client):
    holder = _holder()
    task_id = phone_task()
    login(client, "agent1")
    board = client.get("/workbench/")
    assert board.status_code == 200 and "下一个任务" in board.get_data(as_text=True)
    reply = client.post("/workbench/next", data={"csrf_token": csrf_token(board.get_data(as_text=True))})
    assert reply.status_code == 302 and reply.headers["Location"].endswith(f"/workbench/task/{task_id}")
    db.session.expire_all()
    task = db.session.get(RevisitTask, task_id)
    assert (task.status, task.assigned_to_id) == ("IN_CALL", user_id("agent1"))
    html = client.get(f"/workbench/task/{task_id}").get_data(as_text=True)
    assert task.policy.policy_no in html and holder.name in html
    for question in render_questions(task):
        assert question["text"] in html  # the call script with the policy's values
    # never the unmasked ID number or mobile before a reveal, anywhere on the page
    assert holder.id_number not in html and holder.mobile not in html
    assert holder.id_number[:3] in html and holder.id_number[-4:] in html
    assert not db.session.query(AuditEvent).filter_by(action="reveal").count()


def test_a_click_reveals_the_mobile_and_is_audited(seeded, client):
    holder = _holder()
    task_id = _claimed()
    login(client, "agent1")
    page = client.get(f"/workbench/task/{task_id}").get_data(as_text=True)
    reply = client.post(f"/workbench/task/{task_id}/reveal",
                        data={"csrf_token": csrf_token(page), "field": "mobile"})
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200 and holder.mobile in html and holder.id_number not in html
    events = db.session.query(AuditEvent).filter_by(action="reveal").all()
    assert len(events) == 1 and events[0].actor_name == "agent1" and events[0].after["field"] == "mobile"
    # without the CSRF token nothing is revealed
    refused = client.post(f"/workbench/task/{task_id}/reveal", data={"field": "id_number"})
    assert refused.status_code == 400 and holder.id_number not in refused.get_data(as_text=True)


def test_an_agent_cannot_open_claim_or_record_on_another_agents_task(seeded, client):
    holder = _holder()
    other = _claimed("agent2")
    login(client, "agent1")
    token = csrf_token(client.get("/workbench/").get_data(as_text=True))
    opened = client.get(f"/workbench/task/{other}")
    assert opened.status_code == 404 and holder.name not in opened.get_data(as_text=True)
    assert client.get(f"/workbench/task/{other}/letter.pdf").status_code == 404
    claimed = client.post(f"/workbench/claim/{other}", data={"csrf_token": token}, follow_redirects=True)
    assert "已被其他专员领取" in claimed.get_data(as_text=True)
    recorded = client.post(f"/workbench/task/{other}/attempt",
                           data={"csrf_token": token, "outcome": "NO_ANSWER"})
    assert recorded.status_code == 404
    revealed = client.post(f"/workbench/task/{other}/reveal", data={"csrf_token": token, "field": "mobile"})
    assert revealed.status_code == 404 and holder.mobile not in revealed.get_data(as_text=True)
    released = client.post(f"/workbench/task/{other}/release", data={"csrf_token": token})
    assert released.status_code == 302
    db.session.expire_all()
    task = db.session.get(RevisitTask, other)
    assert (task.status, task.assigned_to_id, task.attempt_count) == ("IN_CALL", user_id("agent2"), 0)
    assert db.session.query(CallAttempt).count() == 0
    # and the supervisors' pages are not theirs
    assert client.get("/supervision/").status_code in (302, 403)
    assert client.get("/revisit-dashboard/").status_code in (302, 403)


def test_recording_a_failed_then_a_successful_call_on_the_next_day(seeded, client):
    with _travel(T0):
        task_id = _claimed()
        login(client, "agent1")
        page = client.get(f"/workbench/task/{task_id}").get_data(as_text=True)
        reply = client.post(f"/workbench/task/{task_id}/attempt",
                            data={"csrf_token": csrf_token(page), "outcome": "NO_ANSWER", "note": "响铃无人接"})
        assert reply.status_code == 302
    with _travel(T0 + timedelta(days=1)):
        client = _browser(client)  # a new working day, a new browser session
        login(client, "agent1")
        board = client.get("/workbench/").get_data(as_text=True)
        reply = client.post("/workbench/next", data={"csrf_token": csrf_token(board)})
        assert reply.headers["Location"].endswith(f"/workbench/task/{task_id}")
        task = db.session.get(RevisitTask, task_id)
        data = {"csrf_token": csrf_token(board), "outcome": "SUCCESS", "holder_verified": "y"}
        data.update({f"q_{q['question_id']}": "yes" for q in render_questions(task)})
        reply = client.post(f"/workbench/task/{task_id}/attempt", data=data, follow_redirects=True)
        assert "回访成功" in reply.get_data(as_text=True)
    db.session.expire_all()
    task = db.session.get(RevisitTask, task_id)
    assert (task.status, task.attempt_count) == ("SUCCESS", 2)
    assert [a.outcome for a in task.attempts] == ["NO_ANSWER", "SUCCESS"]


def test_bad_input_gets_a_chinese_error_and_keeps_what_was_typed(seeded, client):
    with _travel(T0):
        task_id = _claimed()
        login(client, "agent1")
        page = client.get(f"/workbench/task/{task_id}").get_data(as_text=True)
        task = db.session.get(RevisitTask, task_id)
        first = render_questions(task)[0]["question_id"]
        reply = client.post(f"/workbench/task/{task_id}/attempt", data={
            "csrf_token": csrf_token(page), "outcome": "CALLBACK", "note": "客户在开会,下午再打",
            f"q_{first}": "yes"})
        html = reply.get_data(as_text=True)
        assert reply.status_code == 400 and "预约回拨请填写回拨时间" in html
        assert "客户在开会,下午再打" in html  # the note is kept
        assert f'name="q_{first}" value="yes" checked' in html  # and the answer given
        assert '<option selected value="CALLBACK">' in html
        # without the CSRF token: refused, nothing recorded, the text still there
        reply = client.post(f"/workbench/task/{task_id}/attempt",
                            data={"outcome": "NO_ANSWER", "note": "没有令牌"})
        assert reply.status_code == 400 and "没有令牌" in reply.get_data(as_text=True)
        # a proper callback booking
        reply = client.post(f"/workbench/task/{task_id}/attempt", data={
            "csrf_token": csrf_token(page), "outcome": "CALLBACK", "callback_at": "2026-11-24T16:00"})
        assert reply.status_code == 302
    db.session.expire_all()
    task = db.session.get(RevisitTask, task_id)
    assert (task.status, task.callback_at) == ("CALLBACK", datetime(2026, 11, 24, 16, 0))
    assert db.session.query(CallAttempt).count() == 1


def test_a_no_through_the_form_makes_a_problem_case(seeded, client):
    with _travel(T0):
        task_id = _claimed()
        login(client, "agent1")
        page = client.get(f"/workbench/task/{task_id}").get_data(as_text=True)
        questions = render_questions(db.session.get(RevisitTask, task_id))
        data = {"csrf_token": csrf_token(page), "outcome": "SUCCESS", "holder_verified": "y"}
        data.update({f"q_{q['question_id']}": "yes" for q in questions})
        data[f"q_{questions[1]['question_id']}"] = "no"
        refused = client.post(f"/workbench/task/{task_id}/attempt", data=data)
        assert refused.status_code == 400 and "不能登记为成功" in refused.get_data(as_text=True)
        data["outcome"] = "PROBLEM"
        assert client.post(f"/workbench/task/{task_id}/attempt", data=data).status_code == 302
    db.session.expire_all()
    task = db.session.get(RevisitTask, task_id)
    assert task.status == "PROBLEM" and questions[1]["text"] in task.problem_reason
    supervisor = _browser(client)
    login(supervisor, "supervisor")
    board = supervisor.get("/supervision/").get_data(as_text=True)
    assert "问题件" in board and questions[1]["text"] in board


def test_supervisor_assigns_reassigns_and_releases(seeded, client):
    task_id = phone_task()
    login(client, "supervisor")
    board = client.get("/supervision/").get_data(as_text=True)
    token = csrf_token(board)
    a1, a2 = user_id("agent1"), user_id("agent2")
    client.post(f"/supervision/assign/{task_id}", data={"csrf_token": token, "agent_id": a1})
    db.session.expire_all()
    assert db.session.get(RevisitTask, task_id).assigned_to_id == a1
    client.post(f"/supervision/assign/{task_id}", data={"csrf_token": token, "agent_id": a2})
    db.session.expire_all()
    assert (db.session.get(RevisitTask, task_id).status, db.session.get(RevisitTask, task_id).assigned_to_id) \
        == ("IN_CALL", a2)
    board = client.get("/supervision/").get_data(as_text=True)
    assert "agent2" in board
    client.post(f"/supervision/release/{task_id}", data={"csrf_token": token})
    db.session.expire_all()
    task = db.session.get(RevisitTask, task_id)
    assert (task.status, task.assigned_to_id) == ("PHONE_QUEUE", None)
    updates = db.session.query(AuditEvent).filter_by(entity="revisit_task", entity_id=str(task_id),
                                                     action="update", actor_name="supervisor").all()
    assert [u.after.get("assigned_to_id", "-") for u in updates] == [a1, a2, None]
    # an agent cannot assign
    agent = _browser(client)
    login(agent, "agent1")
    agent.post(f"/supervision/assign/{task_id}", data={"csrf_token": agent.csrf, "agent_id": a1})
    db.session.expire_all()
    assert db.session.get(RevisitTask, task_id).assigned_to_id is None


def test_dashboard_and_export_of_the_days_results(seeded, client):
    with _travel(T0):
        done, failed = phone_task(), phone_task()
        waiting = phone_task(hesitation_days=6)  # hesitation ends tomorrow
        a1 = user_id("agent1")
        phone_revisit.claim_next(a1)  # the nearest deadline comes first
        phone_revisit.release(waiting, a1)
        phone_revisit.claim_task(done, a1)
        answers = {q["question_id"]: True for q in render_questions(db.session.get(RevisitTask, done))}
        phone_revisit.record_attempt(done, a1, "SUCCESS", answers=answers, holder_verified=True)
        phone_revisit.claim_task(failed, a1)
        phone_revisit.record_attempt(failed, a1, "PROBLEM", note="客户要求退保")
        login(client, "supervisor")
        page = client.get("/revisit-dashboard/")
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "回访看板" in html and "电话回访成功率" in html
        assert 'id="due-soon">1<' in html
        reply = client.get("/revisit-dashboard/export?start=2026-11-24&end=2026-11-24")
        assert reply.status_code == 200 and reply.mimetype.endswith("spreadsheetml.sheet")
        bad = client.get("/revisit-dashboard/export?start=2026-11-25&end=2026-11-01")
        assert bad.status_code == 400 and "起止日期" in bad.get_data(as_text=True)
    sheet = openpyxl.load_workbook(io.BytesIO(reply.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[:3] == ("保险单号", "产品名称", "投保人") and "回访答案" in header
    by_no = {row[0]: dict(zip(header, row)) for row in body}
    policies = {db.session.get(RevisitTask, t).policy.policy_no: t for t in (done, failed)}
    assert set(by_no) == set(policies)  # the waiting task has no result yet
    success = by_no[db.session.get(RevisitTask, done).policy.policy_no]
    assert success["回访结果"] == "回访成功" and success["回访专员"] == "agent1"
    assert "成功" in success["电话回访记录"] and "是" in success["回访答案"]
    holder = _holder()
    assert success["投保人证件号码"] != holder.id_number and success["投保人证件号码"].endswith(holder.id_number[-4:])
    problem = by_no[db.session.get(RevisitTask, failed).policy.policy_no]
    assert problem["回访结果"] == "问题件" and "客户要求退保" in problem["问题原因"]
    assert db.session.query(AuditEvent).filter_by(action="export").count() == 1


def test_call_centre_reads_results_and_attempts_through_the_api(seeded, client):
    with _travel(T0):
        task_id = _claimed()
        phone_revisit.record_attempt(task_id, user_id("agent1"), "NO_ANSWER")
    token = client.post("/api/v1/security/login", json={
        "username": "integration", "password": PASSWORD, "provider": "db"}).get_json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    attempts = client.get("/api/v1/phone_revisit/attempts?since=2026-11-24T00:00:00", headers=auth)
    assert attempts.status_code == 200
    rows = attempts.get_json()["result"]
    assert [(r["task_id"], r["outcome"], r["agent"]) for r in rows] == [(task_id, "NO_ANSWER", "agent1")]
    policy_no = db.session.get(RevisitTask, task_id).policy.policy_no
    one = client.get(f"/api/v1/phone_revisit/results/{policy_no}", headers=auth).get_json()["result"]
    assert one[0]["attempt_count"] == 1 and one[0]["attempts"][0]["outcome"] == "NO_ANSWER"
    assert client.get("/api/v1/phone_revisit/attempts?since=yesterday", headers=auth).status_code == 400
    anonymous = _browser(client)
    assert anonymous.get("/api/v1/phone_revisit/attempts?since=2026-11-24T00:00:00").status_code == 401
    # a supervisor's browser session is not the call-centre system
    browser = _browser(client)
    login(browser, "supervisor")
    assert browser.get("/api/v1/phone_revisit/attempts?since=2026-11-24T00:00:00").status_code in (401, 403)



def test_the_board_offers_assign_and_release_exactly_where_the_state_table_allows_them(seeded, client):
    from app.services.revisit import states

    a1 = user_id("agent1")
    tasks = {status: phone_task(status=status, assigned_to_id=a1 if status in states.HELD else None,
                                reserved_until=datetime(2030, 1, 1) if status in states.HELD else None,
                                callback_at=datetime(2030, 1, 1) if status == "CALLBACK" else None)
             for status in states.BOARD}
    login(client, "supervisor")
    token = csrf_token(client.get("/supervision/").get_data(as_text=True))
    for status, task_id in tasks.items():
        html = client.get(f"/supervision/?status={status}").get_data(as_text=True)
        assert f"#{task_id}<" in html
        for event in ("assign", "release"):
            button = f'action="/supervision/{event}/{task_id}"' in html
            assert button == states.can(status, event), (status, event)
        reply = client.post(f"/supervision/release/{task_id}", data={"csrf_token": token}, follow_redirects=True)
        # the service does exactly what the page offered: released, or refused with a reason
        assert (f"任务 {task_id} 已放回队列" in reply.get_data(as_text=True)) == states.can(status, "release")
        db.session.expire_all()
        after = db.session.get(RevisitTask, task_id).status
        assert after == (states.target_of("release") if states.can(status, "release") else status), status


def test_the_call_centre_api_pages_results_in_sql(seeded, client):
    a1 = user_id("agent1")
    with _travel(T0):
        done = []
        for _ in range(3):
            task_id = _claimed()
            phone_revisit.record_attempt(task_id, a1, "PROBLEM", note="客户要求退保")
            done.append(task_id)
    token = client.post("/api/v1/security/login", json={
        "username": "integration", "password": PASSWORD, "provider": "db"}).get_json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    url = "/api/v1/phone_revisit/results?from=2026-11-24&to=2026-11-24&page_size=2"
    first, second = (client.get(f"{url}&page={page}", headers=auth).get_json() for page in (1, 2))
    assert first["count"] == second["count"] == 3
    assert [t["task_id"] for t in first["result"] + second["result"]] == done
    far = client.get(f"{url}&page={2 ** 62}", headers=auth)
    assert far.status_code == 200 and far.get_json()["result"] == []
