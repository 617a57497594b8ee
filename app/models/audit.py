from sqlalchemy import Column, DateTime, Index, Integer, JSON, String

from app.models.base import Model, Undeletable


class AuditEvent(Undeletable, Model):
    """Who did what, when, with the values before and after. Never updated or deleted."""
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
