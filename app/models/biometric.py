"""The customer's separate consent to the processing of their face (issue 15 point 4; PIPL arts. 28-29, the
2025 face recognition rules): before the first face check of a purpose the customer is shown what is
collected, why, for how long and who sees it, and agrees or declines. Each answer is one row with the exact
notice text shown and its SHA-256, so an auditor reads what the customer read; the latest row of a customer,
purpose and notice version decides, and a new notice version asks again."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Text

from app.models.base import Model, Undeletable

BIOMETRIC_PURPOSES = {
    "EREVISIT": _l("电子回访身份验证"),
    "ACCOUNT_AUTH": _l("账户认证"),
    "SERVICING": _l("保全业务人脸识别"),
    "INSURED_CONSENT": _l("被保险人同意确认"),
}


class BiometricConsent(Undeletable, Model):
    __tablename__ = "biometric_consent"
    __table_args__ = (Index("ix_biometric_consent_customer", "customer_id", "purpose", "notice_version"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False)
    purpose = Column(String(24), nullable=False)  # BIOMETRIC_PURPOSES
    notice_version = Column(String(32), nullable=False)
    notice_text = Column(Text, nullable=False)  # exactly the notice the page showed
    notice_sha256 = Column(String(64), nullable=False)
    agreed_at = Column(DateTime)  # one of agreed_at / declined_at is set
    declined_at = Column(DateTime)
    ip = Column(String(45))
    user_agent = Column(String(255))

    @property
    def agreed(self):
        return self.agreed_at is not None

    def __repr__(self):
        return f"{self.purpose} {'agreed' if self.agreed else 'declined'}"
