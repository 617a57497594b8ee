from flask_babel import lazy_gettext as _l
from sqlalchemy import (Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, JSON, Numeric,
                        String, Text, UniqueConstraint)
from sqlalchemy import event
from sqlalchemy.orm import Session, relationship

from app.models.base import Model, Money, TimestampMixin, Undeletable
from app.services import clock
from app.services.crypto import EncryptedJSON, EncryptedString

SERVICING_KINDS = {
    "POLICY_LOAN": _l("保单贷款"),
    "LOAN_REPAYMENT": _l("保单还款"),
    "ANNUITY_METHOD": _l("年金领取方式变更"),
    "BENEFICIARY": _l("受益人变更"),
}
# every status of app/services/servicing/states.py (a test compares the two)
APPLICATION_STATUSES = {
    "SUBMITTED": _l("已提交"),
    "CONSENT": _l("待被保险人同意"),
    "REVIEW": _l("人工审核中"),
    "APPROVED": _l("审核通过"),
    "REJECTED": _l("未通过"),
    "CANCELLED": _l("客户已撤销"),
    "COMPLETED": _l("已办结"),
}
# the reason an operator (or the consent lapse) gives for a rejection
REJECT_REASONS = {
    "RULE_FAILED": _l("不符合办理条件"),
    "DOCUMENTS": _l("证件或影像资料不清晰、不完整"),
    "IDENTITY": _l("无法确认为本人申请"),
    "ACCOUNT": _l("收款账户信息有误或非本人账户"),
    "CONSENT_LAPSED": _l("被保险人未在期限内确认同意"),
    "CONSENT_DECLINED": _l("被保险人不同意"),
    "OTHER": _l("其他原因"),
}
# the reasons only the system gives (the consent record decides them), never an operator's choice
SYSTEM_REJECT_REASONS = ("CONSENT_LAPSED", "CONSENT_DECLINED")
# what the insured is asked to consent to (Insurance Law art. 34), by application kind
CONSENT_ACTIONS = {"POLICY_LOAN": _l("以保单办理保单贷款(质押)"), "BENEFICIARY": _l("变更受益人")}
CONSENT_STATUSES = {"ASKED": _l("待确认"), "CONFIRMED": _l("已同意"), "DECLINED": _l("不同意"),
                    "LAPSED": _l("已逾期")}
LOAN_STATUSES = {"PENDING": _l("待放款"), "ACTIVE": _l("未清偿"), "REPAID": _l("已清偿"), "ROLLED_OVER": _l("已转新贷")}
# what a loan ledger row records (app/services/ledger.py)
LEDGER_KINDS = {"DISBURSED": _l("放款到账"), "REPAYMENT": _l("还款"), "ROLLOVER": _l("到期转新贷"),
                "SUSPENDED": _l("保单中止")}


class ServicingApplication(TimestampMixin, Undeletable, Model):
    __tablename__ = "servicing_application"
    __table_args__ = (Index("ix_application_status", "status", "kind", "submitted_at"),
                      Index("ix_application_due", "status", "due_decision_at"),
                      Index("ix_application_submitted", "submitted_at", "id"),  # the lists' order
                      UniqueConstraint("slip_code", name="uq_servicing_application_slip_code"))

    id = Column(Integer, primary_key=True)
    application_no = Column(String(32), unique=True, nullable=False)
    # idempotency: one key per form render, so a double submit finds the first application
    request_key = Column(String(64), unique=True)
    kind = Column(String(20), nullable=False)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    policy_id = Column(Integer, ForeignKey("policy.id"), index=True)
    policy = relationship("Policy")
    status = Column(String(12), nullable=False, default="SUBMITTED")
    # what the customer entered (the card number masked), encrypted at rest as a whole: a beneficiary
    # change holds every beneficiary's ID number (issue 15 item 4, migration a15c0018pl18)
    payload = Column(EncryptedJSON)
    # the full bank card number the customer entered (保单贷款's 收款账户, 保单还款's 付款账户), encrypted
    # at rest (issue 15 item 4, services/crypto.py); the payload keeps only its masked form. None for the
    # other kinds and for applications made before migration a15c0017bk17.
    account_no = Column(EncryptedString(255))
    submitted_at = Column(DateTime, nullable=False)
    decided_at = Column(DateTime)
    decided_by_id = Column(Integer, ForeignKey("ab_user.id"))
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    decision_note = Column(Text)
    identity_verification_id = Column(Integer, ForeignKey("identity_verification.id"))
    amount = Column(Money)  # what the rules compare with STP_MAX_AMOUNT and FOUR_EYES_AMOUNT
    # the rules as they ran: [{"name", "passed", "figures"}], figures in Chinese for the operator
    rule_trace = Column(JSON)
    submitted_by_id = Column(Integer, ForeignKey("ab_user.id"))  # staff entering it for the customer
    submitted_by = relationship("User", foreign_keys=[submitted_by_id])
    decided_by_system = Column(Boolean, nullable=False, default=False)  # straight-through
    sampled_for_review = Column(Boolean, nullable=False, default=False)  # drawn for after-the-fact review
    sample_reviewed_at = Column(DateTime)  # the drawn approval was looked at again, by whom, with what finding
    sample_reviewed_by_id = Column(Integer, ForeignKey("ab_user.id"))
    sample_reviewed_by = relationship("User", foreign_keys=[sample_reviewed_by_id])
    sample_review_note = Column(Text)
    approvals_needed = Column(Integer, nullable=False, default=1)  # 2 above FOUR_EYES_AMOUNT
    reject_reason = Column(String(20))  # REJECT_REASONS
    # service time limits (人身保险业务基本服务规定 arts. 19-21), in Chinese working days
    due_decision_at = Column(DateTime)
    due_completion_at = Column(DateTime)
    completed_at = Column(DateTime)
    cancelled_at = Column(DateTime)
    # the endorsement slip's (批单) verification code, set when the application is completed
    slip_code = Column(String(16))

    def __repr__(self):
        return self.application_no


