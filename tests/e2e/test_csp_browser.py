"""The Content-Security-Policy blocks nothing the portal itself needs: Chromium reports no violation
on the staff pages or the customer pages, and their scripts still run (issue 9, hole 8)."""
import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import PHONE

pytestmark = pytest.mark.e2e

STAFF_PAGES = ["/", "/policyview/list/", "/customerview/list/", "/revisittaskview/list/", "/supervision/",
               "/revisit-dashboard/", "/users/userinfo/", "/resetmypassword/form", "/questionnaire-editor/",
               "/policy-import/", "/settingview/list/", "/smsmessageview/list/", "/auditeventview/list/"]
CUSTOMER_PAGES = ["/my/signin", "/s/NOSUCHCODE"]


def _watch(page):
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    return violations


def test_no_page_breaks_the_policy(seeded, live_server, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    violations = _watch(page)
    page.goto(f"{live_server}/login/")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    for path in STAFF_PAGES:
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state()
    # Flask-AppBuilder's own scripts ran: jQuery is there and the user menu opens
    assert page.evaluate("typeof window.jQuery") == "function"
    phone = browser.new_context(**PHONE).new_page()
    violations += _watch(phone)
    for path in CUSTOMER_PAGES:
        phone.goto(f"{live_server}{path}")
        phone.wait_for_load_state()
    assert violations == []
    context.close()
