"""The customer's official-account pages through HTTP: sign-in, WeChat OAuth against a fake WeChat
on loopback, binding, the liveness video, the servicing password, and who may see what."""
import io
import os
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from flask import g

from app.extensions import db
from app.models import (Customer, IdentityVerification, Policy, RevisitLink, RevisitTask, ServicingApplication,
                        SmsMessage)
from app.services import clock, codes
from app.services.validation import id_check_digit
from tests.biometric import agree_biometrics
from tests.conftest import FACES, csrf_token, login
from tests.fake_wechat import FakeWeChat

# the three faces also run on the embedded default (SQLite) in `make test`
pytestmark = pytest.mark.smoke

CLIP = os.path.join(FACES, "short_hamilton_clip.mp4")
MISMATCH = "您填写的信息与我们的保单记录不一致,请核对后重试"


@pytest.fixture(autouse=True)
def _session_celery(app):
    """Tasks go to the session app's eager Celery even after an earlier test made another app the
    default (create_app() twice) or force-closed a broker pool that kombu's registry still hands out
    (the real-worker tests); eager calls acquire a producer too."""
    from kombu import pools

    celery_app = app.extensions["celery"]
    celery_app.set_default()
    celery_app.set_current()
    if any(getattr(pool, "_closed", False) for group in pools._groups for pool in group.values()):
        pools.reset()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None


def customer(no):
    db.session.commit()  # end our snapshot: requests changed rows in their own sessions
    return db.session.query(Customer).filter_by(customer_no=no).one()


def outbox_code(phone):
    db.session.commit()
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(phone)).filter_by(purpose="CODE") \
        .order_by(SmsMessage.id.desc()).first()
    assert message is not None, "no code in the outbox"
    return codes.development_code(message)  # the admin shows it masked


def page(response):
    return response.get_data(as_text=True)


def as_another_browser():
    """Requests of the test client share the test's app context, so flask.g outlives a request:
    forget what Flask-WTF and Flask-Login cached there before a second browser's request."""
    for key in ("csrf_token", "_login_user", "customer"):
        g.pop(key, None)


def request_code(client, mobile, purpose="SIGN_IN", form_url="/my/signin", **extra):
    token = csrf_token(page(client.get(form_url)))
    return client.post("/my/code", data=dict(csrf_token=token, mobile=mobile, purpose=purpose, **extra),
                       follow_redirects=True)


def sign_in(client, mobile="13700137004"):
    sent = request_code(client, mobile)
    assert "验证码已发送至" in page(sent), page(sent)
    token = csrf_token(page(sent))
    return client.post("/my/signin", data={"csrf_token": token, "mobile": mobile, "code": outbox_code(mobile)},
                       follow_redirects=True)


def bind(client, name, id_type, id_number, mobile, code=""):
    token = csrf_token(page(client.get("/my/auth")))
    return client.post("/my/auth", data={"csrf_token": token, "name": name, "id_type": id_type,
                                         "id_number": id_number, "mobile": mobile, "code": code},
                       follow_redirects=True)


def verified(no):
    found = customer(no)
    found.auth_status = "VERIFIED"
    db.session.commit()
    return found


# --- sign-in ----------------------------------------------------------------------------------

def test_pages_need_a_sign_in(seeded, client):
    response = client.get("/my/")
    assert response.status_code == 302 and urlsplit(response.location).path == "/my/signin"
    signin = page(client.get("/my/signin"))
    assert "获取验证码" in signin and "登录" in signin


def test_sign_in_with_mobile_and_the_code_from_the_outbox(seeded, client):
    center = sign_in(client)
    text = page(center)
    assert center.request.path == "/my/"
    assert "未认证" in text and "请认证" in text
    assert "137****7004" in text
    # 保全项目 are listed, each needing authentication first
    for item in ("保单贷款", "保单还款", "年金领取方式变更", "受益人变更"):
        assert item in text
    loan = client.get("/my/service/POLICY_LOAN")
    assert loan.status_code == 403 and "需要先完成账户认证" in page(loan)


def test_a_verified_customer_signs_in_straight_to_the_policies(seeded, client):
    verified("C0001")
    text = page(sign_in(client, "13800138001"))
    assert "已认证" in text and "张德强" in text
    assert "880000001522216" in text and "880000001522217" in text
    assert "86000001296920" not in text  # 爱小心's


