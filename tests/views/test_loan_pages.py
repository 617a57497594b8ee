"""保单贷款 and 保单还款 on the customer's pages (/my/loan, /my/repay) through HTTP, in the seed's order:
the list with why not, the policy page's figures, the account, the agreement, the ID card, the face
check of large loans, the servicing password and the code → 保全申请操作完毕; 我的申请 with its steps;
and customer B swapping ids into A's policies and applications."""
import os
import re
from datetime import timedelta

import pytest
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import Customer, Policy, ServicingApplication
from app.models.servicing import PolicyLoan
from app.services import clock, identity, loan
from tests.biometric import agree_biometrics
from tests.conftest import FACES, csrf_token
from tests.views.test_account import _session_celery, as_another_browser, outbox_code, page, sign_in  # noqa: F401

MA_YAN, MA_YAN_MOBILE, PASSWORD = "860007775808888", "13601360003", "258147"
NO_LOANS = "860006373328888"  # 守护神定期寿险: the product gives no loans
CARD = "6217000010111758507"  # the seed's card, with its Luhn check digit
OK_CARD_FORM = {"bank": "CCB", "card_no": CARD, "account_name": "马妍"}


@pytest.fixture(autouse=True)
def _codes_for_tests(app, monkeypatch):
    """A sign-in code and a servicing code in the same minute (the per-mobile limit is 1 a minute)."""
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)


def photo(name):
    with open(os.path.join(FACES, name), "rb") as handle:
        return handle.read()


def ready(customer_no="C0003"):
    """The customer 已认证 with a servicing password."""
    db.session.commit()
    found = db.session.query(Customer).filter_by(customer_no=customer_no).one()
    found.auth_status = "VERIFIED"
    found.servicing_password_hash = generate_password_hash(PASSWORD)
    db.session.commit()
    agree_biometrics(found.id)  # the biometric notice (tests/views/test_biometric_consent.py) was agreed to
    return found


def policy_id(policy_no=MA_YAN):
    return db.session.query(Policy.id).filter_by(policy_no=policy_no).scalar()


def signed_in_ma_yan(client):
    ready("C0003")
    assert "已认证" in page(sign_in(client, MA_YAN_MOBILE))


def send_loan_code(client, pid, form_url, action, **typed):
    token = csrf_token(page(client.get(form_url)))
    sent = client.post(action, data=dict(csrf_token=token, **typed), follow_redirects=True)
    assert "验证码已发送至" in page(sent), page(sent)
    return sent


def loan_form(client, pid, amount="12000", **typed):
    """The loan page rendered after 获取验证码, the code from the outbox: the fields to post."""
    sent = send_loan_code(client, pid, f"/my/loan/{pid}", f"/my/loan/{pid}/code", amount=amount, **OK_CARD_FORM)
    html = page(sent)
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', html).group(1)
    data = dict(csrf_token=csrf_token(html), request_key=key, amount=amount, agreed="y", password=PASSWORD,
                code=outbox_code(MA_YAN_MOBILE), **OK_CARD_FORM)
    data.update(typed)
    return html, data


def applications():
    db.session.commit()
    return db.session.query(ServicingApplication).order_by(ServicingApplication.id).all()


# --- step 1: the list ------------------------------------------------------------------------

def test_the_loan_list_shows_each_policy_and_why_not(seeded, client):
    signed_in_ma_yan(client)
    center = page(client.get("/my/"))
    assert "即将开放" not in page(client.get("/my/service/POLICY_LOAN", follow_redirects=True))
    assert "保单贷款" in center and "保单还款" in center
    listed = client.get("/my/service/POLICY_LOAN", follow_redirects=True)
    text = page(listed)
    assert listed.status_code == 200 and f'data-loan-policy="{MA_YAN}"' in page(client.get("/my/loan"))
    assert f'data-loan-policy="{MA_YAN}"' in text and "爱心人寿年年丰盈终身寿险" in text
    assert f'data-loan-refused="{NO_LOANS}"' in text and "不提供保单贷款" in text
    assert "880000001522216" not in text  # 张德强's


def test_an_unauthenticated_customer_is_sent_to_authenticate(seeded, client):
    db.session.commit()
    sign_in(client, MA_YAN_MOBILE)  # not 已认证: only a mobile session
    response = client.get("/my/loan")
    assert response.status_code in (302, 403)


