"""保全审核 (issue 11 point 1): the operators' review queue ordered by due time with what is overdue in
red, the application with its rule trace in full, approve and reject with CSRF and the signed-in user,
four eyes; auditors and supervisors read it and decide nothing."""
from datetime import datetime
from decimal import Decimal

import pytest
import time_machine

from app.extensions import db
from app.models import Policy, User
from app.models.servicing import ServicingApplication
from app.services import unit
from app.services.servicing import application as service
from tests.conftest import csrf_token, login

NOW = datetime(2026, 9, 30, 10, 0)  # before the National Day holiday
CHECKS = [("可贷金额", True, "本次贷款金额 12000.00 ≤ 可贷金额 40000.00"),
          ("收款账户户名", False, "户名 李四 ≠ 投保人 马妍")]


@pytest.fixture
def frozen(seeded):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def submit(amount="12000", key="k", checks=CHECKS, **kw):
    policy = db.session.query(Policy).filter_by(policy_no="860007775808888").one()
    with unit.work():
        return service.submit("POLICY_LOAN", policy.holder_id, policy.id, {"收款账号": "6222 **** **** 1234"},
                              checks, Decimal(amount), key, **kw).id


def status(application_id):
    db.session.expire_all()
    return db.session.get(ServicingApplication, application_id).status


def page(reply):
    return reply.get_data(as_text=True)


def test_the_queue_lists_by_due_time_and_marks_what_is_overdue(frozen, client):
    early = submit(key="early")
    frozen.move_to(datetime(2026, 10, 8, 10, 0))  # the first working day after the holiday
    late = submit(key="late")
    frozen.move_to(datetime(2026, 10, 10, 9, 0))  # past the first one's decision limit (10-09)
    login(client, "operator")
    html = page(client.get("/review-queue/"))
    rows = html.split('id="review-queue"', 1)[1]
    first, second = (db.session.get(ServicingApplication, i).application_no for i in (early, late))
    assert rows.index(first) < rows.index(second)
    assert "已超过审核时限" in html and 'class="danger"' in html
    assert html.count("已超过审核时限") == 1  # the second is due Saturday 10-10, an adjusted working day
    assert "2026-10-09 23:59" in rows and "2026-10-10 23:59" in rows


def test_the_application_page_shows_the_rule_trace_in_full(frozen, client):
    application_id = submit()
    login(client, "operator")
    html = page(client.get(f"/review-queue/{application_id}"))
    assert "本次贷款金额 12000.00 ≤ 可贷金额 40000.00" in html
    assert "户名 李四 ≠ 投保人 马妍" in html and "未通过" in html
    assert "6222 **** **** 1234" in html
    assert 'id="approve-form"' in html and 'id="reject-form"' in html


def test_an_operator_approves_and_a_second_one_completes_four_eyes(frozen, client, app):
    application_id = submit(amount="60000")
    login(client, "operator")
    form = page(client.get(f"/review-queue/{application_id}"))
    reply = client.post(f"/review-queue/{application_id}/approve",
                        data={"csrf_token": csrf_token(form), "note": "资料齐全"}, follow_redirects=True)
    assert "须由另一位审核人员复核" in page(reply)
    assert status(application_id) == "REVIEW"
    again = client.post(f"/review-queue/{application_id}/approve", data={"csrf_token": csrf_token(form)})
    assert again.status_code == 409 and "须由另一位审核人员复核" in page(again)
    second = app.test_client()
    login(second, "admin")
    form = page(second.get(f"/review-queue/{application_id}"))
    second.post(f"/review-queue/{application_id}/approve", data={"csrf_token": csrf_token(form)})
    assert status(application_id) == "APPROVED"
    decided = db.session.get(ServicingApplication, application_id)
    assert decided.decided_by_id == db.session.query(User.id).filter_by(username="admin").scalar()


def test_the_approver_is_the_signed_in_user_not_a_posted_field(frozen, client):
    operator_id = db.session.query(User.id).filter_by(username="operator").scalar()
    application_id = submit(amount="60000", submitted_by_id=operator_id)
    login(client, "operator")
    form = page(client.get(f"/review-queue/{application_id}"))
    admin_id = db.session.query(User.id).filter_by(username="admin").scalar()
    reply = client.post(f"/review-queue/{application_id}/approve",
                        data={"csrf_token": csrf_token(form), "user_id": str(admin_id)})
    assert reply.status_code == 403 and "不能由您本人审核" in page(reply)
    assert status(application_id) == "REVIEW"


