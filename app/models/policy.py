from flask_babel import lazy_gettext as _l
from sqlalchemy import (Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, Numeric,
                        String, UniqueConstraint)
from sqlalchemy.orm import relationship

from app.models.base import Model, Money, TimestampMixin, Undeletable
from app.services.crypto import EncryptedString

POLICY_STATUSES = {"IN_FORCE": _l("保单有效"), "SUSPENDED": _l("中止"), "TERMINATED": _l("终止")}
CHANNELS = {"OFFICIAL_ACCOUNT": _l("官微"), "OFFLINE": _l("线下")}
PAYMENT_MODES = {"SINGLE": _l("趸交"), "REGULAR": _l("期交")}
PAYMENT_FREQUENCIES = {"YEARLY": _l("年交"), "HALF_YEARLY": _l("半年交"), "QUARTERLY": _l("季交"), "MONTHLY": _l("月交")}
BENEFICIARY_KINDS = {"DEATH": _l("身故受益人"), "SURVIVAL": _l("生存受益人")}
RELATIONSHIPS = {
    "SELF": _l("本人"), "SPOUSE": _l("配偶"), "CHILD": _l("子女"), "PARENT": _l("父母"),
    "SIBLING": _l("兄弟姐妹"), "GRANDPARENT": _l("祖父母/外祖父母"), "GUARDIAN": _l("监护人"), "OTHER": _l("其他"),
}


class Policy(TimestampMixin, Undeletable, Model):
    __tablename__ = "policy"
    __table_args__ = (Index("ix_policy_holder_status", "holder_id", "status"),
                      Index("ix_policy_issue_date", "issue_date", "id"))  # the list's default order

    id = Column(Integer, primary_key=True)
    policy_no = Column(String(32), unique=True, nullable=False)  # 保险单号
    product_id = Column(Integer, ForeignKey("product.id"), nullable=False)
    product = relationship("Product")
    holder_id = Column(Integer, ForeignKey("customer.id"), nullable=False)
    holder = relationship("Customer", foreign_keys=[holder_id])
    insured_id = Column(Integer, ForeignKey("customer.id"), nullable=False)
    insured = relationship("Customer", foreign_keys=[insured_id])
    issue_date = Column(Date, nullable=False)  # 承保日期
    receipt_signed_date = Column(Date)  # 回执签收日: the hesitation period runs from it
    effective_date = Column(Date)  # 保单生效日
    status = Column(String(12), nullable=False, default="IN_FORCE")
    channel = Column(String(20), nullable=False, default="OFFLINE")
    premium = Column(Money, nullable=False)
    payment_mode = Column(String(10), nullable=False)
    payment_frequency = Column(String(12))
    payment_years = Column(Integer)
    next_due_date = Column(Date)
    sum_assured = Column(Money, nullable=False)
    cash_value = Column(Money, nullable=False, default=0)
    cash_value_date = Column(Date)
    annuity_method = Column(String(20))
    annuity_method_from = Column(Date)  # the payment date from which annuity_method applies (a change's)
    universal_account_no = Column(String(32))  # the holder's universal-life account, if any
    # the policyholder's relationship to the insured (RELATIONSHIPS): a minor's guardian or not
    holder_relationship = Column(String(16))
    # an insured event reported by the core system (intake API): no beneficiary change from then on
    claim_reported_at = Column(DateTime)
    # the day the contract ended as the core system reported it (status TERMINATED): retention runs from it
    contract_ended_on = Column(Date)

    beneficiaries = relationship("Beneficiary", back_populates="policy",
                                 order_by="Beneficiary.version, Beneficiary.kind, Beneficiary.order")

    def __repr__(self):
        return self.policy_no

    def current_beneficiaries(self, kind=None):
        return [b for b in self.beneficiaries
                if b.superseded_at is None and (kind is None or b.kind == kind)]


class Beneficiary(Undeletable, Model):
    """One beneficiary in one version of a policy's list; a change supersedes the whole list."""
    __tablename__ = "beneficiary"
    __table_args__ = (Index("ix_beneficiary_current", "policy_id", "kind", "superseded_at"),)

    id = Column(Integer, primary_key=True)
    policy_id = Column(Integer, ForeignKey("policy.id"), nullable=False)
    policy = relationship("Policy", back_populates="beneficiaries")
    kind = Column(String(10), nullable=False)
    version = Column(Integer, nullable=False, default=1)
    name = Column(String(64), nullable=False)
    id_type = Column(String(20), nullable=False)
    id_number = Column(EncryptedString(255), nullable=False)  # encrypted at rest (app/services/crypto.py)
    gender = Column(String(1), nullable=False)
    birth_date = Column(Date, nullable=False)
    id_valid_until = Column(Date)  # None: 长期
    relationship_to_insured = Column(String(16), nullable=False)
    order = Column(Integer, nullable=False, default=1)  # 受益顺序
    share = Column(Numeric(5, 2), nullable=False)  # 受益比例 %
    is_legal_heirs = Column(Boolean, nullable=False, default=False)  # 法定
    created_at = Column(DateTime, nullable=False)
    superseded_at = Column(DateTime)
    application_id = Column(Integer, ForeignKey("servicing_application.id"))
    application = relationship("ServicingApplication")
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))  # staff who entered the version, if any
    created_by = relationship("User")

    def __repr__(self):
        return f"{self.name} {self.share}%"
