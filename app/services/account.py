"""The customer's account on the official-account pages (DOMAIN.md section 3).

Who the visitor is: a verified mobile (signed in with mobile + SMS code) or a WeChat openid, and,
once bound, the Customer. Binding ties that to a policyholder: an openid already on the Customer, or
the 预留手机号 of a policyholder of a policy bought on the official account, binds at once; otherwise
name, ID type, ID number and the mobile (proven by a code) must all match one policyholder. Then a video liveness check
(app/services/identity.py) and a servicing password make the account 已认证 (VERIFIED).

The views keep the ids in the Flask session; everything here takes plain values. Each operation
runs in the caller's unit of work (app/services/unit.py), which commits it; the only commits
here keep a refused attempt's evidence (lockout counts, a spent code) past that rollback.
"""
import re
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import (AuditEvent, Customer, IdentityVerification, Policy, RevisitLink, RevisitTask,
                        ServicingApplication)
from app.models.customer import ID_TYPES
from app.services import audit, clock, codes
from app.services.crypto import lookup_hash
from app.services.errors import DomainError
from app.services.validation import id_document_valid, normalize_mobile, normalize_text
from app.services import settings as business_settings

PASSWORD_MIN_LENGTH = 6
PASSWORD_MAX_LENGTH = 12
VIDEO_PURPOSES = ("ACCOUNT_AUTH", "PASSWORD_RESET")
BIND_ENTITY = "account_binding"


@dataclass
class SignIn:
    phone: str = None
    openid: str = None
    customer_id: int = None
    face_next: bool = False  # an official-account customer not yet 已认证: the face check comes next


# --- sign-in ----------------------------------------------------------------------------------

def _holders():
    return exists().where(Policy.holder_id == Customer.id)


def _official_holders():
    """A holder of a policy bought on the official account (Policy.channel OFFICIAL_ACCOUNT)."""
    return exists().where(Policy.holder_id == Customer.id, Policy.channel == "OFFICIAL_ACCOUNT")


def sign_in_with_mobile(phone, code):
    """A right code proves the mobile. A customer already 已认证 with this 预留手机号 is signed in
    directly. So is the policyholder of a policy bought on the official account (the seed: its
    WeChat account is already bound to the customer number, so nothing is filled in and the face
    check comes next), when this mobile is the 预留手机号 of exactly one policyholder. Anyone else gets
    a mobile-only session and binds an offline policy next (numbers are recycled by the carriers,
    so the mobile alone never opens an offline customer's data)."""
    phone = codes.verify(phone, "SIGN_IN", code)
    verified = db.session.query(Customer.id).filter(
        Customer.mobile_hash == lookup_hash(phone, "mobile"), Customer.auth_status == "VERIFIED", _holders()).all()
    if len(verified) == 1:
        return SignIn(phone=phone, customer_id=verified[0].id)
    holders = db.session.query(Customer.id, _official_holders().label("official")).filter(
        Customer.mobile_hash == lookup_hash(phone, "mobile"), _holders()).all()
    if len(holders) == 1 and holders[0].official:
        return SignIn(phone=phone, customer_id=holders[0].id, face_next=True)
    return SignIn(phone=phone)


def sign_in_with_openid(openid):
    """WeChat: an openid already bound to a customer signs that customer in."""
    customer_id = db.session.query(Customer.id).filter(Customer.wechat_openid == openid).scalar()
    return SignIn(openid=openid, customer_id=customer_id)


# --- binding ----------------------------------------------------------------------------------

# The binding lockout counts failures by these keys in the audit trail: keyed hashes (services/crypto.py,
# DATA_HASH_KEY), never a mobile or an ID number in clear nor a plain digest one could reverse by trying
# every ID number.
def _id_key(id_type, id_number):
    return f"idn:{id_type}:{lookup_hash(id_number, 'id_number')[:32]}"


def _account_key(phone=None, openid=None):
    return f"openid:{openid}" if openid else f"phone:{lookup_hash(phone, 'mobile')[:32]}"


def _bind_failures(since, entity_id=None, ip=None, action="bind_failed"):
    query = db.session.query(func.count(AuditEvent.id)).filter(
        AuditEvent.entity == BIND_ENTITY, AuditEvent.action == action, AuditEvent.occurred_at >= since)
    if entity_id is not None:
        query = query.filter(AuditEvent.entity_id == entity_id)
    if ip is not None:
        query = query.filter(AuditEvent.ip == ip)
    return query.scalar()


