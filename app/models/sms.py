from flask_babel import lazy_gettext as _l
from sqlalchemy import (Boolean, Column, DateTime, ForeignKey, Index, Integer, JSON, String,
                        Text)
from sqlalchemy.orm import relationship, validates

from app.models.base import Model, TimestampMixin
from app.services.crypto import EncryptedString, hash_default, lookup_hash

SMS_STATUSES = {
    "QUEUED": _l("待发送"),
    "SENDING": _l("发送中"),
    "SENT": _l("已发送"),
    "FLOW_CONTROLLED": _l("被限流待重发"),
    "FAILED": _l("发送失败"),
    "DELIVERED": _l("已送达"),
    "UNDELIVERED": _l("未送达"),
}


class SmsTemplate(TimestampMixin, Model):
    __tablename__ = "sms_template"

    id = Column(Integer, primary_key=True)
    code = Column(String(32), unique=True, nullable=False)  # our key, e.g. EREVISIT_INVITE
    name = Column(String(64), nullable=False)
    provider_template_code = Column(String(32), nullable=False)  # Alibaba's SMS_123456
    content = Column(Text, nullable=False)  # with ${name} placeholders, as filed with Alibaba
    is_active = Column(Boolean, nullable=False, default=True)

    def __repr__(self):
        return self.name


class _EncryptedPhone:
    """The mobile is stored encrypted (app/services/crypto.py, issue 15 item 4); lookups compare
    phone_hash, the keyed hash of the same kind as customer.mobile_hash, so
    `SmsMessage.phone_hash == customer.mobile_hash` finds a customer's messages. The column default
    fills it in Core and multi-row INSERTs (sms.queue_many), the validator on ORM writes."""

    @validates("phone")
    def _keep_phone_hash(self, key, value):
        self.phone_hash = lookup_hash(value, "mobile")
        return value

    @classmethod
    def phone_is(cls, phone):
        """The WHERE clause for "this mobile" (an encrypted column never matches a plain value)."""
        return cls.phone_hash == lookup_hash(phone, "mobile")


class SmsMessage(_EncryptedPhone, TimestampMixin, Model):
    __tablename__ = "sms_message"
    __table_args__ = (Index("ix_sms_status_next", "status", "next_attempt_at"),
                      Index("ix_sms_created", "created_at", "id"))  # the list's default order

    id = Column(Integer, primary_key=True)
    template_id = Column(Integer, ForeignKey("sms_template.id"), nullable=False)
    template = relationship("SmsTemplate")
    phone = Column(EncryptedString(255), nullable=False)
    phone_hash = Column(String(64), nullable=False, index=True, default=hash_default("phone", "mobile"))
    params = Column(JSON, nullable=False)
    content = Column(Text, nullable=False)  # rendered text, as the customer reads it
    purpose = Column(String(32))  # EREVISIT / CODE / REMINDER ...
    customer_id = Column(Integer, ForeignKey("customer.id"), index=True)
    link_id = Column(Integer, ForeignKey("revisit_link.id"), index=True)
    backend = Column(String(12), nullable=False)
    status = Column(String(16), nullable=False, default="QUEUED")
    out_id = Column(String(64), unique=True, nullable=False)  # our id, echoed in receipts
    biz_id = Column(String(64), index=True)
    request_id = Column(String(64))
    provider_code = Column(String(64))
    provider_message = Column(String(255))
    send_attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime)
    sent_at = Column(DateTime)
    receipt_at = Column(DateTime)
    receipt_code = Column(String(64))
    receipt_message = Column(String(255))

    def __repr__(self):  # where a page names the message (a related column): the mobile masked
        from app.services.privacy import mask_mobile

        return f"SMS#{self.id} {mask_mobile(self.phone)}"


class VerificationCode(_EncryptedPhone, Model):
    """A 6-digit SMS code: hashed, valid minutes, single use, few wrong tries."""
    __tablename__ = "verification_code"
    __table_args__ = (Index("ix_code_phone_hash_purpose", "phone_hash", "purpose", "created_at"),)

    id = Column(Integer, primary_key=True)
    phone = Column(EncryptedString(255), nullable=False)
    phone_hash = Column(String(64), nullable=False, default=hash_default("phone", "mobile"))
    purpose = Column(String(32), nullable=False)
    code_hash = Column(String(128), nullable=False)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)
    wrong_tries = Column(Integer, nullable=False, default=0)
    used_at = Column(DateTime)
    sms_id = Column(Integer, ForeignKey("sms_message.id"))
