"""SMS verification codes: 6 random digits, stored as an HMAC, valid CODE_VALID_MINUTES, used once,
void after CODE_MAX_WRONG_TRIES wrong entries; only the newest code of a number and purpose counts.

Sending is limited per mobile like Alibaba's defaults for verification-code SMS (1 a minute, 5 an
hour, 10 a natural day), counted over every purpose, so the limit also protects the customer's
phone from being flooded. The views add a per-IP limit on top (Flask-Limiter).

The code exists only as its hash here and in the text handed to the SMS provider at send time: the
stored message shows it masked (services/sms.py, secrets). In development with the outbox backend,
development_code() reads it back (the development view and the tests); production has no such way.
"""
import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update

from app.extensions import db
from app.models.sms import SmsMessage, SmsTemplate, VerificationCode
from app.services import clock, sms, unit
from app.services.errors import DomainError
from app.services.validation import normalize_mobile
from app.services import settings as business_settings

PURPOSES = ("SIGN_IN", "BIND", "PASSWORD_RESET", "SERVICING")  # SERVICING: loan, repayment (loan_application.py)
TEMPLATE = "VERIFY_CODE"
CODE_IN_TEXT = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def _hash(phone, purpose, code):
    # A keyed hash: a leaked table does not give the codes away by trying all 10^6 of them.
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{phone}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def _mobile(phone):
    normalized = normalize_mobile(phone)
    if normalized is None:
        raise DomainError("mobile_invalid")
    return normalized


def _sent_since(phone, since):
    # the mobile is encrypted at rest: its rows are found through the keyed hash (issue 15 item 4)
    return db.session.query(func.count(VerificationCode.id)).filter(
        VerificationCode.phone_is(phone), VerificationCode.created_at >= since).scalar()


def check_send_allowed(phone, now=None):
    """Raise when this mobile has had its share of codes (per minute, hour, natural day)."""
    config = current_app.config
    now = now or clock.now()
    minute_ago = now - timedelta(minutes=1)
    if _sent_since(phone, minute_ago) >= config["CODE_SENDS_PER_MINUTE"]:
        last = db.session.query(func.max(VerificationCode.created_at)).filter(
            VerificationCode.phone_is(phone)).scalar()
        wait = max(1, 60 - int((now - last).total_seconds())) if last else 60
        raise DomainError("code_too_frequent", seconds=wait)
    if _sent_since(phone, now - timedelta(hours=1)) >= config["CODE_SENDS_PER_HOUR"]:
        raise DomainError("code_hourly_limit")
    if _sent_since(phone, clock.start_of_day(now.date())) >= config["CODE_SENDS_PER_DAY"]:
        raise DomainError("code_daily_limit")


def _one_sender_at_a_time():
    """Lock the verification-code template's row (SELECT ... FOR UPDATE) until the caller's unit of
    work commits: code sends take turns, and each one's count (READ COMMITTED) sees the codes the
    previous ones committed, so a burst to one number cannot all pass check_send_allowed (issue 14
    item 4). There is no per-number row to lock (a number may belong to nobody), and a send holds it
    for a few milliseconds: sends are few, limited per IP by the views as well."""
    db.session.execute(select(SmsTemplate.id).where(SmsTemplate.code == TEMPLATE).with_for_update())


def _issue(phone, purpose, customer_id):
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    phone = _mobile(phone)
    _one_sender_at_a_time()
    check_send_allowed(phone)
    now = clock.now()
    minutes = business_settings.get("CODE_VALID_MINUTES")
    code = f"{secrets.randbelow(10 ** 6):06d}"
    # the stored SMS shows the code masked (您的验证码为******); the code travels sealed to the send
    message = sms.queue(TEMPLATE, phone, {"minutes": minutes}, purpose="CODE", customer_id=customer_id,
                        secret={"code": code})
    row = VerificationCode(phone=phone, purpose=purpose, code_hash=_hash(phone, purpose, code),
                           created_at=now, expires_at=now + timedelta(minutes=minutes),
                           wrong_tries=0, sms_id=message.id)
    db.session.add(row)
    db.session.flush()
    return phone, message.id, sms.seal({"code": code})


