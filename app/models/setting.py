from sqlalchemy import Column, Integer, String, Text

from app.models.base import Model, TimestampMixin


class Setting(TimestampMixin, Model):
    """An admin override of a business default from config.py (same key)."""
    __tablename__ = "setting"

    id = Column(Integer, primary_key=True)
    key = Column(String(64), unique=True, nullable=False)
    value = Column(String(255), nullable=False)
    description = Column(Text)
