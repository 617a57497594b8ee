"""The key screens (issue 15 point 2): for every step where a customer agrees to something, the exact
text shown (rendered with the policy's values, amounts, agreement version) with its SHA-256, when it was
shown and agreed, from where; so an auditor sees what the customer saw, not today's template."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import relationship

from app.models.base import Model, Undeletable

SCREEN_KINDS = {
    "QUESTIONNAIRE": _l("回访问卷"),
    "LOAN_CONFIRM": _l("保单贷款确认"),
    "REPAYMENT_CONFIRM": _l("保单还款确认"),
    "ANNUITY_CONFIRM": _l("年金领取方式变更确认"),
    "BENEFICIARY_CONFIRM": _l("受益人变更确认"),
    "CONSENT": _l("被保险人同意"),
}


class KeyScreen(Undeletable, Model):
    __tablename__ = "key_screen"
    __table_args__ = (Index("ix_key_screen_policy", "policy_id", "shown_at"),)

    id = Column(Integer, primary_key=True)
    kind = Column(String(24), nullable=False)  # SCREEN_KINDS
    customer_id = Column(Integer, ForeignKey("customer.id"), index=True)
    customer = relationship("Customer")
    policy_id = Column(Integer, ForeignKey("policy.id"))
    policy = relationship("Policy")
    revisit_task_id = Column(Integer, ForeignKey("revisit_task.id"), index=True)
    application_id = Column(Integer, ForeignKey("servicing_application.id"), index=True)
    consent_id = Column(Integer, ForeignKey("consent.id"))
    title = Column(String(128), nullable=False)  # the page's title, e.g. 保单贷款确认
    text = Column(Text, nullable=False)  # exactly what the page showed, as text, values filled in
    text_sha256 = Column(String(64), nullable=False)
    agreement_version = Column(String(32))  # the version of an agreement shown with it, if any
    shown_at = Column(DateTime, nullable=False)
    agreed_at = Column(DateTime)  # the customer's submission of it
    ip = Column(String(45))
    user_agent = Column(String(255))

    def __repr__(self):
        return f"{self.kind} {self.shown_at:%Y-%m-%d %H:%M}"