class ApplicationPolicy(Model):
    """One policy of an application that changes several at once (受益人变更: 请选择同时变更的保单), with
    what it held before and what it holds after; applied to all of them or to none."""
    __tablename__ = "servicing_application_policy"
    __table_args__ = (UniqueConstraint("application_id", "policy_id", name="uq_application_policy"),)

    id = Column(Integer, primary_key=True)
    application_id = Column(Integer, ForeignKey("servicing_application.id"), nullable=False)
    application = relationship("ServicingApplication", backref="policy_links")
    policy_id = Column(Integer, ForeignKey("policy.id"), nullable=False, index=True)
    policy = relationship("Policy")
    # the beneficiary lists, ID numbers included: encrypted at rest (migration a15c0018pl18)
    before = Column(EncryptedJSON)
    after = Column(EncryptedJSON)

    def __repr__(self):
        return f"{self.application_id}:{self.policy_id}"


class ApplicationApproval(Model):
    """One operator's approval of an application in review; four eyes need two different ones."""
    __tablename__ = "application_approval"
    __table_args__ = (UniqueConstraint("application_id", "user_id", name="uq_approval_application_user"),)

    id = Column(Integer, primary_key=True)
    application_id = Column(Integer, ForeignKey("servicing_application.id"), nullable=False)
    application = relationship("ServicingApplication", backref="approvals")
    user_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False, index=True)
    user = relationship("User")
    decided_at = Column(DateTime, nullable=False)
    note = Column(Text)

    def __repr__(self):
        return f"{self.user} {self.decided_at:%Y-%m-%d %H:%M}"


class Consent(Undeletable, Model):
    """The insured's written consent (Insurance Law art. 34: a policy with a death benefit is not pledged,
    nor its beneficiary changed, without it): who was asked, for which policy, application and action, the
    exact text shown with its SHA-256, when, from where, and the face check passed before confirming."""
    __tablename__ = "consent"
    # one per insured: a change on several policies asks each insured once
    __table_args__ = (UniqueConstraint("application_id", "action", "customer_id",
                                       name="uq_consent_application_insured"),
                      Index("ix_consent_status_asked", "status", "asked_at"))

    id = Column(Integer, primary_key=True)
    code = Column(String(64), unique=True, nullable=False)  # the SMS link's code (secrets.token_urlsafe)
    action = Column(String(20), nullable=False)  # CONSENT_ACTIONS (the application's kind)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)  # the insured
    customer = relationship("Customer")
    policy_id = Column(Integer, ForeignKey("policy.id"), nullable=False, index=True)
    policy = relationship("Policy")
    application_id = Column(Integer, ForeignKey("servicing_application.id"), nullable=False)
    application = relationship("ServicingApplication", backref="consents")
    status = Column(String(10), nullable=False, default="ASKED")  # CONSENT_STATUSES
    text = Column(Text, nullable=False)  # exactly what the insured is shown, amounts included
    text_sha256 = Column(String(64), nullable=False)
    asked_at = Column(DateTime, nullable=False)
    confirmed_at = Column(DateTime)
    declined_at = Column(DateTime)
    lapsed_at = Column(DateTime)
    ip = Column(String(45))
    user_agent = Column(String(255))
    identity_verification_id = Column(Integer, ForeignKey("identity_verification.id"))
    identity_verification = relationship("IdentityVerification")

    def __repr__(self):
        return f"{self.action} {self.status} {self.asked_at:%Y-%m-%d %H:%M}"