def test_customer_b_cannot_see_or_act_on_a_policies_by_swapping_ids(seeded, client):
    ready("C0003")
    ready("C0001")
    sign_in(client, "13800138001")  # 张德强
    pid = policy_id()
    assert client.get(f"/my/loan/{pid}").status_code == 404
    token = csrf_token(page(client.get("/my/")))
    posted = client.post(f"/my/loan/{pid}", data=dict(csrf_token=token, request_key="k" * 20, amount="100",
                                                      agreed="y", password=PASSWORD, code="123456", **OK_CARD_FORM))
    assert posted.status_code == 404 and "不存在或不属于您" in page(posted)
    assert client.post(f"/my/loan/{pid}/code", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/my/repay/{pid}").status_code == 404
    assert client.get(f"/my/loan/{pid}/face").status_code == 404
    assert applications() == []


# --- step 2: the policy page and the loan ------------------------------------------------------

def test_the_policy_page_shows_the_figures_and_recomputes_the_duty(seeded, client):
    signed_in_ma_yan(client)
    pid = policy_id()
    text = page(client.get(f"/my/loan/{pid}"))
    assert "可贷金额" in text and "34000.00" in text and "贷款利率" in text and "5.00%" in text
    assert "须以本人的真实姓名开立" in text and "《保单贷款协议》" in text
    token = csrf_token(text)
    figures = page(client.post(f"/my/loan/{pid}/draft/page", data=dict(csrf_token=token, amount="12000"),
                               follow_redirects=True))
    assert 'id="stamp-duty">0.60' in figures and 'id="credited">11999.40' in figures
    assert 'value="12000"' in figures  # what was typed is kept


def test_a_loan_of_12000_is_accepted_with_the_id_card_images(seeded, client):
    signed_in_ma_yan(client)
    pid = policy_id()
    _, data = loan_form(client, pid)
    missing = client.post(f"/my/loan/{pid}", data=data)
    assert missing.status_code == 400 and "需要上传身份证正反面" in page(missing)
    assert 'value="12000"' in page(missing) and CARD in page(missing)  # kept; the password is not
    assert PASSWORD not in page(missing)
    assert applications() == []
    data["id_front"] = (__import__("io").BytesIO(b"not an image at all"), "front.jpg")
    data["id_back"] = (__import__("io").BytesIO(photo("obama3.jpg")), "back.jpg")
    not_image = client.post(f"/my/loan/{pid}", data=data, content_type="multipart/form-data")
    assert not_image.status_code == 400 and applications() == []
    # the code was not spent by the refusals
    import io
    data["id_front"] = (io.BytesIO(photo("obama.jpg")), "front.jpg")
    data["id_back"] = (io.BytesIO(photo("obama3.jpg")), "back.jpg")
    done = client.post(f"/my/loan/{pid}", data=data, content_type="multipart/form-data")
    assert done.status_code == 200, page(done)
    assert "保全申请操作完毕" in page(done) and "自贷款金到账开始计息" in page(done)
    [application] = applications()
    assert application.kind == "POLICY_LOAN" and application.amount == 12000
    assert application.payload["stamp_duty"] == "0.60" and application.payload["credited_amount"] == "11999.40"
    assert application.payload["account"]["card_masked"] == "6217 **** **** 8507"
    assert CARD not in str(application.payload) and len(application.payload["id_images"]) == 2
    names = [check["name"] for check in application.rule_trace]
    assert "可贷金额" in names and "身份证影像" in names
    assert any(c["figures"] == "本次贷款金额 12000.00 ≤ 可贷金额 34000.00" for c in application.rule_trace)


def test_a_small_loan_is_approved_straight_through_and_awaits_its_money(seeded, client):
    """Within STP_MAX_AMOUNT with every check passed: approved by the system, and its PENDING loan
    exists at once, for the payment system to report the money's arrival."""
    signed_in_ma_yan(client)
    pid = policy_id()
    _, data = loan_form(client, pid, amount="5000")
    done = client.post(f"/my/loan/{pid}", data=data)
    assert done.status_code == 200 and "保全申请操作完毕" in page(done)
    [application] = applications()
    assert application.status == "APPROVED"
    loan_row = db.session.query(PolicyLoan).filter_by(application_id=application.id).one()
    assert loan_row.status == "PENDING" and loan_row.principal == 5000 and loan_row.disbursed_on is None


def test_a_double_submit_finds_the_first_application(seeded, client):
    signed_in_ma_yan(client)
    pid = policy_id()
    _, data = loan_form(client, pid, amount="5000")
    first = client.post(f"/my/loan/{pid}", data=dict(data))
    second = client.post(f"/my/loan/{pid}", data=dict(data))  # the same key, the code already spent
    assert first.status_code == 200 and second.status_code == 200, page(second)
    [application] = applications()
    assert application.application_no in page(first) and application.application_no in page(second)


@pytest.mark.parametrize("typed, message", [
    ({"card_no": "6217000010111758500"}, "银行卡号有误"),
    ({"card_no": "62170000"}, "16至19位"),
    ({"account_name": "李明"}, "须以本人的真实姓名开立"),
    ({"bank": ""}, "请选择开户银行"),
    ({"agreed": ""}, "请阅读并同意"),
    ({"amount": "abc"}, "本次贷款金额"),
    ({"amount": "99999"}, "超过可贷金额"),
    ({"password": "111111"}, "服务密码错误"),
    ({"code": "000000"}, "验证码"),
])
def test_bad_input_is_refused_in_chinese_and_keeps_what_was_typed(seeded, client, typed, message):
    signed_in_ma_yan(client)
    pid = policy_id()
    _, data = loan_form(client, pid, amount="3000")
    data.update(typed)
    if data.get("agreed") == "":
        data.pop("agreed")
    if data["code"] == "000000" and data["code"] == outbox_code(MA_YAN_MOBILE):
        data["code"] = "000001"
    refused = client.post(f"/my/loan/{pid}", data=data)
    assert refused.status_code in (400, 409), page(refused)
    assert message in page(refused)
    assert f'value="{data["amount"]}"' in page(refused)
    assert applications() == []


def test_a_large_loan_needs_a_recent_passed_face_check(seeded, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOAN_FACE_AMOUNT", 5000)
    signed_in_ma_yan(client)
    ma_yan = db.session.query(Customer).filter_by(customer_no="C0003").one()
    identity.attach_reference_photo(ma_yan.id, photo("obama.jpg"))
    pid = policy_id()
    _, data = loan_form(client, pid, amount="8000")
    refused = client.post(f"/my/loan/{pid}", data=dict(data))
    assert refused.status_code == 403 and "大额资金交易,须进行人脸识别" in page(refused)
    token = csrf_token(page(client.get(f"/my/loan/{pid}/face")))
    import io
    checked = client.post(f"/my/loan/{pid}/face", data={"csrf_token": token, "photo": (io.BytesIO(photo("obama2.jpg")),
                                                                                         "me.jpg")},
                          content_type="multipart/form-data", follow_redirects=True)
    assert "人脸识别通过" in page(checked), page(checked)
    assert 'value="8000"' in page(checked)  # the draft came back
    done = client.post(f"/my/loan/{pid}", data=dict(data))
    assert done.status_code == 200 and "保全申请操作完毕" in page(done), page(done)
    [application] = applications()
    assert application.identity_verification_id is not None
    assert any(c["name"] == "人脸识别" and c["passed"] for c in application.rule_trace)


# --- step 3: repayment -------------------------------------------------------------------------

def add_loan(principal="10000.00", days=31):
    arrived = clock.today() - timedelta(days=days)
    row = PolicyLoan(policy_id=policy_id(), principal=principal, stamp_duty="0.50",
                     credited_amount="9999.50", annual_rate="0.05", outstanding_principal=principal,
                     status="ACTIVE", disbursed_on=arrived, due_on=loan.due_date(arrived, 6))
    db.session.add(row)
    db.session.commit()
    return row


def repay_form(client, pid, amount):
    sent = send_loan_code(client, pid, f"/my/repay/{pid}", f"/my/repay/{pid}/code", amount=amount, **OK_CARD_FORM)
    html = page(sent)
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', html).group(1)
    return html, dict(csrf_token=csrf_token(html), request_key=key, amount=amount, code=outbox_code(MA_YAN_MOBILE),
                      **OK_CARD_FORM)


def test_repayment_lists_unpaid_loans_and_accepts_a_part_interest_first(seeded, client):
    add_loan()
    signed_in_ma_yan(client)
    pid = policy_id()
    listed = page(client.get("/my/service/LOAN_REPAYMENT", follow_redirects=True))
    assert f'data-repay-policy="{MA_YAN}"' in listed and NO_LOANS not in listed
    html, data = repay_form(client, pid, "1000")
    assert 'id="principal">10000.00' in html and 'id="interest">42.47' in html and 'id="total">10042.47' in html
    above = client.post(f"/my/repay/{pid}", data=dict(data, amount="10042.48"))
    assert above.status_code == 409 and "超过应还本息合计 10042.47" in page(above)
    credit = client.post(f"/my/repay/{pid}", data=dict(data, card_no="4111111111111111"))
    assert credit.status_code == 400 and "不能使用信用卡" in page(credit)
    done = client.post(f"/my/repay/{pid}", data=data)
    assert done.status_code == 200 and "保全申请操作完毕" in page(done), page(done)
    [application] = applications()
    assert application.kind == "LOAN_REPAYMENT"
    assert application.payload["interest_part"] == "42.47" and application.payload["principal_part"] == "957.53"


def test_a_second_repayment_waits_for_the_first_ones_payment_result(seeded, client):
    """A repayment accepted and waiting for its payment result blocks another: two could pay more than owed."""
    add_loan()
    signed_in_ma_yan(client)
    pid = policy_id()
    _, data = repay_form(client, pid, "5000")
    assert "保全申请操作完毕" in page(client.post(f"/my/repay/{pid}", data=data))
    [first] = applications()
    _, again = repay_form(client, pid, "5042.47")
    refused = client.post(f"/my/repay/{pid}", data=again)
    assert refused.status_code == 409, page(refused)
    assert "正在办理中" in page(refused) and first.application_no in page(refused)
    assert len(applications()) == 1


def test_no_unpaid_loan_no_repayment_page(seeded, client):
    signed_in_ma_yan(client)
    assert "没有未清偿的贷款" in page(client.get("/my/repay"))
    assert client.get(f"/my/repay/{policy_id()}").status_code == 404


# --- step 4: 我的申请 ---------------------------------------------------------------------------

def test_my_applications_show_the_steps_and_b_cannot_open_a(seeded, client):
    signed_in_ma_yan(client)
    pid = policy_id()
    _, data = loan_form(client, pid, amount="3000")
    client.post(f"/my/loan/{pid}", data=data)
    [application] = applications()
    center = page(client.get("/my/"))
    assert application.application_no in center and "已提交" in center
    detail = page(client.get(f"/my/application/{application.id}"))
    assert "办理进度" in detail and "审核通过" in detail and "贷款已到账" in detail
    assert "6217 **** **** 8507" in detail
    ready("C0001")
    other = client.application.test_client()
    as_another_browser()
    sign_in(other, "13800138001")
    assert other.get(f"/my/application/{application.id}").status_code == 404


def test_failed_checks_are_shown_in_chinese(seeded, client):
    signed_in_ma_yan(client)
    db.session.commit()
    ma_yan = db.session.query(Customer).filter_by(customer_no="C0003").one()
    from app.services import unit
    from app.services.servicing import application as servicing
    with unit.work():
        found = servicing.submit("POLICY_LOAN", ma_yan.id, policy_id(), {}, [
            ("可贷金额", False, "本次贷款金额 50000.00 ≤ 可贷金额 34000.00")], "50000", servicing.new_request_key())
    detail = page(client.get(f"/my/application/{found.id}"))
    assert "未通过的校验" in detail and "本次贷款金额 50000.00 ≤ 可贷金额 34000.00" in detail


def test_a_selfie_of_someone_else_fails_and_the_tries_are_limited(seeded, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOAN_FACE_AMOUNT", 5000)
    signed_in_ma_yan(client)
    ma_yan = db.session.query(Customer).filter_by(customer_no="C0003").one()
    identity.attach_reference_photo(ma_yan.id, photo("obama.jpg"))
    pid = policy_id()
    import io
    from app.services import settings
    for attempt in range(settings.get("FACE_MAX_TRIES")):
        token = csrf_token(page(client.get(f"/my/loan/{pid}/face")))
        failed = client.post(f"/my/loan/{pid}/face", data={"csrf_token": token,
                                                           "photo": (io.BytesIO(photo("biden.jpg")), "me.jpg")},
                             content_type="multipart/form-data", follow_redirects=True)
        assert "人脸识别未通过" in page(failed)
    token = csrf_token(page(client.get(f"/my/loan/{pid}/face")))
    blocked = client.post(f"/my/loan/{pid}/face", data={"csrf_token": token,
                                                        "photo": (io.BytesIO(photo("obama2.jpg")), "me.jpg")},
                          content_type="multipart/form-data")
    assert blocked.status_code == 429 and "次数过多" in page(blocked)