def issue(phone, purpose, customer_id=None):
    """Make a code and queue its SMS (the code masked) in the caller's unit of work; returns
    (normalized mobile, SMS message id). Nothing sends it: send() does."""
    phone, message_id, _sealed = _issue(phone, purpose, customer_id)
    return phone, message_id


def send(phone, purpose, customer_id=None):
    """Make a code and hand its SMS, with the code sealed in the task's argument, to the worker once
    the caller's unit of work commits; returns the normalized mobile."""
    phone, message_id, sealed = _issue(phone, purpose, customer_id)
    unit.enqueue("sms.send", message_id, sealed)
    return phone


def development_code(message):
    """The code of a verification SMS (a SmsMessage or its id), from the development outbox: in
    development with the outbox backend only (what the development view and the tests read); None in
    production, with a real SMS backend, or when this process did not issue it."""
    if not isinstance(message, SmsMessage):
        message = db.session.get(SmsMessage, message)
    if message is None:
        return None
    for row in sms.development_outbox():
        if row["out_id"] == message.out_id:
            found = CODE_IN_TEXT.search(row["text"])
            return found.group(1) if found else None
    return None


def verify(phone, purpose, code):
    """Consume the newest code of this mobile and purpose when `code` is it; raise otherwise.

    A wrong entry is counted and committed at once, before the refusal: the unit of work rolls
    back on the DomainError, and the count must survive it (else guessing is free). The right
    code is marked used in the caller's unit of work.
    """
    phone = _mobile(phone)
    code = (code or "").strip()
    row = db.session.query(VerificationCode) \
        .filter(VerificationCode.phone_is(phone), VerificationCode.purpose == purpose) \
        .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc()) \
        .with_for_update().populate_existing().first()
    if row is None:
        raise DomainError("code_invalid")
    max_tries = business_settings.get("CODE_MAX_WRONG_TRIES")
    error = None
    if row.used_at is not None:
        error = DomainError("code_used")
    elif row.wrong_tries >= max_tries:
        error = DomainError("code_too_many_tries")
    elif clock.now() >= row.expires_at:
        error = DomainError("code_expired")
    elif not hmac.compare_digest(row.code_hash, _hash(phone, purpose, code)):
        error = _count_wrong_try(row.id, max_tries)
    if error is not None:
        db.session.commit()
        raise error
    # used once: a conditional UPDATE as well, so two right entries at once cannot both consume it
    used = db.session.execute(
        update(VerificationCode).where(VerificationCode.id == row.id, VerificationCode.used_at.is_(None),
                                       VerificationCode.wrong_tries < max_tries)
        .values(used_at=clock.now()).execution_options(synchronize_session=False)).rowcount
    if used != 1:
        db.session.commit()
        raise DomainError("code_used")
    db.session.refresh(row)
    return phone


def _count_wrong_try(code_id, max_tries):
    """UPDATE ... SET wrong_tries = wrong_tries + 1 WHERE id = ? AND wrong_tries < max: counted
    atomically in the database, so twelve wrong entries at once spend exactly the tries left; the
    refusal says how many are left after this one."""
    counted = db.session.execute(
        update(VerificationCode).where(VerificationCode.id == code_id, VerificationCode.used_at.is_(None),
                                       VerificationCode.wrong_tries < max_tries)
        .values(wrong_tries=VerificationCode.wrong_tries + 1)
        .execution_options(synchronize_session=False)).rowcount
    if counted != 1:
        return DomainError("code_too_many_tries")
    tries = db.session.execute(select(VerificationCode.wrong_tries).where(VerificationCode.id == code_id)).scalar()
    left = max_tries - tries
    return DomainError("code_wrong", left=left) if left > 0 else DomainError("code_too_many_tries")
