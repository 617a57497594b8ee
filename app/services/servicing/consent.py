"""The insured's consent (Insurance Law art. 34; issue 11 point 3): a policy with a death benefit is not
pledged (nor its beneficiary changed) without the insured's written consent.

An application the insured must consent to waits in CONSENT (states.py). ask() stores the consent record
with the exact text the insured will be shown (amounts included) and its SHA-256, and sends the insured an
SMS with a one-use link; on the link page the insured passes a photo face check against their own reference
photo, then confirm() stores who, when, from where and which check, and moves the application on
(application.after_consent), or decline() rejects it. lapse_due() rejects what was not confirmed within
CONSENT_VALID_DAYS. Nothing here reads the request: the view passes the IP and user agent.
"""
import hashlib
import logging
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.extensions import db
from app.models.identity import IdentityVerification
from app.models.servicing import CONSENT_ACTIONS, ApplicationPolicy, Consent, ServicingApplication
from app.services import clock, settings, sms, unit
from app.services.errors import DomainError
from app.services.servicing import application as applications
from app.services.servicing import dispatch

log = logging.getLogger(__name__)

SMS_CONSENT = "SERVICING_CONSENT"  # seeded by services/demo.py
FACE_PURPOSE = "CONSENT"  # identity.PURPOSES
BATCH = 500


def link_url(code):
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/c/" + code


def _money(value):
    return f"{value:,.2f}" if value is not None else "-"


def render_text(application, insured=None, details=()):
    """The consent text for this application, in Chinese (it is stored as the record of what was shown):
    for a beneficiary change, `details` are the item's own lines of `insured`'s policies in it and their
    new lists in full (services/beneficiary.consent_lines)."""
    policy, holder = application.policy, application.customer
    insured = insured or policy.insured
    with force_locale("zh"):
        if application.kind == "BENEFICIARY":
            lines = [
                _l("申请号:%(no)s", no=application.application_no),
                _l("投保人:%(holder)s", holder=holder.name),
                _l("被保险人:%(insured)s", insured=insured.name),
                _l("申请事项:%(action)s", action=CONSENT_ACTIONS.get(application.kind, application.kind)),
                *details,
                _l("本人作为上述保单的被保险人,同意投保人将受益人变更为上列人员及受益顺序、受益比例"
                   "(保险法第41条)。"),
            ]
        elif application.kind == "POLICY_LOAN":
            lines = [
                _l("保单号:%(no)s", no=policy.policy_no),
                _l("保险产品:%(product)s", product=policy.product.name),
                _l("投保人:%(holder)s", holder=holder.name),
                _l("被保险人:%(insured)s", insured=insured.name),
                _l("申请事项:保单贷款(以本保单的现金价值质押)"),
                _l("贷款金额:人民币 %(amount)s 元", amount=_money(application.amount)),
                _l("申请号:%(no)s", no=application.application_no),
                _l("本人作为上述保单的被保险人,同意投保人以本保单质押办理保单贷款。本人知悉:贷款本息未还清前,"
                   "如发生保险事故,本公司将先扣除尚未偿还的贷款本息后给付保险金;贷款本息达到保单现金价值时,"
                   "保单效力中止。"),
            ]
        else:
            lines = [
                _l("保单号:%(no)s", no=policy.policy_no),
                _l("投保人:%(holder)s", holder=holder.name),
                _l("被保险人:%(insured)s", insured=insured.name),
                _l("申请事项:%(action)s", action=CONSENT_ACTIONS.get(application.kind, application.kind)),
                _l("申请号:%(no)s", no=application.application_no),
                _l("本人作为上述保单的被保险人,同意投保人办理上述申请事项。"),
            ]
        return "\n".join(str(line) for line in lines)


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _insured_policies(application):
    """Each insured to ask, once, with the first of their policies in the application: the policy's own
    insured, or for a change on several policies (servicing_application_policy) each distinct insured
    who is not the policyholder."""
    links = db.session.execute(select(ApplicationPolicy).where(ApplicationPolicy.application_id == application.id)
                               .order_by(ApplicationPolicy.id)).scalars().all()
    policies = [link.policy for link in links] or [application.policy]
    found = {}
    for policy in policies:
        if policy.insured_id != application.customer_id or not links:
            found.setdefault(policy.insured_id, policy)
    return list(found.values())