def test_wrong_and_reused_codes_are_refused(seeded, client):
    sent = request_code(client, "13700137004")
    token = csrf_token(page(sent))
    code = outbox_code("13700137004")
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    response = client.post("/my/signin", data={"csrf_token": token, "mobile": "13700137004", "code": wrong})
    assert response.status_code == 400 and "验证码错误,还可以再试2次" in page(response)
    assert client.get("/my/").status_code == 302  # still nobody
    ok = client.post("/my/signin", data={"csrf_token": token, "mobile": "13700137004", "code": code})
    assert ok.status_code == 302
    other = client.application.test_client()  # another browser replays the same code
    as_another_browser()
    token = csrf_token(page(other.get("/my/signin")))
    replay = other.post("/my/signin", data={"csrf_token": token, "mobile": "13700137004", "code": code})
    assert replay.status_code == 400 and "验证码已使用" in page(replay)


def test_an_expired_code_is_refused(seeded, client):
    import time_machine

    with time_machine.travel(clock.now().replace(tzinfo=clock.ZONE), tick=False) as traveller:
        sent = request_code(client, "13700137004")
        code = outbox_code("13700137004")
        traveller.shift(timedelta(minutes=5, seconds=1))
        response = client.post("/my/signin", data={"csrf_token": csrf_token(page(sent)), "mobile": "13700137004",
                                                    "code": code})
    assert response.status_code == 400 and "验证码已过期" in page(response)


def test_a_second_code_within_a_minute_is_refused_with_a_clear_message(seeded, client):
    request_code(client, "13700137004")
    again = request_code(client, "13700137004")
    assert re.search(r"验证码发送过于频繁,请\d+秒后再试", page(again))
    db.session.commit()
    assert db.session.query(SmsMessage).filter(SmsMessage.phone_is("13700137004")).count() == 1


def test_code_requests_are_rate_limited_per_ip(seeded, client):
    statuses = []
    for n in range(11):
        token = csrf_token(page(client.get("/my/signin")))
        statuses.append(client.post("/my/code", data={"csrf_token": token, "mobile": f"1390000{n:04d}",
                                                      "purpose": "SIGN_IN"}).status_code)
    assert statuses[:10] == [302] * 10 and statuses[10] == 429


def test_code_request_without_csrf_sends_nothing(seeded, client):
    client.get("/my/signin")
    client.post("/my/code", data={"mobile": "13700137004", "purpose": "SIGN_IN"})
    db.session.commit()
    assert db.session.query(SmsMessage).count() == 0


# --- WeChat OAuth2 against a fake WeChat on loopback --------------------------------------------

@pytest.fixture
def fake_wechat(app, monkeypatch):
    fake = FakeWeChat().start()
    for key, value in fake.config().items():
        monkeypatch.setitem(app.config, key, value)
    yield fake
    fake.stop()


def through_wechat(client, fake):
    start = client.get("/my/wechat")
    assert start.status_code == 302 and start.location.startswith(fake.base_url + "/connect/oauth2/authorize?")
    assert "scope=snsapi_base" in start.location and start.location.endswith("#wechat_redirect")
    # the phone's browser inside WeChat follows it; WeChat sends it back with a code
    back = requests.get(start.location.split("#")[0], allow_redirects=False, timeout=5)
    assert back.status_code == 302
    callback = urlsplit(back.headers["Location"])
    assert callback.path == "/my/wechat/callback"
    return client.get(f"{callback.path}?{callback.query}")


def test_wechat_sign_in_of_an_official_account_customer(seeded, client, fake_wechat):
    fake_wechat.next_openid = "oAiXin-demo-0002"  # 爱小心 bought on the official account
    response = through_wechat(client, fake_wechat)
    assert response.status_code == 302 and urlsplit(response.location).path == "/my/"
    # the server exchanged the code with the real HTTP client
    assert [path for path, _ in fake_wechat.requests][-1] == "/sns/oauth2/access_token"
    text = page(client.get("/my/"))
    assert "爱小心" in text and "86000001296920" in text
    # openid already bound: 请认证 goes straight to 开始认证 / face verification, no form to fill
    auth = page(client.get("/my/auth"))
    assert "开始认证" in auth and 'name="id_number"' not in auth


