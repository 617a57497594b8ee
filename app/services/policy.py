"""A policy on file changed by hand (保单管理 → 编辑): the one write path of the admin's edit.

Policies come from the core system (services/intake.py); an operator only corrects servicing
fields. The same rules hold as at intake (no date before the issue date, receipt not before issue,
money as DECIMAL(14,2)), and a new receipt-signed date moves the hesitation deadline of the
policy's open revisit tasks (the hesitation period runs from the receipt, DOMAIN.md section 1).
The caller commits (`with unit.work(): update_policy(...)`).
"""
import re
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models.policy import POLICY_STATUSES, Policy
from app.models.product import ANNUITY_METHODS
from app.models.revisit import RevisitTask
from app.services import revisit, validation
from app.services.errors import DomainError

# the fields an operator may change, with the labels of the admin's form
LABELS = {
    "status": _l("保单状态"), "receipt_signed_date": _l("回执签收日"), "effective_date": _l("保单生效日"),
    "next_due_date": _l("下次缴费日"), "cash_value": _l("现金价值(元)"), "cash_value_date": _l("现金价值日期"),
    "annuity_method": _l("年金领取方式"), "universal_account_no": _l("万能账户"),
}
ACCOUNT_NO = re.compile(r"^[0-9A-Za-z-]{1,32}$", re.ASCII)  # policy.universal_account_no is VARCHAR(32)


def _text(value):
    return validation.normalize_text(value)


def _date(value, field):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date) or value is None:
        return value
    text = _text(value)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError("field_bad_date", field=LABELS[field], value=text[:20]) from None


def _choice(value, mapping, field, required):
    text = _text(value)
    if not text and not required:
        return None
    if text not in mapping:
        raise DomainError("field_required" if not text else "field_bad_choice", field=LABELS[field],
                          value=text[:20])
    return text


def _money(value, field):
    # Decimal's str of 1E+30 or 12.345 does not match: the same strict amount as at intake
    text = format(value, "f") if isinstance(value, Decimal) and value.is_finite() else _text(value)
    if not text:
        raise DomainError("field_required", field=LABELS[field])
    amount = validation.parse_amount(text)
    if amount is None:
        raise DomainError("field_bad_money", field=LABELS[field], value=text[:20])
    return amount


def check_fields(policy, fields):
    """The clean values of `fields` (a subset of LABELS) for `policy`; DomainError on the first problem."""
    unknown = set(fields) - set(LABELS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    clean = {}
    for field, value in fields.items():
        if field == "status":
            clean[field] = _choice(value, POLICY_STATUSES, field, required=True)
        elif field == "annuity_method":
            clean[field] = _choice(value, ANNUITY_METHODS, field, required=False)
        elif field == "cash_value":
            clean[field] = _money(value, field)
        elif field == "universal_account_no":
            text = _text(value)
            if text and not ACCOUNT_NO.match(text):
                raise DomainError("field_too_long" if len(text) > 32 else "field_bad_choice",
                                  field=LABELS[field], value=text[:20])
            clean[field] = text or None
        else:
            day = _date(value, field)
            if day is not None and day < policy.issue_date:
                if field == "receipt_signed_date":
                    raise DomainError("receipt_before_issue")
                raise DomainError("date_before_issue", field=LABELS[field])
            clean[field] = day
    return clean


def update_policy(policy_id, fields):
    """Change the given servicing fields of a policy by intake's rules; returns the policy."""
    policy = db.session.get(Policy, policy_id)
    if policy is None:
        raise DomainError("policy_not_found", policy_no=policy_id)
    clean = check_fields(policy, fields)
    receipt_moved = "receipt_signed_date" in clean and clean["receipt_signed_date"] != policy.receipt_signed_date
    for field, value in clean.items():
        setattr(policy, field, value)
    if receipt_moved:
        refresh_hesitation_deadlines(policy)
    return policy


def refresh_hesitation_deadlines(policy):
    """The open revisit task of `policy` (open_policy_id is cleared when a visit succeeds) takes the
    hesitation deadline of its receipt-signed date, through the ORM so the audit trail shows the move."""
    for task in db.session.query(RevisitTask).filter(RevisitTask.open_policy_id == policy.id):
        task.hesitation_deadline = revisit.hesitation_deadline(policy, policy.product)
