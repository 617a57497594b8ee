from flask_babel import lazy_gettext as _l
from sqlalchemy import (Column, Date, DateTime, ForeignKey, Index, Integer, JSON, Numeric,
                        String, Text)
from sqlalchemy.orm import relationship

from app.models.base import Model, Money, TimestampMixin, Undeletable

SERVICING_KINDS = {
    "POLICY_LOAN": _l("保单贷款"),
    "LOAN_REPAYMENT": _l("保单还款"),
    "ANNUITY_METHOD": _l("年金领取方式变更"),
    "BENEFICIARY": _l("受益人变更"),
}
APPLICATION_STATUSES = {
    "SUBMITTED": _l("已提交"),
    "REVIEW": _l("待人工审核"),
    "APPROVED": _l("已受理"),
    "REJECTED": _l("已拒绝"),
    "COMPLETED": _l("已完成"),
    "CANCELLED": _l("已撤销"),
}
LOAN_STATUSES = {"PENDING": _l("待放款"), "ACTIVE": _l("未清偿"), "REPAID": _l("已清偿"), "ROLLED_OVER": _l("已转新贷")}


class ServicingApplication(TimestampMixin, Undeletable, Model):
    __tablename__ = "servicing_application"
    __table_args__ = (Index("ix_application_status", "status", "kind", "submitted_at"),)

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
    payload = Column(JSON)  # what the customer entered (masked where it holds card numbers)
    submitted_at = Column(DateTime, nullable=False)
    decided_at = Column(DateTime)
    decided_by_id = Column(Integer, ForeignKey("ab_user.id"))
    decided_by = relationship("User")
    decision_note = Column(Text)
    identity_verification_id = Column(Integer, ForeignKey("identity_verification.id"))

    def __repr__(self):
        return self.application_no


class PolicyLoan(TimestampMixin, Undeletable, Model):
    __tablename__ = "policy_loan"

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
    interest_paid_to = Column(Date)  # interest settled up to this day
    bank_name = Column(String(64))
    account_name = Column(String(64))
    account_no_masked = Column(String(32))
    status = Column(String(12), nullable=False, default="PENDING")
    disbursed_on = Column(Date)  # interest accrues from the day the money arrives
    due_on = Column(Date)
    rolled_from_id = Column(Integer, ForeignKey("policy_loan.id"))

    def __repr__(self):
        return f"贷款#{self.id} {self.principal}"


class LoanRepayment(Undeletable, Model):
    __tablename__ = "loan_repayment"

    id = Column(Integer, primary_key=True)
    loan_id = Column(Integer, ForeignKey("policy_loan.id"), nullable=False, index=True)
    loan = relationship("PolicyLoan")
    application_id = Column(Integer, ForeignKey("servicing_application.id"))
    amount = Column(Money, nullable=False)
    interest_part = Column(Money, nullable=False)
    principal_part = Column(Money, nullable=False)
    paid_at = Column(DateTime, nullable=False)