def test_wechat_newcomer_binds_an_offline_policy_with_a_code(seeded, client, fake_wechat):
    fake_wechat.next_openid = "oLiMing-new"
    through_wechat(client, fake_wechat)
    assert "请认证" in page(client.get("/my/"))
    li = customer("C0004")
    request_code(client, li.mobile, purpose="BIND", form_url="/my/auth")
    response = bind(client, li.name, li.id_type, li.id_number, li.mobile, outbox_code(li.mobile))
    assert "保单绑定成功" in page(response) and "开始认证" in page(response)
    assert customer("C0004").wechat_openid == "oLiMing-new"


def test_a_replayed_or_forged_wechat_callback_signs_nobody_in(seeded, client, fake_wechat):
    response = client.get("/my/wechat/callback?code=abc&state=forged")
    assert response.status_code == 400 and "微信授权失败" in page(response)
    start = client.get("/my/wechat")
    state = re.search(r"state=([^&#]+)", start.location).group(1)
    bad = client.get(f"/my/wechat/callback?code=not-issued&state={state}")
    assert bad.status_code == 502 and "微信授权失败" in page(bad)
    assert client.get("/my/").status_code == 302


def test_without_wechat_settings_the_page_points_to_the_mobile_sign_in(seeded, client):
    response = client.get("/my/wechat")
    assert response.status_code == 200 and "请使用手机号验证码登录" in page(response)


# --- binding ----------------------------------------------------------------------------------

def _wrong_id_number(number):
    first17 = number[:16] + str((int(number[16]) + 2) % 10)
    return first17 + id_check_digit(first17)


def test_binding_failures_all_say_the_same_and_name_no_field(seeded, client):
    li = customer("C0004")
    sign_in(client, "13700137004")
    wrong_check = li.id_number[:17] + ("0" if li.id_number[17] != "0" else "1")
    pages = [
        bind(client, li.name, li.id_type, _wrong_id_number(li.id_number), li.mobile),
        bind(client, li.name, li.id_type, wrong_check, li.mobile),
    ]
    # someone else's mobile (王芳's), proven by a code we received
    request_code(client, "15000150005", purpose="BIND", form_url="/my/auth")
    pages.append(bind(client, li.name, li.id_type, li.id_number, "15000150005", outbox_code("15000150005")))
    for response in pages:
        text = page(response)
        assert response.status_code == 400
        assert MISMATCH in text
        assert "证件号码格式" not in text and "校验" not in text and "手机号不" not in text
    errors = [re.search(r'id="page-error">([^<]+)<', page(r)).group(1) for r in pages]
    assert len(set(errors)) == 1
    assert "未认证" in page(client.get("/my/")) and "我的保单" not in page(client.get("/my/"))


def test_binding_is_locked_after_five_failures(seeded, client):
    li = customer("C0004")
    sign_in(client, "13700137004")
    for _ in range(5):
        assert MISMATCH in page(bind(client, "王五", li.id_type, li.id_number, li.mobile))
    locked = bind(client, li.name, li.id_type, li.id_number, li.mobile)
    assert locked.status_code == 429 and "绑定失败次数过多" in page(locked)


def test_binding_an_offline_policy_with_the_signed_in_mobile(seeded, client):
    li = customer("C0004")
    sign_in(client, "13700137004")
    response = bind(client, li.name, li.id_type, li.id_number, li.mobile)
    assert "保单绑定成功" in page(response)
    text = page(client.get("/my/"))
    assert "880000002000001" in text  # his policy as holder
    assert "880000002000002" not in text  # he is only the insured of 王芳's


# --- isolation --------------------------------------------------------------------------------

def _application(customer_id, policy_id):
    row = ServicingApplication(application_no=f"SA{customer_id:06d}{policy_id:06d}", kind="POLICY_LOAN",
                               customer_id=customer_id, policy_id=policy_id, status="SUBMITTED",
                               submitted_at=clock.now())
    db.session.add(row)
    db.session.commit()
    return row.id


