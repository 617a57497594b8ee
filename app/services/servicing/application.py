"""The servicing application, once for every kind (issue 11 point 1): submission with its rule trace,
straight-through processing, the review queue with four eyes, the service time limits and the SMS.

The kind's own code (the loan, the repayment, ...) runs its checks and passes them here as
(name, passed, figures); this module stores them as the application's rule trace, decides what a
rule may decide on its own, and moves the status only through states.py. The acting user is always
an argument (the view passes g.user.id); nothing here reads the request.
"""
import logging
import random
import secrets

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.customer import Customer
from app.models.servicing import (APPLICATION_STATUSES, REJECT_REASONS, SERVICING_KINDS, SYSTEM_REJECT_REASONS,
                                  ApplicationApproval, ServicingApplication)
from app.services import clock, settings, sms
from app.services.errors import DomainError
from app.services.money import to_money
from app.services.servicing import states
from app.services.servicing.workdays import due_at

log = logging.getLogger(__name__)

# 人身保险业务基本服务规定 arts. 19-21: a decision within 2 working days, the change made within 5.
DECISION_WORKDAYS = 2
COMPLETION_WORKDAYS = 5
NOTE_MAX = 500
# Drawn from the operating system's randomness: nobody can predict which approvals are sampled.
_rng = random.SystemRandom()
# SMS templates (seeded by services/demo.py, editable under 短信管理 → 短信模板)
SMS_ACCEPTED, SMS_DECIDED, SMS_COMPLETED = "SERVICING_ACCEPTED", "SERVICING_DECIDED", "SERVICING_COMPLETED"


# --- the rule trace ----------------------------------------------------------------------------

def rule_trace(checks):
    """The caller's checks, [(name, passed, figures)], as stored: [{"name", "passed", "figures"}]."""
    trace = []
    for check in checks or ():
        if isinstance(check, dict):
            check = (check.get("name"), check.get("passed"), check.get("figures"))
        try:
            name, passed, figures = check
        except (TypeError, ValueError):
            raise DomainError("application_bad_check", check=repr(check)[:80]) from None
        if not isinstance(name, str) or not name.strip() or not isinstance(passed, bool) \
                or not isinstance(figures, str):
            raise DomainError("application_bad_check", check=repr(check)[:80])
        trace.append({"name": name.strip(), "passed": passed, "figures": figures})
    return trace


def all_passed(application):
    return all(check["passed"] for check in application.rule_trace or ())


def failed_checks(application):
    """What the customer is shown where a check failed."""
    return [check for check in application.rule_trace or () if not check["passed"]]


def trace_text(trace):
    """The trace as one line of Chinese, e.g. "可贷金额:本次贷款金额 12000.00 ≤ 可贷金额 40000.00 通过"."""
    return ";".join(f"{c['name']}:{c['figures']} {_l('通过') if c['passed'] else _l('未通过')}" for c in trace)


# --- submission --------------------------------------------------------------------------------

def new_request_key():
    """The submission key a form is rendered with (a hidden field): one per render."""
    return secrets.token_urlsafe(24)


def _new_number(now):
    return f"SA{now:%Y%m%d}{secrets.token_hex(5).upper()}"


def _by_key(request_key):
    return db.session.execute(
        select(ServicingApplication).where(ServicingApplication.request_key == request_key)
    ).scalar_one_or_none()


def _same_customer(found, customer_id):
    if found.customer_id != customer_id:  # a key is the server's, per form render: never another's
        raise DomainError("application_key_taken")
    return found


