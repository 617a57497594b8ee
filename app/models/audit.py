from sqlalchemy import Column, DateTime, Index, Integer, JSON, String, UniqueConstraint

from app.models.base import Model, Undeletable


class AuditEvent(Undeletable, Model):
    """Who did what, when, with the values before and after. Never updated or deleted.

    row_hash is the SHA-256 of the event's canonical content (services/seal.py, event_hash), written with
    the row; rows inserted outside services/audit.py (the claim procedure) get it from the seal job."""
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id = Column(Integer, primary_key=True)
    occurred_at = Column(DateTime, nullable=False, index=True)
    actor_type = Column(String(12), nullable=False)  # user / customer / system
    actor_id = Column(Integer)
    actor_name = Column(String(64))
    action = Column(String(32), nullable=False)  # create / update / claim / reveal ...
    entity = Column(String(64), nullable=False)
    entity_id = Column(String(64))
    before = Column(JSON)
    after = Column(JSON)
    ip = Column(String(45))
    user_agent = Column(String(255))
    row_hash = Column(String(64))


class AuditSeal(Undeletable, Model):
    """One period's audit events sealed (services/seal.py): the ids first_id..last_id in id order, less the
    ids that never held a committed event (gaps, as ranges), `count` events, and the running SHA-256 chained
    to the previous seal's chain_hash over each event's id and row_hash."""
    __tablename__ = "audit_seal"
    __table_args__ = (UniqueConstraint("first_id", name="uq_audit_seal_first"),)

    id = Column(Integer, primary_key=True)
    first_id = Column(Integer, nullable=False)
    last_id = Column(Integer, nullable=False, index=True)
    count = Column(Integer, nullable=False)
    gaps = Column(JSON)  # [[from, to], ...] ids in the range without an event when sealed
    prev_hash = Column(String(64), nullable=False)
    chain_hash = Column(String(64), nullable=False)
    sealed_at = Column(DateTime, nullable=False, index=True)


class AuditRedaction(Undeletable, Model):
    """One audit event written before the trail masked personal data, redacted afterwards by
    `flask audit redact-legacy` (services/redaction.py): its clear ID numbers and mobiles rewritten to what the
    writer stores now. audit_event.row_hash keeps the sealed hash of the original content (original_hash), so the
    seal chain still holds; redacted_hash is the hash of the content as rewritten. record_hash is the SHA-256 of
    this record (event_id, original_hash, redacted_hash, redacted_at, reason), and the run's own audit event
    (operation_id, action redact_legacy) holds the count of its records and the SHA-256 over their record_hash in
    event order: verify() accepts the rewritten event only while all of that agrees."""
    __tablename__ = "audit_redaction"
    __table_args__ = (UniqueConstraint("event_id", name="uq_audit_redaction_event"),)

    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, nullable=False)
    operation_id = Column(Integer, nullable=False, index=True)  # the redact_legacy audit event of the run
    original_hash = Column(String(64), nullable=False)
    redacted_hash = Column(String(64), nullable=False)
    redacted_at = Column(DateTime, nullable=False)
    reason = Column(String(255), nullable=False)
    record_hash = Column(String(64), nullable=False)