class PolicyLoan(TimestampMixin, Undeletable, Model):
    __tablename__ = "policy_loan"
    __table_args__ = (Index("ix_policy_loan_due", "status", "due_on"),)

    id = Column(Integer, primary_key=True)
    application_id = Column(Integer, ForeignKey("servicing_application.id"), unique=True)
    application = relationship("ServicingApplication")
    policy_id = Column(Integer, ForeignKey("policy.id"), nullable=False, index=True)
    policy = relationship("Policy")
    principal = Column(Money, nullable=False)
    stamp_duty = Column(Money, nullable=False, default=0)
    credited_amount = Column(Money, nullable=False)
    annual_rate = Column(Numeric(7, 6), nullable=False)
    outstanding_principal = Column(Money, nullable=False)
    interest_paid_to = Column(Date)  # interest counted up to this day (what the ledger says)
    # interest counted to interest_paid_to and not yet paid (a repayment smaller than the interest)
    interest_carried = Column(Money, nullable=False, default=0, server_default="0")
    bank_name = Column(String(64))
    account_name = Column(String(64))
    account_no_masked = Column(String(32))
    # the payee's full card number, encrypted at rest: what the payment system pays into (the Integration
    # API's payment instruction, app/views/loan_api.py); never shown whole on a page. None for loans made
    # before migration a15c0017bk17 and for roll-overs (no money paid out).
    account_no = Column(EncryptedString(255))
    status = Column(String(12), nullable=False, default="PENDING")
    disbursed_on = Column(Date)  # interest accrues from the day the money arrives
    due_on = Column(Date)
    rolled_from_id = Column(Integer, ForeignKey("policy_loan.id"))
    reminded_days = Column(Integer)  # the last due-date reminder sent: 30, then 7 (the daily loan job)

    def __repr__(self):
        return f"贷款#{self.id} {self.principal}"


class LoanRepayment(Undeletable, Model):
    """A repayment's payment result: PAID (its ledger row holds the money) or FAILED (kept, no ledger row)."""
    __tablename__ = "loan_repayment"
    __table_args__ = (UniqueConstraint("payment_ref", "result", name="uq_repayment_ref_result"),)

    id = Column(Integer, primary_key=True)
    loan_id = Column(Integer, ForeignKey("policy_loan.id"), nullable=False, index=True)
    loan = relationship("PolicyLoan")
    application_id = Column(Integer, ForeignKey("servicing_application.id"))
    amount = Column(Money, nullable=False)
    interest_part = Column(Money, nullable=False)
    principal_part = Column(Money, nullable=False)
    paid_at = Column(DateTime, nullable=False)
    result = Column(String(8), nullable=False, default="PAID", server_default="PAID")  # PAID / FAILED
    payment_ref = Column(String(48))  # the payment system's reference (a FAILED one may be paid later)


class AppendOnly(Exception):
    """A ledger row or a declared rate was to be changed: they are only ever added."""


class LoanRate(Undeletable, Model):
    """The loan rate the company declares (issue 11 point 2): versioned, a row is never edited; a new row
    supersedes the earlier ones from its effective day. A loan keeps the rate in force when granted."""
    __tablename__ = "loan_rate"
    __table_args__ = (Index("ix_loan_rate_effective", "effective_from", "id"),)

    id = Column(Integer, primary_key=True)
    annual_rate = Column(Numeric(7, 6), nullable=False)
    effective_from = Column(Date, nullable=False)
    note = Column(String(200))
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))
    created_by = relationship("User")
    created_at = Column(DateTime, nullable=False, default=clock.now)

    def __repr__(self):
        return f"{self.annual_rate} @ {self.effective_from}"


class LoanLedgerEntry(Undeletable, Model):
    """One line of a loan's append-only ledger (issue 11 point 4): rows are only inserted. The loan's
    outstanding principal and interest columns are what its entries add up to (services/ledger.py)."""
    __tablename__ = "loan_ledger_entry"
    __table_args__ = (Index("ix_ledger_loan_day", "loan_id", "on_day", "id"),)

    id = Column(Integer, primary_key=True)
    loan_id = Column(Integer, ForeignKey("policy_loan.id"), nullable=False)
    loan = relationship("PolicyLoan")
    kind = Column(String(12), nullable=False)  # LEDGER_KINDS
    # one event enters once: "disbursed:<loan>", "repayment:<repayment>", "rollover:<loan>", ...
    event_key = Column(String(64), nullable=False, unique=True)
    on_day = Column(Date, nullable=False)
    principal_delta = Column(Money, nullable=False, default=0)  # + lent, - repaid or rolled into a new loan
    interest_delta = Column(Money, nullable=False, default=0)  # - interest paid or capitalised
    amount = Column(Money, nullable=False, default=0)  # the money moved (paid out, repaid, capitalised)
    principal_after = Column(Money, nullable=False)
    interest_carried_after = Column(Money, nullable=False)
    interest_paid_to_after = Column(Date)
    repayment_id = Column(Integer, ForeignKey("loan_repayment.id"))
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))
    created_by = relationship("User")
    actor = Column(String(64))  # who recorded it: a user, the payment system, a job
    created_at = Column(DateTime, nullable=False, default=clock.now)

    def __repr__(self):
        return f"{self.kind} {self.on_day} {self.principal_delta}"


@event.listens_for(LoanLedgerEntry, "before_update")
@event.listens_for(LoanRate, "before_update")
def _append_only(mapper, connection, target):
    raise AppendOnly(f"{type(target).__name__} rows are never changed; add a new one")


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_update(orm_execute_state):
    """update(LoanLedgerEntry) through the ORM is refused too (plain SQL is what recompute-loans finds)."""
    if orm_execute_state.is_update and any(issubclass(m.class_, (LoanLedgerEntry, LoanRate))
                                           for m in orm_execute_state.all_mappers):
        raise AppendOnly("loan ledger rows and declared rates are never changed; add a new one")
