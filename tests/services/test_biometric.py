"""The biometric consent (issue 15 point 4; PIPL 28-29): the stored answer keeps the notice shown, its hash and
version; once agreed a purpose is not asked again for the same version; a new version asks again; declining
the e-revisit's face check moves the link's online tasks to the phone queue and collects no face data."""
import pytest

from app.extensions import db
from app.models import BiometricConsent, Customer, IdentityVerification, RevisitLink, RevisitTask
from app.services import biometric, unit


def _customer(no="C0001"):
    return db.session.query(Customer).filter_by(customer_no=no).one()


def test_agreeing_stores_the_notice_shown_with_its_hash_and_version(seeded):
    customer = _customer()
    assert not biometric.has_agreed(customer.id, "EREVISIT")
    with unit.work():
        biometric.agree(customer.id, "EREVISIT", ip="10.0.0.8", user_agent="UA/1.0")
    record = db.session.query(BiometricConsent).one()
    assert record.notice_text == biometric.notice_text("EREVISIT")
    assert record.notice_sha256 == biometric.sha256(record.notice_text) and biometric.intact(record)
    assert record.notice_version == biometric.NOTICE_VERSION
    assert record.agreed_at is not None and record.declined_at is None
    assert (record.ip, record.user_agent, record.customer_id) == ("10.0.0.8", "UA/1.0", customer.id)
    for words in ("人脸特征值", "第二十八条", "第二十九条", "敏感个人信息", "保存期限", "查看范围", "改为电话回访"):
        assert words in record.notice_text, words
    assert biometric.has_agreed(customer.id, "EREVISIT")
    # one consent a purpose: the account's own face check still asks
    assert not biometric.has_agreed(customer.id, "ACCOUNT_AUTH")
    assert not biometric.has_agreed(_customer("C0002").id, "EREVISIT")
    record.notice_text += "x"
    assert not biometric.intact(record)
    db.session.rollback()


def test_a_new_notice_version_asks_again_and_a_decline_withdraws(seeded, app, monkeypatch):
    customer = _customer()
    with unit.work():
        biometric.agree(customer.id, "SERVICING")
    assert biometric.has_agreed(customer.id, "SERVICING")
    monkeypatch.setattr(biometric, "NOTICE_VERSION", "2099-01")
    assert not biometric.has_agreed(customer.id, "SERVICING")
    monkeypatch.undo()
    with unit.work():
        declined = biometric.decline(customer.id, "SERVICING")
    assert declined.declined_at is not None and declined.agreed_at is None
    assert not biometric.has_agreed(customer.id, "SERVICING")
    text = biometric.notice_text("SERVICING")
    assert "柜面" in text and app.config["HOTLINE"] in text


def test_every_purpose_has_its_notice_and_an_unknown_one_is_refused(app):
    for purpose in biometric.PURPOSES:
        assert len(biometric.notice(purpose)) >= 7
    with pytest.raises(ValueError):
        biometric.notice("SOMETHING")


def test_declining_the_erevisit_moves_the_links_tasks_to_the_phone_queue(seeded):
    from app.services import revisit

    revisit.issue_invitations()
    link = db.session.query(RevisitLink).join(Customer, RevisitLink.customer_id == Customer.id) \
        .filter(Customer.customer_no == "C0001").one()
    online = [t.id for t in revisit.pending_tasks(link)]
    assert online
    moved = biometric.decline_erevisit(link, ip="10.0.0.9", user_agent="UA")
    assert sorted(t.id for t in moved) == sorted(online)
    db.session.expire_all()
    for task in db.session.query(RevisitTask).filter(RevisitTask.id.in_(online)):
        assert (task.status, task.channel) == ("PHONE_QUEUE", "PHONE")
    assert db.session.query(IdentityVerification).count() == 0
    answer = db.session.query(BiometricConsent).one()
    assert answer.declined_at is not None and answer.purpose == "EREVISIT"
    assert biometric.to_phone(link) == []  # nothing left online: a second click moves nothing