def test_a_post_without_the_csrf_token_changes_nothing(frozen, client):
    application_id = submit()
    login(client, "operator")
    reply = client.post(f"/review-queue/{application_id}/approve", data={"note": "x"})
    assert reply.status_code == 400 and "页面已过期" in page(reply)
    assert status(application_id) == "REVIEW"


def test_a_rejection_needs_a_reason_and_a_note(frozen, client):
    application_id = submit()
    login(client, "operator")
    token = csrf_token(page(client.get(f"/review-queue/{application_id}")))
    reply = client.post(f"/review-queue/{application_id}/reject", data={"csrf_token": token, "reason": "ACCOUNT"})
    assert reply.status_code == 400 and "请填写拒绝说明" in page(reply)
    assert status(application_id) == "REVIEW"
    client.post(f"/review-queue/{application_id}/reject",
                data={"csrf_token": token, "reason": "ACCOUNT", "note": "户名与投保人不一致"})
    assert status(application_id) == "REJECTED"
    html = page(client.get(f"/review-queue/{application_id}"))
    assert "收款账户信息有误或非本人账户" in html and "户名与投保人不一致" in html
    assert 'id="approve-form"' not in html


@pytest.mark.parametrize("username", ["auditor", "supervisor"])
def test_auditors_and_supervisors_read_the_queue_and_decide_nothing(frozen, client, username):
    application_id = submit()
    login(client, username)
    assert client.get("/review-queue/").status_code == 200
    html = page(client.get(f"/review-queue/{application_id}"))
    assert "本次贷款金额 12000.00" in html and 'id="approve-form"' not in html
    for action in ("approve", "reject"):
        reply = client.post(f"/review-queue/{application_id}/{action}",
                            data={"csrf_token": client.csrf, "reason": "OTHER", "note": "x"})
        assert reply.status_code in (302, 403)
    assert status(application_id) == "REVIEW"


def test_agents_do_not_see_the_queue(frozen, client):
    login(client, "agent1")
    assert client.get("/review-queue/").status_code in (302, 403)


def test_an_operator_records_the_review_of_a_sampled_approval(frozen, client, monkeypatch):
    monkeypatch.setattr(service, "sampled", lambda rate: True)
    application_id = submit(amount="8000", checks=CHECKS[:1])
    assert status(application_id) == "APPROVED"
    login(client, "operator")
    queue = page(client.get("/review-queue/"))
    number = db.session.get(ServicingApplication, application_id).application_no
    assert number in queue.split('id="sampled"', 1)[1]
    html = page(client.get(f"/review-queue/{application_id}"))
    assert 'id="sample-form"' in html and 'id="approve-form"' not in html
    client.post(f"/review-queue/{application_id}/sample-review",
                data={"csrf_token": csrf_token(html), "note": "抽检无异常"})
    db.session.expire_all()
    assert db.session.get(ServicingApplication, application_id).sample_review_note == "抽检无异常"
    assert number not in page(client.get("/review-queue/"))


def test_the_queue_filters_by_kind_and_overdue(frozen, client):
    loan = submit(key="loan")
    policy = db.session.query(Policy).filter_by(policy_no="860007775808888").one()
    with unit.work():
        repayment = service.submit("LOAN_REPAYMENT", policy.holder_id, policy.id, {}, CHECKS, Decimal("500"),
                                   "repay").id
    numbers = {i: db.session.get(ServicingApplication, i).application_no for i in (loan, repayment)}
    login(client, "operator")
    html = page(client.get("/review-queue/?kind=LOAN_REPAYMENT")).split('id="sampled"', 1)[0]
    assert numbers[repayment] in html and numbers[loan] not in html
    assert numbers[loan] not in page(client.get("/review-queue/?overdue=1")).split('id="sampled"', 1)[0]
    frozen.move_to(datetime(2026, 10, 12, 9, 0))
    client.get("/logout/")
    login(client, "operator")  # the staff session lasts hours, not days
    html = page(client.get("/review-queue/?overdue=1&kind=nonsense"))
    assert numbers[loan] in html and numbers[repayment] in html