def _since():
    return clock.now() - timedelta(minutes=current_app.config["BIND_LOCK_MINUTES"])


def bind_locked(phone=None, openid=None, ip=None):
    """True when this signed-in account or this address has failed binding too often lately.

    Failures are audit events (entity account_binding), so the count is shared by every web
    process and kept as evidence. An IP gets four times the budget: carrier NAT puts many
    customers behind one address. Failures are not counted against the ID number alone, or
    anyone could lock its owner out by failing with it (id_number_locked).
    """
    limit = current_app.config["BIND_MAX_FAILURES"]
    if _bind_failures(_since(), entity_id=_account_key(phone, openid)) >= limit:
        return True
    return bool(ip) and _bind_failures(_since(), ip=ip) >= 4 * limit


def id_number_locked(id_type, id_number, phone):
    """Many accounts failing with one ID number lock it, but only for those who cannot prove the
    policyholder's own mobile: its owner (who holds that phone) still binds."""
    if not id_number or _bind_failures(_since(), entity_id=_id_key(id_type, id_number),
                                       action="bind_failed_id") < current_app.config["BIND_MAX_FAILURES"]:
        return False
    owner = db.session.query(Customer.id).filter(
        Customer.id_type == id_type, Customer.id_number_hash == lookup_hash(id_number, "id_number"),
        Customer.mobile_hash == lookup_hash(phone, "mobile"), _holders()).first()
    return owner is None


def _record_bind_failure(phone, openid, id_type, id_number):
    account_key = _account_key(phone, openid)
    audit.record(db.session, "bind_failed", BIND_ENTITY, account_key,
                 after={"id_type": id_type, "id_number_tail": (id_number or "")[-4:]})
    if id_number:
        audit.record(db.session, "bind_failed_id", BIND_ENTITY, _id_key(id_type, id_number))
    db.session.commit()  # evidence and lockout count: kept although the binding is refused


def _one_binding_at_a_time(mobile):
    """Lock the policyholders with this mobile (the only rows a binding to it can reach) until the
    attempt's failure is committed or the binding is: concurrent attempts on one mobile take turns,
    and each one's failure count (READ COMMITTED) sees the failures before it, so a burst cannot all
    pass bind_locked (issue 14 item 4). A mobile nobody holds locks nothing and can bind nobody."""
    phone = normalize_mobile(mobile)
    if phone:
        db.session.execute(select(Customer.id).where(Customer.mobile_hash == lookup_hash(phone, "mobile"))
                           .with_for_update())


def _locked_error():
    return DomainError("bind_locked", minutes=current_app.config["BIND_LOCK_MINUTES"])


def _same_name(stored, entered):
    """Names compare without spaces and case: 李 明 is 李明, john smith is John Smith."""
    def plain(value):
        return re.sub(r"[\s·・.]", "", value or "").casefold()
    return bool(plain(entered)) and plain(stored) == plain(entered)


def bind(name, id_type, id_number, mobile, code=None, signed_in_phone=None, openid=None, ip=None):
    """Bind the signed-in visitor to the one policyholder matching all of name, ID and mobile.

    The mobile is proven either by this sign-in (signed_in_phone, when it is the same number) or
    by `code`. Any mismatch, a malformed or check-digit-wrong ID number included, is the one
    message bind_mismatch, so the form never tells which field was wrong.
    """
    name, mobile = normalize_text(name), normalize_text(mobile)  # full-width digits are digits
    id_number = re.sub(r"\s", "", normalize_text(id_number)).upper()
    if id_type not in ID_TYPES:
        raise DomainError("id_type_unknown")
    _one_binding_at_a_time(mobile)
    if bind_locked(phone=signed_in_phone, openid=openid, ip=ip):
        raise _locked_error()
    if signed_in_phone and normalize_mobile(mobile) == signed_in_phone:
        phone = signed_in_phone
    else:
        phone = codes.verify(mobile, "BIND", code)
    if id_number_locked(id_type, id_number, phone):
        _record_bind_failure(signed_in_phone, openid, id_type, id_number)
        raise _locked_error()
    customer = None
    if id_document_valid(id_type, id_number):
        candidates = db.session.query(Customer).filter(
            Customer.id_type == id_type, Customer.id_number_hash == lookup_hash(id_number, "id_number"),
            Customer.mobile_hash == lookup_hash(phone, "mobile"), _holders()).all()
        customer = next((c for c in candidates if _same_name(c.name, name)), None)
    if customer is None:
        _record_bind_failure(signed_in_phone, openid, id_type, id_number)
        raise DomainError("bind_mismatch")
    if openid:
        if customer.wechat_openid and customer.wechat_openid != openid:
            db.session.commit()  # the code, if one was given, is spent although binding is refused
            raise DomainError("bind_wechat_taken")
        customer.wechat_openid = openid
    audit.record(db.session, "bound", BIND_ENTITY, _account_key(signed_in_phone, openid),
                 after={"customer_id": customer.id})
    return customer


