"""Recording the money's arrival (issue 11 point 4) by an operator on the ledger page (CSRF) or by the
payment system through POST /api/v1/loan/<id>/disbursement (role Integration); the rate table page
(Admin adds, auditors read); recording twice is refused, also when many record at once (MariaDB)."""
import threading
from datetime import date
from decimal import Decimal

import pytest

from app.extensions import db
from app.models.servicing import LoanLedgerEntry, LoanRate, PolicyLoan, ServicingApplication
from app.services import unit
from tests.conftest import csrf_token, login
from tests.services.test_ledger import disburse, fresh, frozen, pending_loan  # noqa: F401 (fixture)
from tests.views.test_intake_api import token


# --- the operator's page ------------------------------------------------------------------------

def test_an_operator_records_the_arrival_on_the_ledger_page(frozen, client):  # noqa: F811
    loan_id = pending_loan("12000")
    login(client, "operator")
    waiting = client.get("/loan-ledger/").get_data(as_text=True)
    assert f"/loan-ledger/{loan_id}" in waiting
    page = client.get(f"/loan-ledger/{loan_id}").get_data(as_text=True)
    assert "登记放款到账" in page or "disbursement-form" in page
    reply = client.post(f"/loan-ledger/{loan_id}/disbursement",
                        data={"arrived_on": "2026-03-01", "csrf_token": csrf_token(page)}, follow_redirects=True)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    row = fresh(PolicyLoan, loan_id)
    assert (row.status, row.disbursed_on, row.due_on) == ("ACTIVE", date(2026, 3, 1), date(2026, 9, 1))
    entry = db.session.query(LoanLedgerEntry).filter_by(loan_id=loan_id).one()
    assert entry.actor == "user:operator" and entry.created_by_id is not None
    assert "disbursement-form" not in client.get(f"/loan-ledger/{loan_id}").get_data(as_text=True)


def test_the_page_refuses_without_csrf_a_second_time_and_a_future_day(frozen, client):  # noqa: F811
    loan_id = pending_loan()
    login(client, "operator")
    assert client.post(f"/loan-ledger/{loan_id}/disbursement", data={"arrived_on": "2026-03-01"}).status_code == 400
    page = client.get(f"/loan-ledger/{loan_id}").get_data(as_text=True)
    future = client.post(f"/loan-ledger/{loan_id}/disbursement",
                         data={"arrived_on": "2026-03-05", "csrf_token": csrf_token(page)})
    assert future.status_code == 400 and "不能晚于今天" in future.get_data(as_text=True)
    assert fresh(PolicyLoan, loan_id).status == "PENDING"
    disburse(loan_id)
    again = client.post(f"/loan-ledger/{loan_id}/disbursement",
                        data={"arrived_on": "2026-03-01", "csrf_token": csrf_token(page)})
    assert again.status_code == 409 and "不能重复登记" in again.get_data(as_text=True)


def test_an_auditor_reads_the_ledger_and_cannot_record(frozen, client):  # noqa: F811
    loan_id = pending_loan()
    disburse(loan_id)
    login(client, "auditor")
    page = client.get(f"/loan-ledger/{loan_id}")
    assert page.status_code == 200 and "放款到账" in page.get_data(as_text=True)
    refused = client.post(f"/loan-ledger/{pending_loan(number='SA2')}/disbursement",
                          data={"arrived_on": "2026-03-01", "csrf_token": client.csrf})
    assert refused.status_code in (302, 403)
    assert db.session.query(LoanLedgerEntry).count() == 1


# --- the payment system's API -------------------------------------------------------------------

