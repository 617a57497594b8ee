"""The insured's consent pages (/c/<code>, the SMS link) through the test client, on the demo data, with real face
checks on ../shared/testdata/faces and Celery in eager mode: 李明 (kit_harington.jpeg) consents to 王芳's loan on
policy 880000002000003; another person's code, a used or expired link, guessing, CSRF."""
import io
from datetime import timedelta

import pytest
import time_machine

from app.extensions import db
from app.models import Customer, Policy, ServicingApplication
from app.models.servicing import Consent, PolicyLoan
from app.services import identity, unit
from app.services.servicing import application as applications
from app.services.servicing import consent
from tests.biometric import agree_everyone
from tests.conftest import csrf_token
from tests.services.test_consent import _codes_for_tests, apply, faces, photo, record_of  # noqa: F401

LI_MING_SELFIE = "kit_harington2.jpeg"


@pytest.fixture(autouse=True)
def _no_rate_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)


@pytest.fixture(autouse=True)
def _biometric_agreed(faces):
    """The insured agreed to the biometric notice (tests/views/test_biometric_consent.py)."""
    agree_everyone()


def page(response):
    return response.get_data(as_text=True)


def upload(client, code, name, **kwargs):
    token = csrf_token(page(client.get(f"/c/{code}", **kwargs)))
    return client.post(f"/c/{code}/face", data={"csrf_token": token, "photo": (io.BytesIO(photo(name)), "me.jpg")},
                       content_type="multipart/form-data", follow_redirects=True, **kwargs)


def answer(client, code, choice="confirm", token=None):
    if token is None:
        token = csrf_token(page(client.get(f"/c/{code}")))
    return client.post(f"/c/{code}", data={"csrf_token": token, choice: "1"}, follow_redirects=True)


def status_of(application_id):
    db.session.expire_all()
    return db.session.get(ServicingApplication, application_id).status


def test_the_insured_sees_the_request_in_full_after_his_face_and_confirms(faces, client):
    application = apply()
    code = record_of(application).code
    first = client.get(f"/c/{code}")
    assert first.status_code == 200 and "被保险人身份验证" in page(first) and "<script>" not in page(first)
    assert "880000002000003" not in page(first)  # nothing is shown before the face check
    shown = upload(client, code, LI_MING_SELFIE)
    html = page(shown)
    assert shown.status_code == 200, html
    for text in ("880000002000003", "投保人:王芳", "被保险人:李明", "8,000.00", "本人同意", "本人不同意"):
        assert text in html
    done = answer(client, code)
    assert done.status_code == 200 and "您已确认同意" in page(done)
    assert status_of(application.id) == "APPROVED"
    record = record_of(application)
    assert record.status == "CONFIRMED" and record.ip and record.identity_verification_id
    # a second confirm (the back button, a double tap) says the link is used, and changes nothing
    again = answer(client, code, token=csrf_token(html))
    assert again.status_code == 409 and "您已确认同意" in page(again)
    assert db.session.query(PolicyLoan).filter_by(application_id=application.id).count() == 1


def test_declining_rejects_the_application(faces, client):
    application = apply()
    code = record_of(application).code
    upload(client, code, LI_MING_SELFIE)
    done = answer(client, code, "decline")
    assert "您已选择不同意" in page(done)
    assert status_of(application.id) == "REJECTED"
    assert db.session.get(ServicingApplication, application.id).reject_reason == "CONSENT_DECLINED"


def test_someone_elses_face_does_not_open_the_request(faces, client):
    application = apply()
    code = record_of(application).code
    failed = upload(client, code, "biden2.jpg")  # 王芳 herself, not the insured
    assert "人脸比对未通过" in page(failed) and "880000002000003" not in page(failed)
    refused = answer(client, code)  # straight to the answer: back to the face check
    assert "被保险人身份验证" in page(refused)
    assert status_of(application.id) == "CONSENT"


def test_a_face_passed_on_one_link_opens_no_other(faces, client):
    """The swap: 李明 passes on his link; another insured's code in the same browser asks for that insured's face."""
    ma_yan = db.session.query(Customer).filter_by(customer_no="C0003").one()
    identity.attach_reference_photo(ma_yan.id, photo("lin-manuel-miranda.png"))
    policy = db.session.query(Policy).filter_by(policy_no="860007775808888").one()
    with unit.work():
        other_application = applications.submit("POLICY_LOAN", ma_yan.id, policy.id, {}, [("x", True, "y")],
                                                "100", "swap-key", needs_consent=True)
        other = consent.ask(other_application)
    other_code = other.code
    mine = record_of(apply()).code
    upload(client, mine, LI_MING_SELFIE)
    verification_id = db.session.query(Consent).filter_by(code=mine).one()
    assert "被保险人身份验证" in page(client.get(f"/c/{other_code}"))
    assert "被保险人身份验证" in page(answer(client, other_code))
    db.session.expire_all()
    assert db.session.query(Consent).filter_by(code=other_code).one().status == "ASKED"
    # another link's check in the URL reveals nothing
    latest = identity.latest_verification(verification_id.customer_id, purpose="CONSENT")
    assert client.get(f"/c/{other_code}/face/{latest.id}").status_code == 302
    assert client.get(f"/c/{other_code}/face/{latest.id}/status").status_code == 404


def test_wrong_expired_and_guessed_codes_in_chinese(faces, app, client, monkeypatch):
    application = apply()
    record = record_of(application)
    wrong = client.get("/c/not-a-real-code-000000")
    assert wrong.status_code == 404 and "链接无效" in page(wrong)
    assert client.get(f"/c/{record.code.swapcase()}").status_code == 404  # case matters
    with time_machine.travel(record.asked_at + timedelta(days=7, minutes=1), tick=False):
        late = client.get(f"/c/{record.code}")
        assert late.status_code == 410 and "已过期" in page(late) and "10109520" in page(late)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", True)
    monkeypatch.setitem(app.config, "SHORT_LINK_PER_MINUTE", "3 per minute")
    guesser = {"REMOTE_ADDR": "10.0.0.77"}
    for attempt in range(3):
        assert client.get(f"/c/guess{attempt:017d}", environ_base=guesser).status_code == 404
    blocked = client.get("/c/guess99999999999999999", environ_base=guesser)
    assert blocked.status_code == 429 and "访问过于频繁" in page(blocked)


def test_the_answer_needs_csrf(faces, client):
    application = apply()
    code = record_of(application).code
    upload(client, code, LI_MING_SELFIE)
    refused = client.post(f"/c/{code}", data={"confirm": "1"})
    assert refused.status_code == 400 and "页面已过期" in page(refused)
    assert status_of(application.id) == "CONSENT"


def test_the_lapsed_link_says_so(faces, client):
    application = apply()
    record = record_of(application)
    assert consent.lapse_due(now=record.asked_at + timedelta(days=7)) == 1
    late = client.get(f"/c/{record.code}")
    assert late.status_code == 410 and "已过期" in page(late)