def submit(kind, customer_id, policy_id, payload, checks, amount, request_key, submitted_by_id=None,
           needs_consent=False, account_no=None):
    """Store an application with its rule trace and route it; returns the application.

    `request_key` is the one the form was rendered with: a second submit with it (a double click,
    a retried request, 20 at once) returns the first application. `needs_consent`: the insured,
    not the policyholder, must confirm first (Insurance Law art. 34); the application waits in
    CONSENT until after_consent(). `account_no`: the full bank card number of a loan's or a repayment's
    account, kept encrypted in its own column (the payload holds it masked). Runs in the caller's unit of work.
    """
    if kind not in SERVICING_KINDS:
        raise DomainError("application_bad_kind", kind=str(kind)[:20])
    request_key = (request_key or "").strip()
    if not request_key or len(request_key) > 64:
        raise DomainError("application_key_missing")
    found = _by_key(request_key)
    if found is not None:
        return _same_customer(found, customer_id)
    trace = rule_trace(checks)
    amount = to_money(amount) if amount is not None else None
    four_eyes = settings.get("FOUR_EYES_AMOUNT")
    now = clock.now()
    application = ServicingApplication(
        application_no=_new_number(now), request_key=request_key, kind=kind, customer_id=customer_id,
        policy_id=policy_id, status=states.FIRST, payload=payload, submitted_at=now, amount=amount,
        rule_trace=trace, submitted_by_id=submitted_by_id, decided_by_system=False, sampled_for_review=False,
        account_no=account_no or None,
        approvals_needed=2 if amount is not None and amount > four_eyes else 1,
        due_decision_at=due_at(now, DECISION_WORKDAYS), due_completion_at=due_at(now, COMPLETION_WORKDAYS))
    try:
        with db.session.begin_nested():
            db.session.add(application)
    except IntegrityError:
        # the same key submitted at the same moment: the first one's row (committed: READ COMMITTED)
        found = _by_key(request_key)
        if found is None:
            raise
        return _same_customer(found, customer_id)
    _notify(application, SMS_ACCEPTED)
    if needs_consent:
        application.status = states.transition(application.status, "need_consent")
    else:
        _route(application)
    return application


def after_consent(application_id):
    """The insured confirmed: route the waiting application (straight-through or the queue)."""
    application = _locked(application_id)
    if application.status != "CONSENT":
        raise DomainError("application_bad_transition", status=application.status, event="refer")
    # the application is complete (受理) only now: the time limits run from the consent
    now = clock.now()
    application.due_decision_at = due_at(now, DECISION_WORKDAYS)
    application.due_completion_at = due_at(now, COMPLETION_WORKDAYS)
    _route(application)
    return application


def consent_declined(application_id):
    """The insured said no: the waiting application is rejected (CONSENT_DECLINED) and the customer told."""
    application = _locked(application_id)
    application.status = states.transition(application.status, "consent_decline")
    application.decided_at, application.reject_reason = clock.now(), "CONSENT_DECLINED"
    _notify(application, SMS_DECIDED)
    return application


def consent_lapsed(application_ids):
    """The insured did not confirm in time: one UPDATE rejects those still waiting (CONSENT_LAPSED) and each
    customer gets the decision SMS; an id no longer waiting is left alone (safe to run twice). Returns the
    ids it rejected."""
    if not application_ids:
        return []
    waiting = db.session.execute(select(ServicingApplication.id).where(
        ServicingApplication.id.in_(application_ids),
        ServicingApplication.status.in_(states.sources_of("consent_lapse"))).with_for_update()).scalars().all()
    if not waiting:
        return []
    db.session.execute(
        update(ServicingApplication)
        .where(ServicingApplication.id.in_(waiting),
               ServicingApplication.status.in_(states.sources_of("consent_lapse")))
        .values(status=states.target_of("consent_lapse"), reject_reason="CONSENT_LAPSED", decided_at=clock.now())
        .execution_options(synchronize_session="fetch"))
    for application in db.session.execute(
            select(ServicingApplication).where(ServicingApplication.id.in_(waiting))).scalars():
        _notify(application, SMS_DECIDED)
    return list(waiting)


def straight_through(application):
    """Whether the system may approve it alone: every check passed, one approval, and a money item within
    STP_MAX_AMOUNT (a change without an amount, such as the annuity method, has only its checks)."""
    limit = settings.get("STP_MAX_AMOUNT")
    return (bool(application.rule_trace) and all_passed(application) and application.approvals_needed == 1
            and (application.amount is None or application.amount <= limit))