def test_a_customer_cannot_reach_another_customers_data_by_changing_ids(seeded, client):
    zhang, ai = verified("C0001"), customer("C0002")
    zhang_policy = db.session.query(Policy).filter_by(policy_no="880000001522216").one()
    ai_policy = db.session.query(Policy).filter_by(policy_no="86000001296920").one()
    mine, theirs = _application(zhang.id, zhang_policy.id), _application(ai.id, ai_policy.id)
    check = IdentityVerification(customer_id=ai.id, kind="VIDEO", purpose="ACCOUNT_AUTH", status="FAILED",
                                 created_at=clock.now(), details={"reasons": ["video_face_mismatch"]})
    db.session.add(check)
    db.session.commit()
    sign_in(client, "13800138001")
    assert client.get(f"/my/policy/{zhang_policy.id}").status_code == 200
    assert client.get(f"/my/application/{mine}").status_code == 200
    for url in (f"/my/policy/{ai_policy.id}", f"/my/application/{theirs}", f"/my/face/{check.id}",
                f"/my/face/{check.id}/status"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "86000001296920" not in page(response) and "爱小心" not in page(response)
    text = page(client.get("/my/"))
    assert "SA" + f"{zhang.id:06d}" in text and f"SA{ai.id:06d}" not in text


def test_pending_e_revisits_of_the_customer_are_listed_with_their_link(seeded, client):
    ai = verified("C0002")
    policy = db.session.query(Policy).filter_by(policy_no="86000001296920").one()
    link = RevisitLink(code="abcdefghijklmnop", customer_id=ai.id, batch="T1",
                       expires_at=clock.now() + timedelta(days=2))
    db.session.add(link)
    db.session.flush()
    task = db.session.query(RevisitTask).filter_by(open_policy_id=policy.id).one()  # made by the seed
    task.link_id, task.status = link.id, "SMS_SENT"
    db.session.commit()
    sign_in(client, "13900139002")
    text = page(client.get("/my/"))
    assert "待回访保单" in text and "/s/abcdefghijklmnop" in text and "开始在线回访" in text


def test_staff_login_is_not_a_customer_session_and_back(seeded, client):
    login(client, "admin")
    assert client.get("/my/").status_code == 302
    staff_only = client.get("/policyview/list/")
    assert staff_only.status_code == 200
    customer_browser = client.application.test_client()
    as_another_browser()
    verified("C0001")
    sign_in(customer_browser, "13800138001")
    assert customer_browser.get("/my/").status_code == 200
    admin_page = customer_browser.get("/policyview/list/")
    assert admin_page.status_code in (302, 401, 403)
    assert "880000001522216" not in page(admin_page)


def test_signing_out_ends_the_customer_session(seeded, client):
    verified("C0001")
    text = page(sign_in(client, "13800138001"))
    client.post("/my/signout", data={"csrf_token": csrf_token(text)})
    assert client.get("/my/").status_code == 302


# --- face + liveness, password -----------------------------------------------------------------

def bound_li_ming(client):
    from app.services import identity

    li = customer("C0004")
    with open(os.path.join(FACES, "lin-manuel-miranda.png"), "rb") as handle:
        identity.attach_reference_photo(li.id, handle.read())
    sign_in(client, "13700137004")
    bind(client, li.name, li.id_type, li.id_number, li.mobile)
    agree_biometrics(li.id)  # the biometric notice (tests/views/test_biometric_consent.py) was agreed to
    return li


def start_recording(client):
    intro = page(client.get("/my/face"))
    assert "请在安静且光线充足环境下,确保正脸对准屏幕框" in intro and "下一步" in intro
    record = client.post("/my/face/challenge", data={"csrf_token": csrf_token(intro), "purpose": "ACCOUNT_AUTH"},
                         follow_redirects=True)
    text = page(record)
    assert "已记住,进入录制" in text and 'capture="user"' in text and 'accept="video/*"' in text
    digits = "".join(re.findall(r"<span>(\d)</span>", text.split('id="challenge-digits"')[1].split("</div>")[0]))
    assert len(digits) == 4
    return text, digits


def upload(client, text, data, name="clip.mp4"):
    return client.post("/my/face/video", data={"csrf_token": csrf_token(text), "video": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("data,name,message", [
    (b"", "empty.mp4", "没有收到文件,请重新拍摄或选择后上传"),
    (b"this is not a video at all", "notes.mp4", "上传的文件不是可以播放的视频,请重新录制"),
    (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 400, "corrupt.mp4", "上传的文件不是可以播放的视频,请重新录制"),
])
def test_unusable_uploads_get_a_clear_message_and_keep_the_digits(seeded, client, data, name, message):
    bound_li_ming(client)
    text, digits = start_recording(client)
    response = upload(client, text, data, name)
    assert response.status_code == 400 and message in page(response)
    assert "".join(re.findall(r"<span>(\d)</span>", page(response)))[:4] == digits
    db.session.commit()
    assert db.session.query(IdentityVerification).count() == 0


def test_video_liveness_then_password_makes_the_account_verified(seeded, client):
    li = bound_li_ming(client)
    text, digits = start_recording(client)
    with open(CLIP, "rb") as handle:
        response = upload(client, text, handle.read())
    assert response.status_code == 302
    db.session.commit()
    verification = db.session.query(IdentityVerification).filter_by(customer_id=li.id, kind="VIDEO").one()
    assert verification.challenge_digits == digits  # the digits the server showed are the evidence
    assert verification.status == "PASSED", verification.details
    progress = client.get(response.location)
    assert progress.status_code == 302 and urlsplit(progress.location).path == "/my/password"
    status = client.get(f"/my/face/{verification.id}/status").get_json()
    assert status["done"] and status["status"] == "PASSED"
    form = page(client.get("/my/password"))
    bad = client.post("/my/password", data={"csrf_token": csrf_token(form), "password": "19820120",
                                            "repeated": "19820120"})
    assert bad.status_code == 400 and "服务密码不能使用您的出生日期" in page(bad)
    twice = client.post("/my/password", data={"csrf_token": csrf_token(form), "password": "731950",
                                              "repeated": "731590"})
    assert "两次输入的密码不一致" in page(twice)
    done = client.post("/my/password", data={"csrf_token": csrf_token(form), "password": "731950",
                                             "repeated": "731950"}, follow_redirects=True)
    assert done.request.path == "/my/" and "已认证" in page(done) and "服务密码设置成功" in page(done)
    found = customer("C0004")
    assert found.auth_status == "VERIFIED" and found.authenticated_at is not None
    assert found.face_encoding is not None  # enrolled for the large-loan checks
    # the digits were spent: uploading again needs new ones
    assert upload(client, text, b"x").status_code in (302, 400)
    assert client.get("/my/service/POLICY_LOAN").status_code == 200


def test_a_video_of_someone_else_fails_with_a_chinese_reason(seeded, client):
    from app.services import identity

    li = customer("C0004")
    with open(os.path.join(FACES, "obama.jpg"), "rb") as handle:
        identity.attach_reference_photo(li.id, handle.read())
    sign_in(client, "13700137004")
    bind(client, li.name, li.id_type, li.id_number, li.mobile)
    agree_biometrics(li.id)
    text, _ = start_recording(client)
    with open(CLIP, "rb") as handle:
        response = upload(client, text, handle.read())
    result = client.get(response.location)
    body = page(result)
    assert "人脸识别未通过" in body and "重新录制" in body
    assert re.search(r"[\u4e00-\u9fff]", re.search(r'id="message-text">([^<]+)<', body).group(1))
    assert client.get("/my/password").status_code == 302  # no password without a pass
    assert customer("C0004").auth_status == "UNVERIFIED"


def test_the_password_page_needs_a_passed_video_first(seeded, client):
    li = customer("C0004")
    sign_in(client, "13700137004")
    bind(client, li.name, li.id_type, li.id_number, li.mobile)
    response = client.get("/my/password")
    assert response.status_code == 302


def test_password_reset_needs_a_code_and_a_face_video(seeded, client, monkeypatch):
    from werkzeug.security import generate_password_hash

    monkeypatch.setitem(client.application.config, "CODE_SENDS_PER_MINUTE", 2)  # sign-in code, then this one

    from app.services import account, identity

    li = verified("C0004")
    li.servicing_password_hash = generate_password_hash("731950")
    db.session.commit()
    with open(os.path.join(FACES, "lin-manuel-miranda.png"), "rb") as handle:
        identity.attach_reference_photo(li.id, handle.read())
    agree_biometrics(li.id)
    sign_in(client, "13700137004")
    assert "忘记服务密码" in page(client.get("/my/"))
    assert urlsplit(client.get("/my/face?purpose=PASSWORD_RESET").location).path == "/my/password/reset"
    sent = request_code(client, "ignored", purpose="PASSWORD_RESET", form_url="/my/password/reset")
    assert "验证码已发送至 137****7004" in page(sent)  # always the customer's own 预留手机号
    code = outbox_code("13700137004")
    wrong = client.post("/my/password/reset", data={"csrf_token": csrf_token(page(sent)),
                                                     "code": f"{(int(code) + 1) % 10 ** 6:06d}"})
    assert wrong.status_code == 400 and "验证码错误" in page(wrong)
    right = client.post("/my/password/reset", data={"csrf_token": csrf_token(page(sent)), "code": code})
    assert right.status_code == 302 and "purpose=PASSWORD_RESET" in right.location
    intro = page(client.get(right.location))
    record = client.post("/my/face/challenge", data={"csrf_token": csrf_token(intro), "purpose": "PASSWORD_RESET"},
                         follow_redirects=True)
    with open(CLIP, "rb") as handle:
        uploaded = upload(client, page(record), handle.read())
    assert urlsplit(client.get(uploaded.location).location).path == "/my/password"
    form = page(client.get("/my/password"))
    assert "重置服务密码" in form
    done = client.post("/my/password", data={"csrf_token": csrf_token(form), "password": "503817",
                                             "repeated": "503817"}, follow_redirects=True)
    assert "服务密码已重置" in page(done)
    db.session.commit()
    assert account.check_servicing_password(li.id, "503817") and not account.check_servicing_password(li.id, "731950")
    check = db.session.query(IdentityVerification).filter_by(customer_id=li.id).one()
    assert (check.purpose, check.status) == ("PASSWORD_RESET", "PASSED")


def test_an_oversized_video_gets_a_chinese_message(seeded, client, monkeypatch):
    bound_li_ming(client)
    text, _ = start_recording(client)
    monkeypatch.setitem(client.application.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    response = upload(client, text, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100_000)
    assert response.status_code == 413 and "文件过大" in page(response)


# --- issue 9, hole 13: one person cannot lock another out; hole 11: lookalike digits -----------

def _from(client, ip):
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def test_someone_elses_failures_do_not_lock_the_owner_out(seeded, client, app):
    li = customer("C0004")
    attacker = _from(client, "10.9.0.1")
    sign_in(attacker, "13900009999")  # a mobile of nobody on file
    for _ in range(5):
        assert MISMATCH in page(bind(attacker, "王五", li.id_type, li.id_number, "13900009999"))
    locked = bind(attacker, li.name, li.id_type, li.id_number, "13900009999")
    assert locked.status_code == 429 and "绑定失败次数过多" in page(locked)
    as_another_browser()
    owner = _from(app.test_client(), "10.9.0.2")
    sign_in(owner, li.mobile)
    response = bind(owner, li.name, li.id_type, li.id_number, li.mobile)
    assert "保单绑定成功" in page(response), page(response)


def test_a_full_width_id_number_and_mobile_bind_like_ascii(seeded, client):
    li = customer("C0004")
    full_width = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
    sent = request_code(client, li.mobile.translate(full_width))
    assert "验证码已发送至" in page(sent), page(sent)
    code = outbox_code(li.mobile).translate(full_width)
    client.post("/my/signin", data={"csrf_token": csrf_token(page(sent)), "mobile": li.mobile.translate(full_width),
                                    "code": code})
    response = bind(client, li.name, li.id_type, li.id_number.translate(full_width), li.mobile.translate(full_width))
    assert "保单绑定成功" in page(response), page(response)


def test_the_customer_pages_mask_by_the_one_rule(app):
    from flask import render_template_string

    from app.services import privacy

    with app.test_request_context("/my/"):
        shown = render_template_string("{{ i|mask_id }} {{ m|mask_mobile }}", i="110105197803140033", m="13800138001")
    assert shown == f"{privacy.mask_id_number('110105197803140033')} {privacy.mask_mobile('13800138001')}"
