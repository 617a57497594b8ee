"""The biometric notice before the first face check of each flow (issue 15 point 4; PIPL 28-29, the 2025 face
rules): what is collected and why, 同意并继续 (stored with the text and its hash, then the face check, asked
once) or 不同意 with the way without a face check: the phone revisit now (/s/), the counter or the hotline
(/my/ authentication and the loan), the hotline (/c/). CSRF on the POSTs, no 500 on any input, and the
consent is always the link's or the session's customer's."""
import io

import pytest
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import BiometricConsent, Customer, IdentityVerification, RevisitEvidence, RevisitLink, RevisitTask
from app.services import biometric
from tests.conftest import PASSWORD, csrf_token
from tests.services.test_consent import _codes_for_tests, apply, faces, record_of  # noqa: F401
from tests.views.test_account import _session_celery, bind, page, sign_in  # noqa: F401

NOTICE_WORDS = ("人脸识别个人信息处理告知书", "人脸特征值", "敏感个人信息", "第二十八条", "保存期限", "查看范围",
                "同意并继续", "不同意")


def customer(no):
    return db.session.query(Customer).filter_by(customer_no=no).one()


@pytest.fixture
def links(seeded):
    from app.services import revisit

    revisit.issue_invitations()
    return {c.customer_no: link.code for link, c in
            db.session.query(RevisitLink, Customer).join(Customer, RevisitLink.customer_id == Customer.id)}


def tasks_of(no):
    db.session.expire_all()
    from app.models import Policy

    return (db.session.query(RevisitTask).join(Policy, RevisitTask.policy_id == Policy.id)
            .filter(Policy.holder_id == customer(no).id).all())


def answers():
    db.session.expire_all()
    return db.session.query(BiometricConsent).order_by(BiometricConsent.id).all()


def _photo():
    return (io.BytesIO(b"\xff\xd8\xff\xe0 not really a photo"), "selfie.jpg")


# --- the e-revisit (/s/) -----------------------------------------------------------------------------------

def test_the_notice_comes_before_the_first_face_check_and_is_asked_once(links, client, app):
    code = links["C0001"]
    first = page(client.get(f"/s/{code}"))
    for words in NOTICE_WORDS + ("改为电话回访",):
        assert words in first, words
    assert 'id="face-form"' not in first and 'name="photo"' not in first
    # a photo posted before agreeing is not taken
    refused = client.post(f"/s/{code}/face", data={"csrf_token": csrf_token(first), "photo": _photo()},
                          content_type="multipart/form-data")
    assert refused.status_code == 302 and db.session.query(IdentityVerification).count() == 0
    agreed = client.post(f"/s/{code}/biometric", data={"csrf_token": csrf_token(first), "choice": "agree"})
    assert agreed.status_code == 302 and agreed.location.endswith(f"/s/{code}")
    face = page(client.get(f"/s/{code}"))
    assert 'id="face-form"' in face and "人脸识别个人信息处理告知书" not in face
    assert "改为电话回访" in face and 'id="choose-phone"' in face  # the way without a face check, on the face page
    (record,) = answers()
    assert record.customer_id == customer("C0001").id and record.purpose == "EREVISIT" and record.agreed_at
    assert record.notice_text == biometric.notice_text("EREVISIT")
    assert record.notice_sha256 == biometric.sha256(record.notice_text)
    for paragraph in biometric.notice("EREVISIT")[1:4]:
        assert paragraph in first  # the text stored is the text shown
    # a second face check (another browser, another day) goes straight in
    other = app.test_client()
    assert 'id="face-form"' in page(other.get(f"/s/{code}"))
    assert len(answers()) == 1