def sampled(rate):
    """Whether this automatic approval is drawn for review after the fact (a share `rate`, 0 to 1)."""
    return _rng.random() < float(rate)


def _route(application):
    if straight_through(application):
        application.status = states.transition(application.status, "auto_approve")
        application.decided_by_system = True
        application.decided_at = clock.now()
        with force_locale("zh"):  # a stored record, in Chinese whatever the page's language
            application.decision_note = str(_l("系统自动审核通过:%(trace)s",
                                               trace=trace_text(application.rule_trace)))
        application.sampled_for_review = sampled(settings.get("STP_SAMPLE_RATE"))
        _notify(application, SMS_DECIDED)
    else:
        application.status = states.transition(application.status, "refer")


# --- the review queue --------------------------------------------------------------------------

def _locked(application_id):
    application = db.session.execute(
        select(ServicingApplication).where(ServicingApplication.id == application_id).with_for_update()
    ).scalar_one_or_none()
    if application is None:
        raise DomainError("application_not_found")
    return application


def _check_in_review(application):
    if application.status not in states.IN_REVIEW:
        raise DomainError("application_not_in_review",
                          status=str(_status_label(application.status)))


def _status_label(status):
    return APPLICATION_STATUSES.get(status, status)


def approve(application_id, user_id, note=None):
    """`user_id` (the signed-in operator) approves. Above FOUR_EYES_AMOUNT the first approval keeps it
    in review until a second, different operator approves; nobody approves twice or what they
    submitted for the customer."""
    application = _locked(application_id)
    _check_in_review(application)
    if application.submitted_by_id is not None and application.submitted_by_id == user_id:
        raise DomainError("application_own_submission")
    already = db.session.execute(select(ApplicationApproval.id).where(
        ApplicationApproval.application_id == application.id, ApplicationApproval.user_id == user_id)).first()
    if already is not None:
        raise DomainError("application_already_approved_by_you")
    now, note = clock.now(), (note or "").strip()[:NOTE_MAX] or None
    try:
        with db.session.begin_nested():
            db.session.add(ApplicationApproval(application_id=application.id, user_id=user_id, decided_at=now,
                                               note=note))
    except IntegrityError:  # the same operator's two clicks at once (the row lock makes this rare)
        raise DomainError("application_already_approved_by_you") from None
    count = db.session.query(ApplicationApproval).filter_by(application_id=application.id).count()
    if count < application.approvals_needed:
        application.status = states.transition(application.status, "approve_first")
        return application
    application.status = states.transition(application.status, "approve")
    application.decided_at, application.decided_by_id = now, user_id
    application.decision_note = note
    _notify(application, SMS_DECIDED)
    return application


def reject(application_id, user_id, reason, note):
    """`user_id` rejects with a reason code (REJECT_REASONS) and a note, both required."""
    if reason not in REJECT_REASONS or reason in SYSTEM_REJECT_REASONS:
        raise DomainError("application_reject_reason")
    note = (note or "").strip()
    if not note:
        raise DomainError("application_reject_note")
    application = _locked(application_id)
    _check_in_review(application)
    application.status = states.transition(application.status, "reject")
    application.decided_at, application.decided_by_id = clock.now(), user_id
    application.reject_reason, application.decision_note = reason, note[:NOTE_MAX]
    _notify(application, SMS_DECIDED)
    return application


def cancel(application_id, customer_id):
    """The customer withdraws their own application before a decision."""
    application = _locked(application_id)
    if application.customer_id != customer_id:
        raise DomainError("application_not_found")
    if not states.can(application, "cancel"):
        raise DomainError("application_not_cancellable")
    application.status = states.transition(application.status, "cancel")
    application.cancelled_at = clock.now()
    return application


