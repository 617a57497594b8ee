"""An operator's edit of a policy in the admin goes through services/policy.py: intake's rules
(dates not before the issue date, money as an amount of DECIMAL(14,2)), and a new receipt-signed date
moves the hesitation deadline of the policy's open revisit tasks (issue 10, point 5)."""
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Policy, RevisitTask
from app.services.errors import DomainError
from tests.conftest import csrf_token, login
from tests.factories import make_task

pytestmark = pytest.mark.smoke

POLICY_NO = "880000001522216"  # 张德强's, issued yesterday, its e-revisit open


def _policy(policy_no=POLICY_NO):
    db.session.expire_all()
    return db.session.query(Policy).filter_by(policy_no=policy_no).one()


def _edit(client, policy, **fields):
    page = client.get(f"/policyview/edit/{policy.id}").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "status": policy.status,
            "receipt_signed_date": policy.receipt_signed_date.isoformat(),
            "effective_date": policy.effective_date.isoformat(),
            "next_due_date": policy.next_due_date.isoformat() if policy.next_due_date else "",
            "cash_value": str(policy.cash_value), "cash_value_date": policy.cash_value_date.isoformat(),
            "annuity_method": policy.annuity_method or "", "universal_account_no": "", **fields}
    return client.post(f"/policyview/edit/{policy.id}", data=data, follow_redirects=True)


def _message(key, **params):
    return DomainError(key, **params).message


def _columns(policy):
    return {c: getattr(policy, c) for c in ("status", "receipt_signed_date", "effective_date", "next_due_date",
                                             "cash_value", "cash_value_date", "annuity_method")}


@pytest.mark.parametrize("field, days, key", [
    ("receipt_signed_date", -1, "receipt_before_issue"),
    ("effective_date", -1, "date_before_issue"),
    ("next_due_date", -30, "date_before_issue"),
])
def test_dates_before_the_issue_date_are_refused(seeded, client, field, days, key):
    policy = _policy()
    before = _columns(policy)
    login(client, "operator")
    reply = _edit(client, policy, **{field: (policy.issue_date + timedelta(days=days)).isoformat()})
    text = reply.get_data(as_text=True)
    label = {"receipt_signed_date": "回执签收日", "effective_date": "保单生效日", "next_due_date": "下次缴费日"}[field]
    assert _message(key, field=label) in text
    assert _columns(_policy()) == before


@pytest.mark.parametrize("amount", ["12.345", "-5", "1234567890123.00"])
def test_cash_value_must_be_an_amount_the_column_holds(seeded, client, amount):
    policy = _policy()
    before = _columns(policy)
    login(client, "operator")
    reply = _edit(client, policy, cash_value=amount)
    assert reply.status_code == 200
    assert _message("field_bad_money", field="现金价值(元)", value=amount) in reply.get_data(as_text=True)
    assert _columns(_policy()) == before


def test_a_valid_edit_is_saved(seeded, client):
    policy = _policy()
    login(client, "operator")
    reply = _edit(client, policy, status="SUSPENDED", cash_value="1234.50", annuity_method="")
    assert reply.status_code == 200
    policy = _policy()
    assert policy.status == "SUSPENDED" and policy.cash_value == Decimal("1234.50")
    assert policy.annuity_method is None


def test_a_new_receipt_date_moves_the_open_tasks_hesitation_deadline(seeded, client):
    policy = _policy()
    task = db.session.query(RevisitTask).filter_by(open_policy_id=policy.id).one()
    days = policy.product.hesitation_days
    assert task.hesitation_deadline == policy.receipt_signed_date + timedelta(days=days)
    signed = policy.issue_date + timedelta(days=1)
    login(client, "operator")
    _edit(client, policy, receipt_signed_date=signed.isoformat())
    db.session.expire_all()
    assert _policy().receipt_signed_date == signed
    assert db.session.get(RevisitTask, task.id).hesitation_deadline == signed + timedelta(days=days)


def test_a_closed_task_keeps_its_deadline(seeded, client):
    policy = _policy()
    task_id = make_task(POLICY_NO, status="SUCCESS", open_policy_id=None)  # as a successful visit leaves it
    deadline = db.session.get(RevisitTask, task_id).hesitation_deadline
    login(client, "operator")
    _edit(client, policy, receipt_signed_date=(policy.issue_date + timedelta(days=1)).isoformat())
    db.session.expire_all()
    assert db.session.get(RevisitTask, task_id).hesitation_deadline == deadline


def test_a_new_product_starts_with_the_hesitation_days_setting(seeded, client):
    from app.models.setting import Setting

    db.session.add(Setting(key="HESITATION_DAYS", value="20"))
    db.session.commit()
    login(client, "operator")
    page = client.get("/productview/add").get_data(as_text=True)
    field = re.search(r'<input[^>]*id="hesitation_days"[^>]*>', page).group(0)
    assert 'value="20"' in field