def test_declining_the_erevisit_moves_the_visits_to_the_phone_and_collects_nothing(links, client):
    code = links["C0001"]
    notice = page(client.get(f"/s/{code}"))
    online = [t.id for t in tasks_of("C0001") if t.status == "SMS_SENT"]
    assert online
    declined = client.post(f"/s/{code}/biometric", data={"csrf_token": csrf_token(notice), "choice": "decline"})
    text = page(declined)
    assert declined.status_code == 200 and "回访专员将致电您" in text and "未采集任何人脸信息" in text
    for task in tasks_of("C0001"):
        if task.id in online:
            assert (task.status, task.channel) == ("PHONE_QUEUE", "PHONE")
    assert db.session.query(IdentityVerification).count() == 0
    (record,) = answers()
    assert record.declined_at and not record.agreed_at and record.notice_text == biometric.notice_text("EREVISIT")
    assert db.session.query(RevisitEvidence).filter_by(step="chose_phone_visit").count() == len(online)
    assert all(t.status == "SMS_SENT" for t in tasks_of("C0002") if t.id not in online)  # another's untouched


def test_the_face_page_offers_the_phone_revisit_too(links, client):
    from tests.biometric import agree_biometrics

    agree_biometrics(customer("C0001").id, purposes=["EREVISIT"])
    code = links["C0001"]
    face = page(client.get(f"/s/{code}"))
    assert 'id="choose-phone"' in face
    assert client.post(f"/s/{code}/phone", data={}).status_code == 400  # no CSRF token: nothing moves
    assert any(t.status == "SMS_SENT" for t in tasks_of("C0001"))
    moved = client.post(f"/s/{code}/phone", data={"csrf_token": csrf_token(face)})
    assert moved.status_code == 200 and "回访专员将致电您" in page(moved)
    assert not any(t.status == "SMS_SENT" for t in tasks_of("C0001"))


def test_the_consent_is_the_links_customers_and_needs_csrf(links, client):
    code_a = links["C0001"]
    notice = page(client.get(f"/s/{code_a}"))
    assert client.post(f"/s/{code_a}/biometric", data={"choice": "agree"}).status_code == 400
    assert answers() == []
    b = customer("C0002")
    client.post(f"/s/{code_a}/biometric", data={"csrf_token": csrf_token(notice), "choice": "agree",
                                                "customer_id": b.id, "customer": b.id})
    (record,) = answers()
    assert record.customer_id == customer("C0001").id  # never the customer a form names
    assert not biometric.has_agreed(b.id, "EREVISIT")
    assert "人脸识别个人信息处理告知书" in page(client.get(f"/s/{links['C0002']}"))  # B is still asked


@pytest.mark.parametrize("data", [{}, {"choice": "maybe"}, {"choice": ["agree", "decline"]}, {"choice": "\x00" * 5000},
                                  {"choice": "agree", "csrf_token": "forged"}])
def test_no_input_makes_a_500(links, client, data):
    code = links["C0001"]
    client.get(f"/s/{code}")
    for url in (f"/s/{code}/biometric", f"/s/{code}/phone", "/s/nosuchcode/biometric", "/s/nosuchcode/phone"):
        assert client.post(url, data=data).status_code in (302, 400, 404)
    assert answers() == []


# --- servicing: /my/ authentication, the loan --------------------------------------------------------------

def _bound(client, no="C0004"):
    li = customer(no)
    sign_in(client, li.mobile)
    bind(client, li.name, li.id_type, li.id_number, li.mobile)
    return li