def ask(application, details=None):
    """The application waits for the insured: store the consent record of each insured and queue their SMS
    links (sent after the commit). Once per insured: a second call returns the first records. Returns the
    first record. `details(application, insured_id)`: the lines the kind adds to what the insured is shown."""
    if application.status != "CONSENT":
        raise DomainError("application_bad_transition", status=application.status, event="need_consent")
    records = [_ask_one(application, policy, details) for policy in _insured_policies(application)]
    return records[0]


def _ask_one(application, policy, details):
    insured = policy.insured
    found = db.session.execute(select(Consent).where(
        Consent.application_id == application.id, Consent.action == application.kind,
        Consent.customer_id == insured.id)).scalar_one_or_none()
    if found is not None:
        return found
    text = render_text(application, insured, details(application, insured.id) if details else ())
    record = Consent(code=secrets.token_urlsafe(16), action=application.kind, customer_id=insured.id,
                     policy_id=policy.id, application_id=application.id, status="ASKED",
                     text=text, text_sha256=sha256(text), asked_at=clock.now())
    db.session.add(record)
    db.session.flush()
    if insured.mobile:
        with force_locale("zh"):
            params = {"name": insured.name, "item": str(CONSENT_ACTIONS.get(record.action, record.action)),
                      "link": link_url(record.code)}
        try:
            message = sms.queue(SMS_CONSENT, insured.mobile, params, purpose=SMS_CONSENT, customer_id=insured.id)
        except DomainError as exc:  # a template switched off must not lose the application
            log.error("consent SMS for %s not queued: %s", application.application_no, exc.key)
        else:
            sms.send_after_commit([message.id])
    return record


def deadline(record):
    """When an unconfirmed consent lapses (CONSENT_VALID_DAYS after it was asked)."""
    return record.asked_at + timedelta(days=settings.get("CONSENT_VALID_DAYS"))


def by_code(code):
    """The record of a link code, or a DomainError (the same for every wrong code)."""
    code = (code or "").strip()
    record = None
    if code and len(code) <= 64:
        record = db.session.execute(select(Consent).where(Consent.code == code)).scalar_one_or_none()
    if record is None or record.code != code:  # MariaDB compares case-insensitively
        raise DomainError("consent_not_found")
    return record


def state(record, now=None):
    """OPEN (to be answered), EXPIRED (lapsed or past its deadline) or DONE (confirmed, declined, or the
    application no longer waits for it)."""
    if record.status == "LAPSED":
        return "EXPIRED"
    if record.status != "ASKED" or record.application.status != "CONSENT":
        return "DONE"
    return "EXPIRED" if (now or clock.now()) >= deadline(record) else "OPEN"


def _check_open(record):
    found = state(record)
    if found == "EXPIRED":
        raise DomainError("consent_expired")
    if found == "DONE":
        raise DomainError("consent_used")


def face_tries_used(record):
    return db.session.execute(select(func.count(IdentityVerification.id)).where(
        IdentityVerification.customer_id == record.customer_id,
        IdentityVerification.purpose == FACE_PURPOSE,
        IdentityVerification.created_at >= record.asked_at,
        IdentityVerification.status.in_(("FAILED", "UNUSABLE")))).scalar()


def face_tries_left(record):
    return max(0, settings.get("FACE_MAX_TRIES") - face_tries_used(record))


def face_try_limit(record):
    """The tries of this consent, counted again when a selfie is accepted (under the customer's row lock,
    pending checks included) so that a burst of uploads cannot all pass face_tries_left (issue 14 item 4)."""
    from app.services.identity import TryLimit

    return TryLimit(limit=settings.get("FACE_MAX_TRIES"), since=record.asked_at, error="face_too_many_tries_consent",
                    purposes=(FACE_PURPOSE,))