def test_the_payment_system_records_the_arrival_once(frozen, client):  # noqa: F811
    loan_id = pending_loan("12000")
    headers = token(client)
    reply = client.post(f"/api/v1/loan/{loan_id}/disbursement", json={"arrived_on": "2026-03-01"}, headers=headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    state = reply.get_json()
    assert (state["status"], state["due_on"], state["outstanding_principal"], state["application_status"]) == (
        "ACTIVE", "2026-09-01", "12000.00", "COMPLETED")
    again = client.post(f"/api/v1/loan/{loan_id}/disbursement", json={"arrived_on": "2026-03-01"}, headers=headers)
    assert again.status_code == 409 and again.get_json()["message"]
    assert db.session.query(LoanLedgerEntry).filter_by(loan_id=loan_id).one().actor == "api:integration"


def test_the_api_refuses_bad_bodies_unknown_loans_and_other_roles(frozen, client):  # noqa: F811
    loan_id = pending_loan()
    headers = token(client)
    for body in (None, [], {}, {"arrived_on": 20260301}, {"arrived_on": "2026-02-30"}, {"arrived_on": "2026-03-09"}):
        reply = client.post(f"/api/v1/loan/{loan_id}/disbursement", json=body, headers=headers)
        assert reply.status_code == 400, body
    assert client.post("/api/v1/loan/999999/disbursement", json={"arrived_on": "2026-03-01"},
                       headers=headers).status_code == 404
    assert client.post(f"/api/v1/loan/{loan_id}/disbursement", json={"arrived_on": "2026-03-01"}).status_code == 401
    from flask import current_app
    from flask_jwt_extended import create_access_token

    operator_id = current_app.appbuilder.sm.find_user(username="operator").id
    operator = {"Authorization": "Bearer " + create_access_token(identity=str(operator_id), fresh=True)}
    assert client.post(f"/api/v1/loan/{loan_id}/disbursement", json={"arrived_on": "2026-03-01"},
                       headers=operator).status_code == 403
    assert fresh(PolicyLoan, loan_id).status == "PENDING"
    not_approved = pending_loan(status="REVIEW", number="SA2")
    assert client.post(f"/api/v1/loan/{not_approved}/disbursement", json={"arrived_on": "2026-03-01"},
                       headers=headers).status_code == 409


def test_concurrent_recordings_make_one(app, seeded):
    if db.engine.dialect.name != "mysql":
        pytest.skip("row locks and READ COMMITTED: MariaDB")
    import time_machine

    with time_machine.travel("2026-03-02 10:00", tick=False):
        loan_id = pending_loan()
        db.session.commit()
        outcomes, start = [], threading.Barrier(10)

        def one():
            from app.services import ledger
            from app.services.errors import DomainError

            with app.app_context():
                start.wait()
                try:
                    def attempt():
                        with unit.work():
                            ledger.disburse(loan_id, "2026-03-01", actor="thread")
                    unit.retry_on_lock(attempt)
                    outcomes.append("ok")
                except DomainError as error:
                    outcomes.append(error.key)

        threads = [threading.Thread(target=one) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes.count("ok") == 1 and set(outcomes) <= {"ok", "loan_already_disbursed"}, outcomes
        db.session.rollback()
        assert db.session.query(LoanLedgerEntry).filter_by(loan_id=loan_id).count() == 1
        assert db.session.get(ServicingApplication, fresh(PolicyLoan, loan_id).application_id).status == "COMPLETED"


# --- the rate table page ------------------------------------------------------------------------

def test_admin_declares_a_rate_and_the_bounds_are_checked(frozen, client):  # noqa: F811
    login(client, "admin")
    page = client.get("/loan-rates/").get_data(as_text=True)
    assert "尚未公布贷款利率" in page
    for rate in ("0.25", "-0.01", "abc"):
        reply = client.post("/loan-rates/add", data={"annual_rate": rate, "effective_from": "2026-03-02",
                                                     "csrf_token": csrf_token(page)})
        assert reply.status_code == 400, rate
    assert client.post("/loan-rates/add", data={"annual_rate": "0.045", "effective_from": "2026-03-02"}
                       ).status_code == 400  # no CSRF token
    past = client.post("/loan-rates/add", data={"annual_rate": "0.045", "effective_from": "2026-03-01",
                                                "csrf_token": csrf_token(page)})
    assert past.status_code == 400
    assert db.session.query(LoanRate).count() == 0
    done = client.post("/loan-rates/add", data={"annual_rate": "0.045", "effective_from": "2026-03-02",
                                                "note": "2026年3月调整", "csrf_token": csrf_token(page)},
                       follow_redirects=True)
    assert done.status_code == 200
    (row,) = db.session.query(LoanRate).all()
    assert (row.annual_rate, row.effective_from) == (Decimal("0.045"), date(2026, 3, 2))
    assert "0.045" in client.get("/loan-rates/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["operator", "auditor", "supervisor"])
def test_only_admin_adds_a_rate(frozen, client, role):  # noqa: F811
    login(client, role)
    reply = client.post("/loan-rates/add", data={"annual_rate": "0.045", "effective_from": "2026-03-02",
                                                 "csrf_token": client.csrf})
    assert reply.status_code in (302, 403)
    assert db.session.query(LoanRate).count() == 0


def test_from_the_list_an_approved_application_gets_its_loan_at_the_rate_of_its_approval(frozen, client):  # noqa: F811
    from app.models import Policy

    policy = db.session.query(Policy).filter_by(policy_no="860007775808888").one()
    with unit.work():
        from app.services import ledger

        ledger.add_rate("0.045", date(2026, 3, 2))  # declared today, after the approval of 03-01
    application = ServicingApplication(
        application_no="SA9", kind="POLICY_LOAN", customer_id=policy.holder_id, policy_id=policy.id,
        status="APPROVED", submitted_at=frozen_day(1, 9), decided_at=frozen_day(1, 11), amount=Decimal("12000.00"),
        payload={"amount": "12000.00", "stamp_duty": "0.60", "credited_amount": "11999.40",
                 "account": {"bank_name": "中国工商银行", "card_masked": "6222 **** **** 0001", "account_name": "马妍"}})
    db.session.add(application)
    db.session.commit()
    login(client, "operator")
    page = client.get("/loan-ledger/").get_data(as_text=True)
    assert "SA9" in page
    reply = client.post(f"/loan-ledger/application/{application.id}/disbursement",
                        data={"arrived_on": "2026-03-02", "csrf_token": csrf_token(page)}, follow_redirects=True)
    assert reply.status_code == 200 and "已登记放款到账" in reply.get_data(as_text=True)
    row = db.session.query(PolicyLoan).filter_by(application_id=application.id).one()
    assert (row.principal, row.stamp_duty, row.credited_amount, row.annual_rate, row.status) == (
        Decimal("12000.00"), Decimal("0.60"), Decimal("11999.40"), Decimal("0.05"), "ACTIVE")
    assert (row.bank_name, row.account_no_masked) == ("中国工商银行", "6222 **** **** 0001")
    assert "SA9" not in client.get("/loan-ledger/").get_data(as_text=True)


def frozen_day(day, hour):
    from datetime import datetime

    return datetime(2026, 3, day, hour)


# --- repayment results --------------------------------------------------------------------------

def test_the_payment_system_reports_a_repayment_interest_first(frozen, client):  # noqa: F811
    loan_id = pending_loan()
    disburse(loan_id)
    frozen.move_to("2026-04-01 10:00")
    headers = token(client)
    body = {"amount": "1000.00", "paid_on": "2026-04-01", "payment_ref": "PAY-1"}
    reply = client.post(f"/api/v1/loan/{loan_id}/repayment", json=body, headers=headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json()["outstanding_principal"] == "9042.47"
    assert client.post(f"/api/v1/loan/{loan_id}/repayment", json=body, headers=headers).status_code == 409
    for bad in ({}, {"amount": 1000, "paid_on": "2026-04-01", "payment_ref": "X"},
                {"amount": "1", "paid_on": "2026-04-01", "payment_ref": "X", "result": "MAYBE"}):
        assert client.post(f"/api/v1/loan/{loan_id}/repayment", json=bad, headers=headers).status_code == 400
    above = client.post(f"/api/v1/loan/{loan_id}/repayment", json={**body, "amount": "99999", "payment_ref": "P2"},
                        headers=headers)
    assert above.status_code == 409
    assert client.post("/api/v1/loan/999999/repayment", json={**body, "payment_ref": "P3"},
                       headers=headers).status_code == 404


def test_an_operator_records_a_repayment_on_the_loans_page(frozen, client):  # noqa: F811
    loan_id = pending_loan()
    disburse(loan_id)
    frozen.move_to("2026-04-01 10:00")
    login(client, "operator")
    page = client.get(f"/loan-ledger/{loan_id}").get_data(as_text=True)
    assert "repayment-form" in page
    reply = client.post(f"/loan-ledger/{loan_id}/repayment", data={
        "amount": "10042.47", "paid_on": "2026-04-01", "payment_ref": "BANK-9", "csrf_token": csrf_token(page)},
        follow_redirects=True)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert fresh(PolicyLoan, loan_id).status == "REPAID"
    assert client.post(f"/loan-ledger/{loan_id}/repayment", data={
        "amount": "1", "paid_on": "2026-04-01", "payment_ref": "BANK-10"}).status_code == 400  # no CSRF


def test_the_loans_list_opens_each_loans_ledger(frozen, client):  # noqa: F811
    loan_id = pending_loan()
    disburse(loan_id)
    login(client, "auditor")
    page = client.get("/policyloanview/list/")
    assert page.status_code == 200
    assert f'href="/loan-ledger/{loan_id}"' in page.get_data(as_text=True)
