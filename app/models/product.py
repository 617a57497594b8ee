from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Column, Integer, Numeric, String

from app.models.base import Model, TimestampMixin

PRODUCT_KINDS = {
    "TRADITIONAL": _l("传统型"),
    "PARTICIPATING": _l("分红型"),
    "UNIVERSAL": _l("万能型"),
    "UNIT_LINKED": _l("投连型"),
    "ANNUITY": _l("年金"),
    "TERM": _l("定期寿险"),
}
ANNUITY_METHODS = {"ACCUMULATE": _l("累积生息"), "TO_UNIVERSAL": _l("转入万能账户"), "CASH": _l("现金领取")}


class Product(TimestampMixin, Model):
    __tablename__ = "product"

    id = Column(Integer, primary_key=True)
    code = Column(String(32), unique=True, nullable=False)
    name = Column(String(128), nullable=False)
    kind = Column(String(20), nullable=False)
    term_years = Column(Integer)  # None: whole life
    revisit_required = Column(Boolean, nullable=False, default=True)
    hesitation_days = Column(Integer, nullable=False, default=15)
    loan_allowed = Column(Boolean, nullable=False, default=False)
    loan_ratio = Column(Numeric(5, 4), nullable=False, default=0.80)
    has_death_benefit = Column(Boolean, nullable=False, default=True)
    annuity_options = Column(String(128))  # comma separated keys of ANNUITY_METHODS
    survival_beneficiary_changeable = Column(Boolean, nullable=False, default=True)
    is_active = Column(Boolean, nullable=False, default=True)

    def __repr__(self):
        return self.name
