from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Date, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import validates

from app.models.base import Model, TimestampMixin
from app.services.crypto import EncryptedBinary, EncryptedString, hash_default, lookup_hash

ID_TYPES = {
    "RESIDENT_ID": _l("居民身份证"),
    "HMT_PERMIT": _l("港澳台居民居住证"),
    "FOREIGN_PR": _l("外国人永久居留身份证"),
    "HOUSEHOLD": _l("户口簿"),
    "PASSPORT": _l("护照"),
    "HK_MACAO_PASS": _l("港澳居民来往内地通行证"),
    "TAIWAN_PASS": _l("台湾居民来往大陆通行证"),
    "BIRTH_CERT": _l("出生证明"),
}
GENDERS = {"M": _l("男"), "F": _l("女")}
AUTH_STATUSES = {"UNVERIFIED": _l("未认证"), "VERIFIED": _l("已认证")}


class Customer(TimestampMixin, Model):
    __tablename__ = "customer"
    # ID number and mobile are stored encrypted (app/services/crypto.py); lookups and the one-customer-
    # per-document rule go through their keyed hashes, kept by _keep_hashes and the column defaults
    __table_args__ = (UniqueConstraint("id_type", "id_number_hash", name="uq_customer_id_document"),)

    id = Column(Integer, primary_key=True)
    customer_no = Column(String(32), unique=True, nullable=False)
    name = Column(String(64), nullable=False)
    gender = Column(String(1), nullable=False)
    birth_date = Column(Date, nullable=False)
    id_type = Column(String(20), nullable=False, default="RESIDENT_ID")
    id_number = Column(EncryptedString(255), nullable=False)
    id_number_hash = Column(String(64), nullable=False, default=hash_default("id_number", "id_number"))
    mobile = Column(EncryptedString(255), nullable=False)  # 预留手机号
    mobile_hash = Column(String(64), nullable=False, index=True, default=hash_default("mobile", "mobile"))
    wechat_openid = Column(String(64), unique=True)
    auth_status = Column(String(12), nullable=False, default="UNVERIFIED")
    authenticated_at = Column(DateTime)
    reference_photo = Column(String(255))  # path under UPLOAD_DIR, attached by core system or admin
    face_encoding = Column(EncryptedBinary)  # enrolled 128-d float64 encoding (after liveness check)
    servicing_password_hash = Column(String(255))

    @validates("id_number", "mobile")
    def _keep_hashes(self, key, value):
        setattr(self, f"{key}_hash", lookup_hash(value, key))
        return value

    def __repr__(self):
        return f"{self.name}({self.customer_no})"
