"""年金领取方式变更 (issue 12 point 1; DOMAIN.md sections 6 and 8; the seed's screens).

The customer's annuity policies (as policyholder) with the current method; the choice among the
product's other options: 累积生息, or 转入万能账户 when the customer holds an in-force universal-life
policy (万能账户) to receive it; the code to the reserved mobile; 确认 → the application.

The checks are the application's rule trace (services/servicing/application.py); a failed check
refuses the request and stores nothing, as the loan does (services/loan_application.py). When every
check passes the system approves it straight through (a change without an amount has only its checks)
and on_approved() makes the change: the new method applies from the next annuity payment date after
the approval, the next anniversary of the policy's effective date strictly after the approval day.
"""
from dataclasses import dataclass
from datetime import date

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import Policy
from app.models.product import ANNUITY_METHODS, Product
from app.models.servicing import ServicingApplication
from app.services import account, clock, codes
from app.services.errors import DomainError
from app.services.servicing import application as servicing
from app.services.servicing import states

KIND = "ANNUITY_METHOD"
TO_UNIVERSAL = "TO_UNIVERSAL"
CODE_PURPOSE = "SERVICING"  # the servicing code to the reserved mobile: loan_application.CODE_PURPOSE


def _items():
    """The loan's customer operations (own_policy, existing, send_code), imported when used: dispatch.py
    imports this module, and loan_application imports dispatch."""
    from app.services import loan_application

    return loan_application


def method_label(key):
    """A method's Chinese name (累积生息), or the key itself when unknown, or "未设置"."""
    if not key:
        return str(_l("未设置"))
    return str(ANNUITY_METHODS.get(key, key))


def options(policy):
    """The product's annuity methods (keys of ANNUITY_METHODS), in the product's order."""
    keys = [key.strip() for key in (policy.product.annuity_options or "").split(",")]
    return [key for key in keys if key in ANNUITY_METHODS]


def is_annuity(policy):
    return policy.product is not None and policy.product.kind == "ANNUITY"


# --- the universal-life account ----------------------------------------------------------------

@dataclass
class UniversalAccount:
    number: str  # the account's number (the universal policy's own account number, else its policy number)
    policy: Policy


def universal_account(customer_id):
    """The customer's 万能账户: an in-force policy of a UNIVERSAL product they hold, or None."""
    found = db.session.execute(
        select(Policy).join(Product, Policy.product_id == Product.id)
        .where(Policy.holder_id == customer_id, Policy.status == "IN_FORCE", Product.kind == "UNIVERSAL")
        .order_by(Policy.issue_date, Policy.id)).scalars().first()
    if found is None:
        return None
    return UniversalAccount(found.universal_account_no or found.policy_no, found)


# --- the effective date ------------------------------------------------------------------------

def _anniversary(start, year):
    """`start`'s anniversary in `year` (29 February falls on the 28th in other years)."""
    try:
        return start.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def next_payment_date(policy, after_day):
    """The next annuity payment date strictly after `after_day`: the next anniversary of the policy's
    effective date (or issue date)."""
    start = policy.effective_date or policy.issue_date
    year = max(after_day.year, start.year + 1)
    found = _anniversary(start, year)
    while found <= after_day:
        year += 1
        found = _anniversary(start, year)
    return found


# --- what the customer may do ------------------------------------------------------------------

def in_progress(policy):
    """The application number of an annuity method change in progress on the policy, or None."""
    return db.session.execute(
        select(ServicingApplication.application_no).where(
            ServicingApplication.kind == KIND, ServicingApplication.policy_id == policy.id,
            ServicingApplication.status.in_(states.IN_PROGRESS)).limit(1)).scalar_one_or_none()


def choices(policy):
    """The methods the customer may change to: the product's options other than the current."""
    return [key for key in options(policy) if key != policy.annuity_method]


