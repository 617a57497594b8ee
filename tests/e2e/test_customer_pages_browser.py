"""Every customer page in a real browser at 390×844 (Debian's Chromium through Playwright), each one
written to test-output/customer-pages/ so that a reviewer can look at all of them at once (README).

On each page: "‹ 返回" in the top bar and the hotline as a tel: link. Along the way what issue 13 asks
of these pages: 第 x / n 份保单 and 第 x / n 题, answers kept over a reload, the finished link on day 5
saying 您的回访已完成, the expired link naming the policies left, 账户认证's steps and the face intro's
不再提示 remembered."""
import os
import re
from datetime import timedelta

import pytest
import time_machine
from playwright.sync_api import expect

from app.extensions import db
from app.models import Customer, RevisitLink, SmsMessage
from app.services import codes
from tests.biometric import agree_in_browser
from tests.conftest import FACES
from tests.e2e.conftest import PHONE, customer_screenshot

pytestmark = pytest.mark.e2e

HOTLINE = "10109520"
FINISHED = "您的回访已完成"


def _check(page, name):
    """The top bar's ‹ 返回 and a tel: hotline, then the screenshot."""
    back = page.locator("header.topbar #topbar-back")
    expect(back).to_have_text("‹ 返回")
    assert back.get_attribute("href").startswith("/")
    expect(page.locator(f'a[href="tel:{HOTLINE}"]').first).to_be_attached()
    customer_screenshot(page, name)


def _checked_names(page):
    return sorted(page.eval_on_selector_all('input[type="radio"]:checked', "els => els.map(e => e.name + '=' + e.value)"))


@pytest.fixture
def invited(seeded):
    """Every demo customer invited by SMS; 张德强's reference photo is obama.jpg."""
    from app.services import identity, revisit

    revisit.issue_invitations()
    zhang = db.session.query(Customer).filter_by(customer_no="C0001").one()
    with open(os.path.join(FACES, "obama.jpg"), "rb") as handle:
        identity.attach_reference_photo(zhang.id, handle.read())
    db.session.commit()
    return {c.customer_no: link for link, c in
            db.session.query(RevisitLink, Customer).join(Customer, RevisitLink.customer_id == Customer.id)}


def test_the_e_revisit_pages_on_a_phone(live_server, browser, invited):
    link = invited["C0001"]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(30000)

    page.goto(f"{live_server}/s/{link.code}")
    expect(page.get_by_text("同意并继续")).to_be_visible()  # the biometric notice before the first face check
    _check(page, "00-erevisit-biometric-notice")
    agree_in_browser(page)
    expect(page.get_by_text("开始验证")).to_be_visible()
    _check(page, "01-erevisit-face")
    with page.expect_navigation():
        page.set_input_files("#photo", os.path.join(FACES, "obama2.jpg"))
    page.wait_for_url(re.compile(r"/list$"))
    expect(page.get_by_text("第 1 / 2 份保单")).to_be_visible()
    expect(page.get_by_text("第 2 / 2 份保单")).to_be_visible()
    _check(page, "02-erevisit-policies")

    for round_ in (1, 2):
        page.locator(".policy-card").first.get_by_text("开始在线回访").click()
        page.wait_for_url(re.compile(r"/task/\d+$"))
        expect(page.locator("#policy-of")).to_have_text(f"第 {round_} / 2 份保单")
        radios = page.locator('input[type="radio"][value="yes"]')
        total = radios.count()
        expect(page.get_by_text(f"第 1 / {total} 题")).to_be_visible()
        expect(page.locator("#q-progress-text")).to_have_text(f"已回答 0 / {total} 题")
        if round_ == 1:
            # two answers, then a reload: the page shows them again (kept on the server)
            with page.expect_response(re.compile(r"/draft$")):
                radios.nth(0).check()
            with page.expect_response(re.compile(r"/draft$")):
                page.locator('input[type="radio"][value="no"]').nth(1).check()
            expect(page.locator("#q-progress-text")).to_have_text(f"已回答 2 / {total} 题")
            before = _checked_names(page)
            page.reload()
            assert _checked_names(page) == before and len(before) == 2
            expect(page.locator("#q-progress-text")).to_have_text(f"已回答 2 / {total} 题")
            _check(page, "03-erevisit-questionnaire-progress")
            # ‹ 返回 goes back to where the customer came from: the list
            page.locator("#topbar-back").click()
            page.wait_for_url(re.compile(r"/list$"))
            page.locator(".policy-card").first.get_by_text("开始在线回访").click()
            page.wait_for_url(re.compile(r"/task/\d+$"))
            assert len(_checked_names(page)) == 2
        for index in range(total):
            radios.nth(index).check()
        expect(page.locator("#q-progress-text")).to_have_text(f"已回答 {total} / {total} 题")
        page.get_by_role("button", name="提交问卷").click()
        expect(page.get_by_text("问卷提交成功,您的回访已经成功啦,非常感谢您的支持与配合")).to_be_visible()
        if round_ == 1:
            _check(page, "04-erevisit-done")
        page.get_by_text("好的").click()
    expect(page.get_by_text(FINISHED)).to_be_visible()
    _check(page, "05-erevisit-closing")

    # the same link on day 5: still finished, not "expired"
    with time_machine.travel(link.expires_at + timedelta(days=1, hours=2), tick=True):
        fresh = context.new_page()
        fresh.goto(f"{live_server}/s/{link.code}")
        expect(fresh.get_by_text(FINISHED)).to_be_visible()
        expect(fresh.get_by_text("已过期")).to_have_count(0)
        _check(fresh, "06-finished-link-day-5")

    # another customer's link after its window: it names the policies left
    other = invited["C0002"]
    with time_machine.travel(other.expires_at + timedelta(hours=1), tick=True):
        page.goto(f"{live_server}/s/{other.code}")
        expect(page.get_by_text("电子化回访链接已过期")).to_be_visible()
        assert page.locator("#remaining-policies li").count() >= 1
        _check(page, "07-expired-link")
    context.close()