def test_account_authentication_asks_first_and_offers_the_counter_or_hotline(seeded, client, app):
    li = _bound(client)
    notice = page(client.get("/my/face"))
    for words in NOTICE_WORDS + ("柜面", f'href="tel:{app.config["HOTLINE"]}"'):
        assert words in notice, words
    assert "下一步" not in notice
    # the video step is not reached before the consent
    assert client.post("/my/face/challenge", data={"csrf_token": csrf_token(notice),
                                                   "purpose": "ACCOUNT_AUTH"}).status_code == 302
    assert "account_challenge" not in str(client.get("/my/face").data)
    declined = client.post("/my/face/consent", data={"csrf_token": csrf_token(notice), "for": "ACCOUNT_AUTH",
                                                     "purpose": "ACCOUNT_AUTH", "choice": "decline"})
    text = page(declined)
    assert declined.status_code == 200 and "请携带身份证到柜面办理或致电客服热线" in text
    assert f'href="tel:{app.config["HOTLINE"]}"' in text
    assert answers()[-1].declined_at and answers()[-1].customer_id == li.id
    agreed = client.post("/my/face/consent", data={"csrf_token": csrf_token(notice), "for": "ACCOUNT_AUTH",
                                                   "purpose": "ACCOUNT_AUTH", "choice": "agree",
                                                   "customer_id": customer("C0001").id})
    assert agreed.status_code == 302 and "/my/face" in agreed.location
    face = page(client.get("/my/face"))
    assert "下一步" in face and "柜面" in face and "人脸识别个人信息处理告知书" not in face
    assert answers()[-1].customer_id == li.id and not biometric.has_agreed(customer("C0001").id, "ACCOUNT_AUTH")


@pytest.mark.parametrize("data", [{}, {"for": "ADMIN"}, {"for": "SERVICING"}, {"for": "SERVICING", "policy_id": "x"},
                                  {"for": "ACCOUNT_AUTH", "choice": "agree"},
                                  {"for": "ACCOUNT_AUTH", "choice": "agree", "csrf_token": "forged"}])
def test_the_account_consent_post_makes_no_500(seeded, client, data):
    _bound(client)
    assert client.post("/my/face/consent", data=data).status_code in (400, 404)
    assert answers() == []


def test_the_loan_face_check_asks_first_and_offers_the_counter(seeded, client, app):
    from tests.views.test_loan_pages import MA_YAN_MOBILE, policy_id

    ma = customer("C0003")
    ma.auth_status = "VERIFIED"
    ma.servicing_password_hash = generate_password_hash(PASSWORD)
    db.session.commit()
    sign_in(client, MA_YAN_MOBILE)
    pid = policy_id()
    notice = page(client.get(f"/my/loan/{pid}/face"))
    assert "人脸识别个人信息处理告知书" in notice and "柜面" in notice and "loan-face-form" not in notice
    posted = client.post(f"/my/loan/{pid}/face", data={"csrf_token": csrf_token(notice), "photo": _photo()},
                         content_type="multipart/form-data")
    assert "人脸识别个人信息处理告知书" in page(posted) and db.session.query(IdentityVerification).count() == 0
    agreed = client.post("/my/face/consent", data={"csrf_token": csrf_token(notice), "for": "SERVICING",
                                                   "policy_id": pid, "choice": "agree"})
    assert agreed.status_code == 302 and agreed.location.endswith(f"/my/loan/{pid}/face")
    face = page(client.get(f"/my/loan/{pid}/face"))
    assert "loan-face-form" in face and "请携带身份证到柜面办理或致电客服热线" in face
    assert answers()[-1].purpose == "SERVICING" and answers()[-1].customer_id == ma.id


# --- the insured's consent (/c/) ----------------------------------------------------------------------------

def test_the_insured_is_asked_first_and_offered_the_hotline(faces, client, app):  # noqa: F811
    code = record_of(apply()).code
    notice = page(client.get(f"/c/{code}"))
    assert "人脸识别个人信息处理告知书" in notice and 'name="photo"' not in notice
    assert app.config["HOTLINE"] in notice
    declined = client.post(f"/c/{code}/biometric", data={"csrf_token": csrf_token(notice), "choice": "decline"})
    assert declined.status_code == 200 and "致电客服热线" in page(declined)
    assert client.post(f"/c/{code}/biometric", data={"choice": "agree"}).status_code == 400
    agreed = client.post(f"/c/{code}/biometric", data={"csrf_token": csrf_token(notice), "choice": "agree"})
    assert agreed.status_code == 302
    face = page(client.get(f"/c/{code}"))
    assert 'name="photo"' in face and 'id="face-alternative"' in face
    latest = answers()[-1]
    assert latest.purpose == "INSURED_CONSENT" and latest.customer_id == customer("C0004").id and latest.agreed_at