def refusals(policy):
    """Why the policy's method cannot be changed now (Chinese), empty when it can."""
    reasons = []
    with force_locale("zh"):
        if policy.status != "IN_FORCE":
            reasons.append(str(_l("保单状态为%(status)s,不能办理年金领取方式变更",
                                  status=_policy_status(policy))))
        if not choices(policy):
            reasons.append(str(_l("该产品没有其他可选的年金领取方式")))
        busy = in_progress(policy)
        if busy:
            reasons.append(str(_l("该保单已有办理中的年金领取方式变更申请(申请编号 %(no)s)", no=busy)))
    return reasons


@dataclass
class Candidate:
    policy: Policy
    reasons: list  # Chinese: empty when the method can be changed


def candidates(customer_id):
    """The customer's annuity policies (as policyholder), each with why it cannot be changed (if so)."""
    return [Candidate(policy, refusals(policy)) for policy in account.policies_of(customer_id) if is_annuity(policy)]


def send_code(customer_id):
    """获取验证码: the loan's, to the reserved mobile (the same purpose)."""
    return _items().send_code(customer_id)


def own_annuity_policy(customer_id, policy_id):
    """One of the customer's own annuity policies; another's (or a policy of another kind) is not found."""
    policy = _items().own_policy(customer_id, policy_id)
    if not is_annuity(policy):
        raise DomainError("servicing_policy_not_found")
    return policy


@dataclass
class Page:
    policy: Policy
    choices: list  # keys the customer may choose
    universal: UniversalAccount  # or None
    effective_from: date  # when approved today
    reasons: list  # why nothing can be changed now


def page(customer_id, policy_id):
    policy = own_annuity_policy(customer_id, policy_id)
    return Page(policy, choices(policy), universal_account(customer_id),
                next_payment_date(policy, clock.today()), refusals(policy))


def no_universal_reason():
    return _l("您名下没有有效的万能险保单(万能账户),暂不能选择“转入万能账户”")


# --- the rules ---------------------------------------------------------------------------------

def _policy_status(policy):
    from app.models.policy import POLICY_STATUSES

    return POLICY_STATUSES.get(policy.status, policy.status)


def checks(customer, policy, method, universal, busy):
    """The rule trace: (name, passed, figures in Chinese), each with the refusal the customer is shown."""
    offered = options(policy)
    found = [
        (_l("投保人本人申请"), policy.holder_id == customer.id,
         _l("投保人 %(holder)s,申请人 %(customer)s", holder=policy.holder.name, customer=customer.name),
         _l("仅投保人本人可以申请变更年金领取方式")),
        (_l("保单状态"), policy.status == "IN_FORCE", _l("保单状态 %(status)s", status=_policy_status(policy)),
         _l("保单状态为%(status)s,不能办理年金领取方式变更", status=_policy_status(policy))),
        (_l("产品可选该领取方式"), is_annuity(policy) and method in offered,
         _l("%(product)s 可选:%(options)s;申请:%(method)s", product=policy.product.name,
            options="、".join(method_label(key) for key in offered) or "-", method=method_label(method)),
         _l("该产品不提供“%(method)s”的年金领取方式", method=method_label(method))),
        (_l("领取方式有变化"), method != policy.annuity_method,
         _l("当前 %(before)s → 变更后 %(after)s", before=method_label(policy.annuity_method),
            after=method_label(method)),
         _l("当前年金领取方式已是“%(method)s”,无需变更", method=method_label(method))),
    ]
    if method == TO_UNIVERSAL:
        found.append((_l("万能账户"), universal is not None,
                      _l("万能账户 %(no)s", no=universal.number) if universal else _l("名下无有效的万能险保单"),
                      no_universal_reason()))
    found.append((_l("无办理中的年金领取方式变更申请"), busy is None,
                  _l("办理中的申请 %(count)s 笔", count=int(busy is not None)),
                  _l("该保单已有办理中的年金领取方式变更申请(申请编号 %(no)s)", no=busy or "")))
    with force_locale("zh"):  # the trace is a stored record, in Chinese
        return [(str(name), bool(passed), str(figures), str(refusal))
                for name, passed, figures, refusal in found]


