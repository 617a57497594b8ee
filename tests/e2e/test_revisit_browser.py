"""The customer's e-revisit in a real browser: Debian's Chromium through Playwright, in a phone
viewport, against the portal served over HTTP on loopback and the test MariaDB.

From the SMS link (read from the outbox) through the selfie upload (a real photo, compared by
face_recognition) and the questionnaire to the seed's success and closing texts. Screenshots go
to test-output/e2e/ (git-ignored)."""
import os
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import RevisitTask, SmsMessage
from tests.biometric import agree_in_browser
from tests.conftest import FACES
from tests.e2e.conftest import PHONE, screenshot, serve

pytestmark = pytest.mark.e2e

SUCCESS_TEXT = "问卷提交成功,您的回访已经成功啦,非常感谢您的支持与配合"
CLOSING_TEXT = "感谢您的支持与信任,如日后您有任何保险相关的服务需求,请致电10109520,愿爱心带给您最温暖的感受,再见!"


@pytest.fixture
def worker_server(servers, app):
    """The app served over HTTP with its face checks on a real worker, so the page polls as in production."""
    from tests.workers import worker_app

    with worker_app(app, servers) as live:
        url, stop = serve(live)
        yield url
        stop()


@pytest.fixture
def invited_zhang(seeded):
    """张德强's two new policies invited by SMS; his reference photo is obama.jpg."""
    from app.models import Customer
    from app.services import identity, revisit

    revisit.issue_invitations()
    zhang = db.session.query(Customer).filter_by(customer_no="C0001").one()
    with open(os.path.join(FACES, "obama.jpg"), "rb") as handle:
        identity.attach_reference_photo(zhang.id, handle.read())
    db.session.commit()
    sms = db.session.query(SmsMessage).filter_by(customer_id=zhang.id, purpose="EREVISIT").one()
    return zhang, sms.content


def _shot(page, name):
    screenshot(page, name.removesuffix(".png"))


def _answer_all_yes(page):
    for radio in page.locator('input[type="radio"][value="yes"]').all():
        radio.check()


def test_phone_revisit_from_sms_link_to_closing_words(live_server, browser, invited_zhang):
    zhang, sms_text = invited_zhang
    path = re.search(r"/s/[A-Za-z0-9_-]+", sms_text).group(0)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(30000)

    page.goto(live_server + path)
    expect(page.get_by_text("同意并继续")).to_be_visible()  # the biometric notice comes first
    _shot(page, "00-biometric-notice.png")
    agree_in_browser(page)
    expect(page.get_by_text("请在 3G/4G/WiFi 环境下使用")).to_be_visible()
    expect(page.get_by_text("开始验证")).to_be_visible()
    expect(page.get_by_text("退出验证")).to_be_visible()
    _shot(page, "01-face.png")

    # the camera's photo: choosing it submits the form (h5.js), then the check runs
    with page.expect_navigation():
        page.set_input_files("#photo", os.path.join(FACES, "obama2.jpg"))
    page.wait_for_url(re.compile(r"/list$"))
    expect(page.get_by_text("身份验证通过")).to_be_visible()
    cards = page.locator(".policy-card")
    expect(cards).to_have_count(2)
    for words in ("880000001522216", "880000001522217", "投保人姓名", "被保险人姓名", "承保日期", "保单有效"):
        expect(page.get_by_text(words).first).to_be_visible()
    _shot(page, "02-list.png")

    for round_ in (1, 2):
        page.locator(".policy-card").first.get_by_text("开始在线回访").click()
        page.wait_for_url(re.compile(r"/task/\d+$"))
        if round_ == 1:
            # the server refuses an incomplete questionnaire and keeps what was chosen
            page.locator('input[type="radio"][value="yes"]').first.check()
            page.evaluate("document.querySelectorAll('input[type=radio]').forEach(r => r.required = false)")
            page.get_by_role("button", name="提交问卷").click()
            expect(page.get_by_text("请回答全部问题后再提交。")).to_be_visible()
            expect(page.locator('input[type="radio"][value="yes"]').first).to_be_checked()
            _shot(page, "03-questionnaire-incomplete.png")
        _answer_all_yes(page)
        _shot(page, f"04-questionnaire-{round_}.png")
        page.get_by_role("button", name="提交问卷").click()
        expect(page.get_by_text(SUCCESS_TEXT)).to_be_visible()
        _shot(page, f"05-success-{round_}.png")
        page.get_by_text("好的").click()
        if round_ == 1:
            page.wait_for_url(re.compile(r"/list$"))
            expect(page.locator(".policy-card")).to_have_count(1)
    expect(page.get_by_text(CLOSING_TEXT)).to_be_visible()
    _shot(page, "06-closing.png")
    context.close()

    db.session.rollback()  # the server thread committed in its own session: end our snapshot
    statuses = {t.status for t in db.session.query(RevisitTask).filter(RevisitTask.link_id.isnot(None))
                .join(RevisitTask.policy).filter_by(holder_id=zhang.id)}
    assert statuses == {"SUCCESS"}


def test_expired_and_wrong_links_on_a_phone(live_server, browser, invited_zhang):
    from datetime import timedelta

    import time_machine

    from app.models import RevisitLink

    zhang, sms_text = invited_zhang
    link = db.session.query(RevisitLink).filter_by(customer_id=zhang.id).one()
    context = browser.new_context(**PHONE)
    page = context.new_page()
    response = page.goto(live_server + "/s/notarealcode0000")
    assert response.status == 404
    expect(page.get_by_text("链接无效").first).to_be_visible()
    _shot(page, "07-invalid.png")
    with time_machine.travel(link.expires_at + timedelta(hours=1), tick=True):
        page.goto(live_server + "/s/" + link.code)
        expect(page.get_by_text("10109520").first).to_be_visible()
        _shot(page, "08-expired.png")
    context.close()


def test_face_check_runs_in_a_worker_while_the_phone_polls(worker_server, browser, invited_zhang):
    zhang, sms_text = invited_zhang
    path = re.search(r"/s/[A-Za-z0-9_-]+", sms_text).group(0)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(60000)
    polls = []
    page.on("request", lambda request: polls.append(request.url) if request.url.endswith("/status") else None)
    page.goto(worker_server + path)
    agree_in_browser(page)

    # someone else's face: the worker says no, the page tells why and offers another try
    with page.expect_navigation():
        page.set_input_files("#photo", os.path.join(FACES, "biden.jpg"))
    _shot(page, "11-progress.png")
    page.wait_for_selector("#face-error")
    expect(page.locator("#face-error")).to_contain_text("人脸比对未通过")
    expect(page.get_by_text("开始验证")).to_be_visible()
    _shot(page, "12-face-mismatch.png")

    with page.expect_navigation():
        page.set_input_files("#photo", os.path.join(FACES, "obama2.jpg"))
    page.wait_for_url(re.compile(r"/list$"))
    expect(page.get_by_text("身份验证通过")).to_be_visible()
    expect(page.locator(".policy-card")).to_have_count(2)
    assert polls, "the progress page never polled the status"
    context.close()
