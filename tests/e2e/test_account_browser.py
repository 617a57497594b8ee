"""账户认证 in a real browser: Debian's Chromium through Playwright, in a phone viewport, against the
portal served over HTTP on loopback and the test MariaDB.

Sign in with mobile + the code read from the outbox, bind 李明's offline policy, read the 4 digits,
upload the liveness video through the file-input fallback (the headless browser has no camera),
set the servicing password and see 已认证 in 个人中心. Screenshots go to test-output/e2e/."""
import os
import re

import pytest

from app.extensions import db
from app.models import Customer, IdentityVerification, SmsMessage
from app.services import codes
from tests.biometric import agree_in_browser
from tests.conftest import FACES
from tests.e2e.conftest import CHROMIUM, IPHONE_UA, screenshot
from tests.e2e.conftest import PHONE as PHONE_PROFILE

pytestmark = pytest.mark.e2e

CLIP = os.path.join(FACES, "short_hamilton_clip.mp4")
PHONE = dict(PHONE_PROFILE, user_agent=IPHONE_UA + " MicroMessenger/8.0")  # inside WeChat


def shot(page, name):
    screenshot(page, f"account-{name}")


def outbox_code(phone):
    db.session.commit()  # end our snapshot: the server wrote the message in its own session
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(phone)).filter_by(purpose="CODE") \
        .order_by(SmsMessage.id.desc()).first()
    return codes.development_code(message)  # the admin shows it masked


def test_sign_in_bind_video_password_and_see_verified(seeded, live_server, browser):
    from app.services import identity

    li = db.session.query(Customer).filter_by(customer_no="C0004").one()  # 李明: offline policy
    with open(os.path.join(FACES, "lin-manuel-miranda.png"), "rb") as handle:
        identity.attach_reference_photo(li.id, handle.read())
    name, id_number, mobile = li.name, li.id_number, li.mobile

    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(60_000)

    page.goto(live_server + "/my/")
    assert page.url.endswith("/my/signin?next=/my/?") or "/my/signin" in page.url
    page.fill("#mobile", mobile)
    page.click("#send-code")
    page.wait_for_selector("text=验证码已发送至")
    shot(page, "01-code-sent")
    page.fill("#code", outbox_code(mobile))
    page.click("#signin-btn")
    page.wait_for_url("**/my/")
    assert page.inner_text("#auth-status").strip() == "未认证"
    shot(page, "02-center-unverified")

    page.click("#go-auth")  # 请认证
    page.fill("#name", name)
    page.select_option("#id_type", "RESIDENT_ID")
    page.fill("#id_number", id_number)
    assert page.input_value("#mobile") == mobile  # the signed-in number: no second code needed
    shot(page, "03-bind-form")
    page.click("#bind-btn")
    page.wait_for_selector("text=保单绑定成功")
    shot(page, "04-bound")

    page.click("#start-auth")  # 开始认证
    agree_in_browser(page)  # the biometric notice first
    page.wait_for_selector("text=请在安静且光线充足环境下,确保正脸对准屏幕框")
    shot(page, "05-face-intro")
    page.click("#next-btn")  # 下一步
    page.wait_for_url("**/my/face/record")
    digits = "".join(page.locator("#challenge-digits span").all_inner_texts())
    assert re.fullmatch(r"\d{4}", digits)
    shot(page, "06-digits")

    page.click("#ready-btn")  # 已记住,进入录制: no camera here, so the file input takes over
    page.wait_for_selector("#fallback", state="visible", timeout=15_000)
    page.set_input_files("#video-file", CLIP)
    page.wait_for_selector("#video-chosen", state="visible")
    shot(page, "07-video-chosen")
    page.click("#upload-btn")  # ✓ 确认上传
    page.wait_for_url("**/my/password", timeout=120_000)
    assert page.locator("text=人脸识别通过").count() == 1
    shot(page, "08-password")

    page.fill("#password", "731950")
    page.fill("#repeated", "731590")
    page.click("#password-btn")
    page.wait_for_selector("text=两次输入的密码不一致")
    page.fill("#password", "731950")
    page.fill("#repeated", "731950")
    page.click("#password-btn")
    page.wait_for_url("**/my/")
    assert page.inner_text("#auth-status").strip() == "已认证"
    assert page.locator("text=880000002000001").count() == 1
    shot(page, "09-center-verified")

    db.session.commit()
    li = db.session.get(Customer, li.id)
    assert li.auth_status == "VERIFIED" and li.servicing_password_hash
    video = db.session.query(IdentityVerification).filter_by(customer_id=li.id, kind="VIDEO").one()
    assert video.status == "PASSED" and video.challenge_digits == digits
    context.close()


def clip_as_y4m(target):
    """Chromium's fake camera plays a Y4M file: the clip's frames as I420, for the MediaRecorder path."""
    import cv2

    capture = cv2.VideoCapture(CLIP)
    fps = round(capture.get(cv2.CAP_PROP_FPS)) or 25
    with open(target, "wb") as out:
        header_written = False
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            height, width = frame.shape[:2]
            if not header_written:
                out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
                header_written = True
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    capture.release()
    return target


def test_recording_in_the_browser_with_media_recorder(seeded, live_server, tmp_path):
    """The camera path: getUserMedia + MediaRecorder record the customer (Chromium's fake camera
    playing the clip), ✓ uploads the recording, and the server's liveness check decides."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    from app.services import identity

    camera = clip_as_y4m(str(tmp_path / "camera.y4m"))
    li = db.session.query(Customer).filter_by(customer_no="C0004").one()
    with open(os.path.join(FACES, "lin-manuel-miranda.png"), "rb") as handle:
        identity.attach_reference_photo(li.id, handle.read())
    name, id_number, mobile, customer_id = li.name, li.id_number, li.mobile, li.id
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  f"--use-file-for-fake-video-capture={camera}"])
        context = browser.new_context(**PHONE)
        context.grant_permissions(["camera", "microphone"], origin=live_server)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(live_server + "/my/signin")
        page.fill("#mobile", mobile)
        page.click("#send-code")
        page.wait_for_selector("text=验证码已发送至")
        page.fill("#code", outbox_code(mobile))
        page.click("#signin-btn")
        page.wait_for_url("**/my/")
        page.goto(live_server + "/my/auth")
        page.fill("#name", name)
        page.fill("#id_number", id_number)
        page.click("#bind-btn")
        page.click("#start-auth")
        agree_in_browser(page)
        page.click("#next-btn")
        page.wait_for_url("**/my/face/record")
        page.click("#ready-btn")
        page.wait_for_selector("#step-camera", state="visible")
        assert page.locator("#fallback").is_hidden()
        page.click("#rec-btn")
        page.wait_for_selector("text=录制中 6 秒", timeout=15_000)  # the text account/base.html gives account.js
        shot(page, "10-recording")
        page.click("#stop-btn")
        page.wait_for_selector("#confirm-btn", state="visible")
        shot(page, "11-confirm")
        page.click("#confirm-btn")  # ✓
        page.wait_for_url(re.compile(r".*/my/(password|face/\d+)$"), timeout=120_000)
        shot(page, "12-after-upload")
        db.session.commit()
        video = db.session.query(IdentityVerification).filter_by(customer_id=customer_id, kind="VIDEO").one()
        assert video.evidence_path.endswith(".webm")  # what MediaRecorder made, checked by content
        assert video.status in ("PASSED", "FAILED"), video.details  # a readable recording, judged
        if video.status == "PASSED":
            assert page.url.endswith("/my/password")
        else:
            assert page.locator("text=人脸识别未通过").count() == 1
        browser.close()
