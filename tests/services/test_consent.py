"""The insured's consent (Insurance Law art. 34; services/servicing/consent.py) on the demo data: 王芳 applies for
a loan on policy 880000002000003, which insures 李明; the application waits for 李明, who passes a real face check
(../shared/testdata/faces) and confirms or declines; what is not confirmed in CONSENT_VALID_DAYS lapses."""
import hashlib
import os
from datetime import timedelta

import pytest
import time_machine
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import Customer, Policy, ServicingApplication, SmsMessage
from app.models.servicing import Consent, PolicyLoan
from app.services import clock, codes, identity, loan_application, unit
from app.services.errors import DomainError
from app.services.servicing import consent
from app.services.servicing import states
from tests.conftest import FACES

POLICY_NO = "880000002000003"  # the seed: 王芳 holds, 李明 is insured
PASSWORD = "258147"
CARD = "6217000010111758507"


def photo(name):
    with open(os.path.join(FACES, name), "rb") as handle:
        return handle.read()


def customer(customer_no):
    return db.session.query(Customer).filter_by(customer_no=customer_no).one()


@pytest.fixture(autouse=True)
def _codes_for_tests(app, monkeypatch):
    """Two codes in the same minute (the per-mobile limit is 1 a minute)."""
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)


@pytest.fixture
def faces(seeded):
    """李明 (kit_harington.jpeg) and 王芳 (biden.jpg) have their reference photos; 王芳 is 已认证."""
    for customer_no, name in (("C0004", "kit_harington.jpeg"), ("C0005", "biden.jpg")):
        identity.attach_reference_photo(customer(customer_no).id, photo(name))
    wang = customer("C0005")
    wang.auth_status = "VERIFIED"
    wang.servicing_password_hash = generate_password_hash(PASSWORD)
    db.session.commit()
    return seeded


def apply(amount="8000", key="consent-test-key"):
    """王芳's loan, through the customer's operation (the code from the outbox)."""
    wang = customer("C0005")
    policy = db.session.query(Policy).filter_by(policy_no=POLICY_NO).one()
    with unit.work():
        loan_application.send_code(wang.id)
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(wang.mobile)) \
        .order_by(SmsMessage.id.desc()).first()
    code = codes.development_code(message)  # the admin shows it masked
    with unit.work():
        application = loan_application.apply_for_loan(wang.id, policy.id, key, amount, "CCB", CARD, "王芳", True,
                                                      PASSWORD, code)
    return application


def record_of(application):
    db.session.expire_all()
    return db.session.query(Consent).filter_by(application_id=application.id).one()


def selfie(customer_no, name):
    """A photo check for a consent, run eagerly (the tests' Celery); returns the verification."""
    verification = identity.start_photo_verification(customer(customer_no).id, photo(name), purpose="CONSENT",
                                                     ip="10.0.0.9", user_agent="test-phone")
    db.session.expire_all()
    return db.session.get(type(verification), verification.id)


def test_a_loan_on_anothers_life_waits_and_the_insured_gets_the_link(faces):
    application = apply()
    assert application.status == "CONSENT"
    record = record_of(application)
    li_ming = customer("C0004")
    assert record.customer_id == li_ming.id and record.status == "ASKED" and record.action == "POLICY_LOAN"
    assert record.policy.policy_no == POLICY_NO and record.application_id == application.id
    for shown in (POLICY_NO, "投保人:王芳", "被保险人:李明", "贷款金额:人民币 8,000.00 元", application.application_no,
                  "先扣除尚未偿还的贷款本息"):
        assert shown in record.text
    assert record.text_sha256 == hashlib.sha256(record.text.encode("utf-8")).hexdigest()
    assert len(record.code) >= 20
    sms = db.session.query(SmsMessage).filter(SmsMessage.phone_is(li_ming.mobile),
                                              SmsMessage.purpose == "SERVICING_CONSENT").one()
    assert f"/c/{record.code}" in sms.content and "李明" in sms.content and "保单贷款" in sms.content
    # a double submit makes one application and one consent record
    assert apply().id == application.id
    assert db.session.query(Consent).count() == 1


def test_the_insured_confirms_after_his_face_check_and_the_loan_goes_straight_through(faces):
    application = apply()
    record = record_of(application)
    with pytest.raises(DomainError) as refused, unit.work():
        consent.confirm(record.code, None)
    assert refused.value.key == "consent_face_required"
    verification = selfie("C0004", "kit_harington2.jpeg")
    assert verification.status == "PASSED"
    with unit.work():
        consent.confirm(record.code, verification.id, ip="10.0.0.9", user_agent="test-phone")
    record = record_of(application)
    assert record.status == "CONFIRMED" and record.confirmed_at is not None
    assert record.identity_verification_id == verification.id and record.ip == "10.0.0.9"
    found = db.session.get(ServicingApplication, application.id)
    assert found.status == "APPROVED" and found.decided_by_system  # 8000 ≤ STP_MAX_AMOUNT
    assert db.session.query(PolicyLoan).filter_by(application_id=application.id, status="PENDING").count() == 1
    # confirming twice is refused, and changes nothing
    with pytest.raises(DomainError) as twice, unit.work():
        consent.confirm(record.code, verification.id)
    assert twice.value.key == "consent_used"
    assert db.session.query(PolicyLoan).filter_by(application_id=application.id).count() == 1


