"""The steps the customer's servicing pages share in the browser tests (annuity, beneficiary, loan):
the code limits lifted, the codes read from the outbox, 马妍 signing in on the phone with the code."""
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import SmsMessage
from tests.e2e.conftest import PHONE
from tests.views.test_loan_pages import MA_YAN_MOBILE


@pytest.fixture(autouse=True)
def codes_and_limits(app, monkeypatch):
    """The sign-in code and the servicing code fall in the same minute (the per-mobile limit is 1 a minute).
    A test module imports it by name to have it."""
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)


def last_sms_id():
    db.session.commit()
    return db.session.query(db.func.coalesce(db.func.max(SmsMessage.id), 0)).scalar()


def code_after(after_id, phone=MA_YAN_MOBILE):
    """The code of the SMS the server sent to `phone` after message `after_id` (the server committed it)."""
    db.session.commit()  # end our snapshot
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(phone), SmsMessage.purpose == "CODE",
                                                  SmsMessage.id > after_id) \
        .order_by(SmsMessage.id.desc()).first()
    assert message is not None, "no new code in the outbox"
    shown = re.search(r"验证码为(\d{6})", message.content)
    if shown:
        return shown.group(1)
    from app.services import codes  # the stored text masks the code: the development outbox has it

    return codes.development_code(message)


def customer_signs_in(browser, base):
    """马妍 (已认证) signs in on a phone with the code from the outbox: (her browser context, the page)."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(base + "/my/signin")
    before = last_sms_id()
    page.fill("#mobile", MA_YAN_MOBILE)
    page.click("#send-code")
    page.wait_for_selector("text=验证码已发送至")
    page.fill("#code", code_after(before))
    page.click("#signin-btn")
    page.wait_for_url("**/my/")
    expect(page.locator("#auth-status")).to_have_text("已认证")
    return context, page
