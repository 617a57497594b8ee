"""Business settings: an admin's override in the `setting` table, else config.py's default.

Only the business defaults listed in OVERRIDABLE may be overridden; values are parsed to the
type of the default (Decimal, int, bool, float, str).
"""
from decimal import Decimal, InvalidOperation

from flask import current_app

from app.extensions import db
from app.models.setting import Setting
from app.services.errors import DomainError

OVERRIDABLE = (
    "EREVISIT_VALID_DAYS", "EREVISIT_REMINDER_ENABLED", "HESITATION_DAYS",
    "PHONE_MAX_ATTEMPTS", "PHONE_ATTEMPTS_DIFFERENT_DAYS", "CLAIM_RESERVATION_MINUTES",
    "CALLBACK_GRACE_MINUTES", "LOAN_RATIO", "LOAN_TERM_MONTHS", "LOAN_ANNUAL_RATE",
    "STAMP_DUTY_THRESHOLD", "STAMP_DUTY_RATE", "ID_UPLOAD_THRESHOLD", "CODE_VALID_MINUTES",
    "CODE_MAX_WRONG_TRIES", "FACE_MAX_TRIES", "FACE_MATCH_THRESHOLD",
)


def parse(key, raw):
    """Parse `raw` to the type of config's default for `key`; DomainError when it does not fit."""
    if key not in OVERRIDABLE:
        raise DomainError("setting_unknown", key=key)
    default = current_app.config[key]
    raw = str(raw).strip()
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        if isinstance(default, Decimal):
            value = Decimal(raw)
            if not value.is_finite() or value < 0:
                raise ValueError(raw)
            return value
        if isinstance(default, int):
            value = int(raw)
            if value < 0:
                raise ValueError(raw)
            return value
        if isinstance(default, float):
            return float(raw)
        return raw
    except (ValueError, InvalidOperation):
        raise DomainError("setting_bad_value", key=key, value=raw) from None


def get(key):
    row = db.session.query(Setting.value).filter_by(key=key).scalar()
    if row is None:
        return current_app.config[key]
    return parse(key, row)