def _outbox_code(phone):
    db.session.commit()  # end our snapshot: the server wrote the message in its own session
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(phone)).filter_by(purpose="CODE") \
        .order_by(SmsMessage.id.desc()).first()
    return codes.development_code(message)


def test_the_official_account_pages_on_a_phone(seeded, live_server, browser):
    li = db.session.query(Customer).filter_by(customer_no="C0004").one()  # 李明: offline policy
    name, id_number, mobile = li.name, li.id_number, li.mobile
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(30000)

    page.goto(live_server + "/my/signin")
    page.fill("#mobile", mobile)
    page.click("#send-code")
    page.wait_for_selector("text=验证码已发送至")
    _check(page, "08-my-signin")
    page.fill("#code", _outbox_code(mobile))
    page.click("#signin-btn")
    page.wait_for_load_state()
    page.goto(live_server + "/my/")
    expect(page.locator("#auth-status")).to_be_visible()
    _check(page, "09-my-center")

    page.goto(live_server + "/my/auth")
    expect(page.locator("#auth-steps li")).to_have_count(3)
    expect(page.locator("#auth-steps li.current")).to_contain_text("绑定")
    _check(page, "10-my-auth-steps")
    page.fill("#name", name)
    page.select_option("#id_type", "RESIDENT_ID")
    page.fill("#id_number", id_number)
    page.click("#bind-btn")
    page.wait_for_load_state()

    page.goto(live_server + "/my/face")
    expect(page.get_by_text("同意并继续")).to_be_visible()  # the biometric notice before the first face check
    _check(page, "10b-my-biometric-notice")
    agree_in_browser(page)
    expect(page.get_by_text("请在安静且光线充足环境下,确保正脸对准屏幕框")).to_be_visible()
    expect(page.locator("#auth-steps li.current")).to_contain_text("人脸识别")
    _check(page, "11-my-face-intro")
    page.check("#no-more-tips")  # 不再提示
    page.reload()
    expect(page.get_by_text("请在安静且光线充足环境下")).to_have_count(0)
    expect(page.locator("#next-btn")).to_be_visible()
    _check(page, "12-my-face-intro-skipped")

    # a failed liveness video (recorded here as the worker leaves it): the page says the tries left
    from app.models import IdentityVerification
    from app.services import clock

    failed = IdentityVerification(customer_id=li.id, kind="VIDEO", purpose="ACCOUNT_AUTH", status="FAILED",
                                  challenge_digits="1234", created_at=clock.now(), completed_at=clock.now(),
                                  details={"reasons": ["face_mismatch"]})
    db.session.add(failed)
    db.session.commit()
    page.goto(f"{live_server}/my/face/{failed.id}")
    expect(page.locator("#tries-left")).to_contain_text("今天还可尝试")
    _check(page, "13-my-face-failed")
    context.close()