def apply(customer_id, policy_id, request_key, method, code):
    """Submit the change: the checks (a failed one refuses, nothing stored), the code (consumed last),
    then the application, approved straight through and carried out at once. Returns the application
    (the first one when this form render was already submitted)."""
    customer = _items()._verified(customer_id)
    policy = own_annuity_policy(customer_id, policy_id)
    found = _items().existing(customer_id, request_key)
    if found is not None:
        return found
    method = (method or "").strip()
    if method not in ANNUITY_METHODS:
        raise DomainError("servicing_refused", reason=_l("请选择变更后的年金领取方式"))
    universal = universal_account(customer.id)
    trace = checks(customer, policy, method, universal, in_progress(policy))
    failed = [check for check in trace if not check[1]]
    if failed:
        raise DomainError("servicing_refused", reason=failed[0][3])
    if not (code or "").strip():
        raise DomainError("servicing_code_missing")
    codes.verify(customer.mobile, CODE_PURPOSE, code)
    payload = {"policy_no": policy.policy_no, "before": policy.annuity_method, "after": method,
               "before_from": policy.annuity_method_from.isoformat() if policy.annuity_method_from else None,
               "universal_account_no": universal.number if method == TO_UNIVERSAL else None,
               "universal_policy_no": universal.policy.policy_no if method == TO_UNIVERSAL else None,
               "effective_from": next_payment_date(policy, clock.today()).isoformat()}
    application = servicing.submit(KIND, customer.id, policy.id, payload,
                                   [check[:3] for check in trace], None, request_key)
    if application.status in states.APPROVED:  # straight through: the change is made at once (what
        on_approved(application)  # dispatch.on_approved does; dispatch imports this module)
    return application


def on_approved(application):
    """Make the approved change and complete the application (services/servicing/dispatch.py).

    The policy takes the new method from the next payment date after the approval (and the universal
    account's number when 转入万能账户); the payload keeps before, after and that date. Once only: an
    application already completed (or not approved) is left alone and None returned."""
    if application is None or application.kind != KIND:
        return None
    found = servicing._locked(application.id)
    if found.status not in states.TO_COMPLETE:
        return None
    policy = db.session.execute(select(Policy).where(Policy.id == found.policy_id).with_for_update()).scalar_one()
    payload = dict(found.payload or {})
    after = payload.get("after")
    if after not in ANNUITY_METHODS:
        raise DomainError("application_bad_check", check=repr(after)[:80])
    approved_on = (found.decided_at or clock.now()).date()
    effective = next_payment_date(policy, approved_on)
    payload.setdefault("before", policy.annuity_method)
    payload["effective_from"] = effective.isoformat()
    payload["applied_at"] = clock.now().isoformat(timespec="seconds")
    policy.annuity_method = after
    policy.annuity_method_from = effective
    if after == TO_UNIVERSAL and payload.get("universal_account_no"):
        policy.universal_account_no = payload["universal_account_no"]
    found.payload = payload  # a new dict: the JSON column sees the change
    return servicing.complete(found.id)


def changes(application):
    """The slip's rows: [{"policy_no", "label", "before", "after"}] (services/slip.py)."""
    payload = application.payload or {}
    if application.kind != KIND or not payload.get("after"):
        return []
    with force_locale("zh"):
        after = method_label(payload["after"])
        if payload["after"] == TO_UNIVERSAL and payload.get("universal_account_no"):
            after = str(_l("%(method)s(账户 %(no)s)", method=after, no=payload["universal_account_no"]))
        policy_no = payload.get("policy_no") or (application.policy.policy_no if application.policy else "")
        return [{"policy_no": policy_no, "label": str(_l("年金领取方式")),
                 "before": method_label(payload.get("before")), "after": after}]


def effective_on(application):
    """The date the change applies from (the slip states it)."""
    text = (application.payload or {}).get("effective_from") if application.kind == KIND else None
    try:
        return date.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


__all__ = ["candidates", "page", "apply", "on_approved", "changes", "effective_on", "next_payment_date",
           "universal_account", "method_label", "checks"]