def complete(application_id):
    """The approved change is made (the money paid, the record changed): the customer is told."""
    application = _locked(application_id)
    application.status = states.transition(application.status, "complete")
    application.completed_at = clock.now()
    application.slip_code = application.slip_code or secrets.token_hex(6).upper()  # the 批单's code (services/slip.py)
    _notify(application, SMS_COMPLETED)
    return application


def review_queue(kind=None, overdue_only=False, now=None, limit=200):
    """The applications waiting for an operator, the earliest due first; of one kind, or only those past
    their decision limit."""
    query = select(ServicingApplication).where(ServicingApplication.status.in_(states.IN_REVIEW))
    if kind:
        query = query.where(ServicingApplication.kind == kind)
    if overdue_only:
        query = query.where(ServicingApplication.due_decision_at < (now or clock.now()))
    return db.session.execute(
        query.order_by(ServicingApplication.due_decision_at, ServicingApplication.id).limit(limit)).scalars().all()


def sampled_approvals(limit=200):
    """Straight-through approvals drawn for review after the fact and not yet reviewed, the oldest first."""
    return db.session.execute(
        select(ServicingApplication).where(ServicingApplication.sampled_for_review.is_(True),
                                           ServicingApplication.sample_reviewed_at.is_(None))
        .order_by(ServicingApplication.decided_at, ServicingApplication.id).limit(limit)
    ).scalars().all()


def review_sample(application_id, user_id, note):
    """`user_id` records the after-the-fact review of a sampled automatic approval and its finding."""
    note = (note or "").strip()
    if not note:
        raise DomainError("application_sample_note")
    application = _locked(application_id)
    if not application.sampled_for_review:
        raise DomainError("application_not_sampled", status=str(_status_label(application.status)))
    if application.sample_reviewed_at is not None:
        raise DomainError("application_sample_reviewed")
    application.sample_reviewed_at, application.sample_reviewed_by_id = clock.now(), user_id
    application.sample_review_note = note[:NOTE_MAX]
    return application


def overdue(application, now=None):
    """Which service time limit the application has missed: "decision", "completion" or None."""
    now = now or clock.now()
    if application.status in states.UNDECIDED and application.due_decision_at and now > application.due_decision_at:
        return "decision"
    if application.status in states.UNDECIDED + states.TO_COMPLETE and application.due_completion_at \
            and now > application.due_completion_at:
        return "completion"
    return None


def approvals_of(application_id):
    return db.session.query(ApplicationApproval).filter_by(application_id=application_id) \
        .order_by(ApplicationApproval.decided_at, ApplicationApproval.id).all()


def get(application_id):
    application = db.session.get(ServicingApplication, application_id)
    if application is None:
        raise DomainError("application_not_found")
    return application


# --- SMS ---------------------------------------------------------------------------------------

def _result_text(application):
    if application.status == "REJECTED":
        return str(_l("未通过(%(reason)s)", reason=REJECT_REASONS.get(application.reject_reason, "")))
    return str(_l("已审核通过"))


def _notify(application, template_code):
    """Queue the customer's SMS in this transaction; it is sent after the commit (unit.enqueue)."""
    customer = db.session.get(Customer, application.customer_id)
    if customer is None or not customer.mobile:
        return
    with force_locale("zh"):  # the SMS is Chinese whatever the page's language
        params = {"name": customer.name, "item": str(SERVICING_KINDS.get(application.kind, application.kind)),
                  "no": application.application_no}
        if template_code == SMS_DECIDED:
            params["result"] = _result_text(application)
    try:
        message = sms.queue(template_code, customer.mobile, params, purpose=template_code,
                            customer_id=customer.id)
    except DomainError as exc:
        # a template switched off in the admin must not lose the customer's application
        log.error("servicing SMS %s for %s not queued: %s", template_code, application.application_no, exc.key)
        return
    sms.send_after_commit([message.id])


__all__ = ["new_request_key", "submit", "after_consent", "approve", "reject", "cancel", "complete", "review_queue",
           "sampled_approvals", "review_sample", "overdue", "rule_trace", "failed_checks", "straight_through"]