# --- what the customer sees -------------------------------------------------------------------

def customer(customer_id):
    return db.session.get(Customer, customer_id) if customer_id else None


def policies_of(customer_id):
    """The customer's policies as policyholder, newest first."""
    return db.session.query(Policy).filter(Policy.holder_id == customer_id) \
        .order_by(Policy.issue_date.desc(), Policy.id.desc()).all()


def policy_of(customer_id, policy_id):
    """One of the customer's own policies, or None (another customer's policy looks missing)."""
    return db.session.query(Policy).filter(Policy.id == policy_id, Policy.holder_id == customer_id) \
        .one_or_none()


def applications_of(customer_id):
    return db.session.query(ServicingApplication).filter(ServicingApplication.customer_id == customer_id) \
        .order_by(ServicingApplication.submitted_at.desc(), ServicingApplication.id.desc()).all()


def application_of(customer_id, application_id):
    return db.session.query(ServicingApplication).filter(
        ServicingApplication.id == application_id, ServicingApplication.customer_id == customer_id) \
        .one_or_none()


def pending_revisits(customer_id):
    """Open e-revisits of the customer's policies whose SMS link is still valid."""
    return db.session.query(RevisitTask).join(Policy, RevisitTask.policy_id == Policy.id) \
        .join(RevisitLink, RevisitTask.link_id == RevisitLink.id) \
        .filter(Policy.holder_id == customer_id, RevisitTask.status == "SMS_SENT",
                RevisitLink.customer_id == customer_id, RevisitLink.expires_at > clock.now()) \
        .order_by(RevisitTask.erevisit_deadline, RevisitTask.id).all()


def passed_video(customer_id, purposes=("ACCOUNT_AUTH",)):
    """The newest passed liveness check of the customer for these purposes, or None."""
    return db.session.query(IdentityVerification).filter(
        IdentityVerification.customer_id == customer_id, IdentityVerification.kind == "VIDEO",
        IdentityVerification.purpose.in_(purposes), IdentityVerification.status == "PASSED") \
        .order_by(IdentityVerification.id.desc()).first()


def auth_steps(customer_id):
    """Where the customer stands: bound, face passed, password set, 已认证."""
    row = customer(customer_id)
    return {
        "bound": row is not None,
        "face_passed": row is not None and passed_video(customer_id) is not None,
        "password_set": row is not None and bool(row.servicing_password_hash),
        "verified": row is not None and row.auth_status == "VERIFIED",
    }


# --- face + liveness --------------------------------------------------------------------------

def _identity():
    from app.services import identity

    return identity


def new_challenge():
    return _identity().new_challenge()


def failed_videos_today(customer_id):
    return db.session.query(func.count(IdentityVerification.id)).filter(
        IdentityVerification.customer_id == customer_id, IdentityVerification.kind == "VIDEO",
        IdentityVerification.status.in_(("FAILED", "UNUSABLE")),
        IdentityVerification.created_at >= clock.start_of_day(clock.today())).scalar()


def check_face_tries(customer_id):
    if failed_videos_today(customer_id) >= business_settings.get("FACE_MAX_TRIES"):
        raise DomainError("face_too_many_today")


