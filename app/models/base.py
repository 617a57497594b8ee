"""Shared column helpers for the portal's models."""
from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, Numeric

from app.services import clock

# Money: DECIMAL(14, 2), never float.
Money = Numeric(14, 2, asdecimal=True)


class TimestampMixin:
    created_at = Column(DateTime, nullable=False, default=clock.now)
    updated_at = Column(DateTime, nullable=False, default=clock.now, onupdate=clock.now)


class Undeletable:
    """Marker: records the law says to keep (Insurance Law art. 87); deleting one raises."""


__all__ = ["Model", "Money", "TimestampMixin", "Undeletable"]