def test_the_holders_own_face_or_a_failed_check_does_not_confirm(faces):
    record = record_of(apply())
    holders = selfie("C0005", "biden2.jpg")  # 王芳 passes against her own photo ...
    assert holders.status == "PASSED"
    stranger = selfie("C0004", "obama2.jpg")  # ... and someone else fails against 李明's
    assert stranger.status == "FAILED"
    for verification in (holders, stranger):
        with pytest.raises(DomainError) as refused, unit.work():
            consent.confirm(record.code, verification.id)
        assert refused.value.key == "consent_face_required"
    assert record_of(record.application).status == "ASKED"
    assert consent.face_tries_left(record_of(record.application)) == 4


def test_the_insured_declines_and_the_holder_is_told(faces):
    application = apply()
    record = record_of(application)
    verification = selfie("C0004", "kit_harington2.jpeg")
    with unit.work():
        consent.decline(record.code, verification.id)
    found = db.session.get(ServicingApplication, application.id)
    assert found.status == "REJECTED" and found.reject_reason == "CONSENT_DECLINED"
    assert record_of(application).status == "DECLINED"
    decided = db.session.query(SmsMessage).filter(SmsMessage.phone_is(customer("C0005").mobile),
                                                  SmsMessage.purpose == "SERVICING_DECIDED").one()
    assert "被保险人不同意" in decided.content


def test_an_unconfirmed_consent_lapses_after_the_days_once(faces):
    application = apply()
    record = record_of(application)
    days = 7
    assert consent.lapse_due(now=record.asked_at + timedelta(days=days) - timedelta(minutes=1)) == 0
    assert consent.state(record, now=record.asked_at + timedelta(days=days)) == "EXPIRED"
    assert consent.lapse_due(now=record.asked_at + timedelta(days=days)) == 1
    assert consent.lapse_due(now=record.asked_at + timedelta(days=days + 1)) == 0  # safe to run twice
    found = db.session.get(ServicingApplication, application.id)
    db.session.refresh(found)
    assert found.status == "REJECTED" and found.reject_reason == "CONSENT_LAPSED" and found.decided_at
    assert record_of(application).status == "LAPSED"
    decided = db.session.query(SmsMessage).filter(SmsMessage.phone_is(customer("C0005").mobile),
                                                  SmsMessage.purpose == "SERVICING_DECIDED").all()
    assert len(decided) == 1 and "被保险人未在期限内确认同意" in decided[0].content
    verification = selfie("C0004", "kit_harington2.jpeg")
    with pytest.raises(DomainError) as late, unit.work():
        consent.confirm(record.code, verification.id)
    assert late.value.key == "consent_expired"


def test_the_lapse_follows_the_setting(faces, monkeypatch):
    from app.services import settings

    application = apply()
    record = record_of(application)
    real = settings.get
    monkeypatch.setattr(settings, "get", lambda key: 2 if key == "CONSENT_VALID_DAYS" else real(key))
    assert consent.lapse_due(now=record.asked_at + timedelta(days=2)) == 1


def test_the_table_has_the_decline_and_operators_cannot_use_the_systems_reasons(faces):
    assert states.target_of("consent_decline") == "REJECTED" and "REJECTED" in states.DECIDED
    from app.services.servicing import application as applications

    for reason in ("CONSENT_LAPSED", "CONSENT_DECLINED"):
        with pytest.raises(DomainError) as refused:
            applications.reject(1, 1, reason, "note")
        assert refused.value.key == "application_reject_reason"


def test_the_setting_is_declared_with_its_bounds(app):
    from app.services.settings import SPECS

    spec = SPECS["CONSENT_VALID_DAYS"]
    assert (spec.default, spec.min, spec.max) == (7, 1, 30)


def test_the_clock_is_the_one_clock(faces):
    assert record_of(apply()).asked_at <= clock.now()


def test_the_beat_job_lapses_them(faces, app):
    from app.tasks.schedule import beat_schedule
    from app.tasks.servicing import lapse_consents

    entry = beat_schedule(app.config)["servicing-lapse-consents"]
    assert entry["task"] == "servicing.lapse_consents"
    application = apply()
    record = record_of(application)
    db.session.commit()
    with time_machine.travel(record.asked_at + timedelta(days=7, minutes=1), tick=False):
        lapse_consents.apply(throw=True)
        lapse_consents.apply(throw=True)  # twice: nothing more
    assert record_of(application).status == "LAPSED"
    db.session.expire_all()
    assert db.session.get(ServicingApplication, application.id).status == "REJECTED"
    assert db.session.query(SmsMessage).filter_by(purpose="SERVICING_DECIDED") \
        .filter(SmsMessage.phone_is(customer("C0005").mobile)).count() == 1


def test_the_operators_application_page_shows_the_consent_evidence(faces, client):
    """What the insured was shown, and its state, is evidence on the back office's application page."""
    from tests.conftest import login

    application = apply()
    record = record_of(application)
    login(client, "operator")
    html = client.get(f"/review-queue/{application.id}").get_data(as_text=True)
    assert 'id="consent-evidence"' in html and "待确认" in html
    assert "被保险人:李明" in html and record.text_sha256[:16] in html