def start_video_check(customer_id, video_bytes, challenge_digits, purpose, ip=None, user_agent=None):
    """Hand the recorded video to the identity service (a Celery task decides); returns the row."""
    if purpose not in VIDEO_PURPOSES:
        raise ValueError(purpose)
    if customer(customer_id) is None:
        raise DomainError("account_not_bound")
    if not challenge_digits:
        raise DomainError("challenge_missing")
    check_face_tries(customer_id)
    # counted again when the upload is accepted, under the customer's row lock and with the checks
    # still pending: a burst of uploads cannot all pass the read above (issue 14 item 4)
    identity = _identity()
    limit = identity.TryLimit(limit=business_settings.get("FACE_MAX_TRIES"),
                              since=clock.start_of_day(clock.today()), error="face_too_many_today", kind="VIDEO")
    return identity.start_video_verification(customer_id, video_bytes, challenge_digits, purpose=purpose,
                                             ip=ip, user_agent=user_agent, try_limit=limit)


def verification_of(customer_id, verification_id):
    """The customer's own verification, or None."""
    return db.session.query(IdentityVerification).filter(
        IdentityVerification.id == verification_id, IdentityVerification.customer_id == customer_id) \
        .one_or_none()


def fresh_pass(customer_id, verification_id, purposes=VIDEO_PURPOSES):
    """The customer's own passed liveness check, recent enough to set a password; raise otherwise."""
    verification = verification_of(customer_id, verification_id) if verification_id else None
    if verification is None or verification.status != "PASSED" or verification.purpose not in purposes \
            or verification.kind != "VIDEO":
        raise DomainError("face_not_passed")
    valid = timedelta(minutes=current_app.config["FACE_AUTH_VALID_MINUTES"])
    if (verification.completed_at or verification.created_at) + valid < clock.now():
        raise DomainError("face_auth_expired")
    return verification


# --- servicing password -----------------------------------------------------------------------

def _birth_forms(birth):
    if birth is None:
        return set()
    y, m, d = f"{birth.year:04d}", f"{birth.month:02d}", f"{birth.day:02d}"
    return {y + m + d, y[2:] + m + d, m + d + y[2:], d + m + y[2:], m + d + y, d + m + y, y + m}


def _straight_run(password):
    steps = {(int(b) - int(a)) % 10 for a, b in zip(password, password[1:])}
    return steps in ({1}, {9})


def check_password_rules(customer_row, password, repeated):
    """Raise the first rule the password breaks (entered twice, digits, length, not guessable)."""
    password = password or ""
    if password != (repeated or ""):
        raise DomainError("password_mismatch")
    if not password.isascii() or not password.isdigit():
        raise DomainError("password_not_digits")
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise DomainError("password_too_short", min=PASSWORD_MIN_LENGTH)
    if len(set(password)) == 1:
        raise DomainError("password_same_digit")
    if _straight_run(password):
        raise DomainError("password_sequence")
    if password in _birth_forms(customer_row.birth_date) or \
            (customer_row.birth_date and f"{customer_row.birth_date:%Y%m%d}" in password):
        raise DomainError("password_birth_date")
    if (customer_row.id_number or "").upper().endswith(password):
        raise DomainError("password_id_tail")


def set_servicing_password(customer_id, password, repeated, verification_id):
    """Save the password (hashed) after a fresh passed liveness check of this customer; the
    first time (account authentication) this makes the account 已认证."""
    row = customer(customer_id)
    if row is None:
        raise DomainError("account_not_bound")
    verification = fresh_pass(customer_id, verification_id)
    check_password_rules(row, password, repeated)
    row.servicing_password_hash = generate_password_hash(password)
    if row.auth_status != "VERIFIED" and passed_video(customer_id) is not None:
        row.auth_status = "VERIFIED"
        row.authenticated_at = clock.now()
    audit.record(db.session, "password_set", "customer", customer_id,
                 after={"verification_id": verification.id, "purpose": verification.purpose})
    return row


def check_servicing_password(customer_id, password):
    """For the servicing items: True when `password` is the customer's servicing password."""
    row = customer(customer_id)
    return bool(row and row.servicing_password_hash and password
                and check_password_hash(row.servicing_password_hash, password))


def verify_reset_code(customer_id, code):
    """Password reset, step 1: the code sent to the customer's 预留手机号."""
    row = customer(customer_id)
    if row is None:
        raise DomainError("account_not_bound")
    codes.verify(row.mobile, "PASSWORD_RESET", code)
    return row
