from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, DateTime, Float, ForeignKey, Index, Integer, JSON, String

from app.models.base import Model, Undeletable

VERIFICATION_KINDS = {"PHOTO": _l("人脸照片比对"), "VIDEO": _l("视频活体检测")}
VERIFICATION_STATUSES = {"PENDING": _l("处理中"), "PASSED": _l("通过"), "FAILED": _l("未通过"), "UNUSABLE": _l("无法识别")}


class IdentityVerification(Undeletable, Model):
    """Every face or liveness check with its evidence (file, digits, figures)."""
    __tablename__ = "identity_verification"
    # the queue: PENDING checks in id order (the sweep, the progress page's place in the queue)
    __table_args__ = (Index("ix_identity_verification_queue", "status", "kind"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    kind = Column(String(8), nullable=False)
    purpose = Column(String(32), nullable=False)  # EREVISIT / ACCOUNT_AUTH / LOAN / PASSWORD_RESET
    link_id = Column(Integer, ForeignKey("revisit_link.id"))
    status = Column(String(10), nullable=False, default="PENDING")
    evidence_path = Column(String(255))  # the selfie or video under UPLOAD_DIR
    challenge_digits = Column(String(8))
    distance = Column(Float)
    details = Column(JSON)  # reasons, per-frame figures
    ip = Column(String(45))
    user_agent = Column(String(255))
    created_at = Column(DateTime, nullable=False)
    completed_at = Column(DateTime)