def check_face_allowed(record):
    """Before a selfie is taken for this consent: the link is open and tries are left."""
    _check_open(record)
    if face_tries_left(record) <= 0:
        raise DomainError("face_too_many_tries_consent")


def passed_face(record, verification_id):
    """The verification when it is a passed photo check of this record's insured, made for this consent."""
    verification = db.session.get(IdentityVerification, verification_id) if verification_id else None
    if (verification is None or verification.customer_id != record.customer_id
            or verification.purpose != FACE_PURPOSE or verification.kind != "PHOTO"
            or verification.status != "PASSED" or verification.created_at < record.asked_at):
        return None
    return verification


def _locked(code):
    """The record locked, then its application: two insureds of one application answering at once are
    served one after the other, so the last one's answer sees the other's."""
    record = by_code(code)
    record = db.session.execute(select(Consent).where(Consent.id == record.id).with_for_update()).scalar_one()
    db.session.execute(select(ServicingApplication).where(ServicingApplication.id == record.application_id)
                       .with_for_update().execution_options(populate_existing=True)).scalar_one()
    return record


def _answer(code, verification_id, status, ip, user_agent):
    """The insured's answer, after a passed face check of their own on this record: stored with its
    time, the check, the address and the device."""
    record = _locked(code)
    _check_open(record)
    verification = passed_face(record, verification_id)
    if verification is None:
        raise DomainError("consent_face_required")
    record.status = status
    setattr(record, "confirmed_at" if status == "CONFIRMED" else "declined_at", clock.now())
    record.identity_verification_id = verification.id
    record.ip, record.user_agent = ip, (user_agent or "")[:255] or None
    return record


def confirm(code, verification_id, ip=None, user_agent=None):
    """The insured confirms: once every insured asked has confirmed, the application moves on
    (straight-through or the review queue). Runs in the caller's unit of work."""
    record = _answer(code, verification_id, "CONFIRMED", ip, user_agent)
    waiting = db.session.execute(select(func.count(Consent.id)).where(
        Consent.application_id == record.application_id, Consent.status != "CONFIRMED")).scalar()
    if waiting:
        return record  # another insured still to answer
    dispatch.on_approved(applications.after_consent(record.application_id))  # straight through: carried out
    return record


def decline(code, verification_id, ip=None, user_agent=None):
    """The insured says no: the application is rejected (CONSENT_DECLINED)."""
    record = _answer(code, verification_id, "DECLINED", ip, user_agent)
    applications.consent_declined(record.application_id)
    return record


def lapse_due(now=None, batch=BATCH):
    """Every consent asked CONSENT_VALID_DAYS ago or earlier and not answered lapses, and its application is
    rejected (CONSENT_LAPSED) with the decision SMS. A batch at a time, rows locked SKIP LOCKED (two runs at
    once share the work), one UPDATE each; safe to run twice. Returns how many lapsed."""
    now = now or clock.now()
    cutoff = now - timedelta(days=settings.get("CONSENT_VALID_DAYS"))
    total = 0
    while True:
        with unit.work():
            rows = db.session.execute(
                select(Consent.id, Consent.application_id)
                .where(Consent.status == "ASKED", Consent.asked_at <= cutoff)
                .order_by(Consent.id).limit(batch).with_for_update(skip_locked=True)).all()
            if rows:
                db.session.execute(update(Consent).where(Consent.id.in_([row.id for row in rows]),
                                                         Consent.status == "ASKED")
                                   .values(status="LAPSED", lapsed_at=now)
                                   .execution_options(synchronize_session="fetch"))
                total += len(applications.consent_lapsed([row.application_id for row in rows]))
        if len(rows) < batch:
            return total

def for_application(application_id):
    """The consent records of an application (the back office's evidence)."""
    return db.session.execute(select(Consent).where(Consent.application_id == application_id)
                              .order_by(Consent.id)).scalars().all()


__all__ = ["ask", "confirm", "decline", "lapse_due", "by_code", "state", "render_text", "deadline",
           "face_tries_left", "face_try_limit", "check_face_allowed", "passed_face", "for_application", "link_url"]

