"""services/policy.py: the admin's one write path for a policy on file."""
from datetime import timedelta
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Policy, RevisitTask
from app.services import policy as policies, unit
from app.services.errors import DomainError


def _policy():
    db.session.expire_all()
    return db.session.query(Policy).filter_by(policy_no="880000001522217").one()


def test_text_values_are_checked_and_written(seeded):
    policy = _policy()
    signed = policy.issue_date + timedelta(days=2)
    with unit.work():
        policies.update_policy(policy.id, {"receipt_signed_date": signed.isoformat(), "cash_value": "１００.5",
                                           "status": "SUSPENDED", "universal_account_no": " U-0001 "})
    policy = _policy()
    assert (policy.receipt_signed_date, policy.cash_value, policy.status, policy.universal_account_no) == \
        (signed, Decimal("100.50"), "SUSPENDED", "U-0001")
    task = db.session.query(RevisitTask).filter_by(open_policy_id=policy.id).one()
    assert task.hesitation_deadline == signed + timedelta(days=policy.product.hesitation_days)


@pytest.mark.parametrize("fields, key", [
    ({"status": "LAPSED"}, "field_bad_choice"),
    ({"status": ""}, "field_required"),
    ({"cash_value": "1e30"}, "field_bad_money"),
    ({"cash_value": Decimal("NaN")}, "field_bad_money"),
    ({"cash_value_date": "2026-02-30"}, "field_bad_date"),
    ({"cash_value_date": "1999-01-01"}, "date_before_issue"),
    ({"annuity_method": "SPEND"}, "field_bad_choice"),
    ({"universal_account_no": "9" * 33}, "field_too_long"),
])
def test_a_refused_change_writes_nothing(seeded, fields, key):
    before = _policy()
    columns = {name: getattr(before, name) for name in policies.LABELS}
    with pytest.raises(DomainError) as refused, unit.work():
        policies.update_policy(before.id, {"receipt_signed_date": before.issue_date, **fields})
    assert refused.value.key == key
    after = _policy()
    assert {name: getattr(after, name) for name in policies.LABELS} == columns


def test_only_servicing_fields_are_editable(seeded):
    with pytest.raises(ValueError):
        policies.update_policy(_policy().id, {"premium": "1.00"})
