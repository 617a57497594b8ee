"""年金领取方式变更 in a real browser (issue 12 point 1): Debian's Chromium through Playwright on a phone
viewport, against the portal served over HTTP on loopback and the test MariaDB.

马妍 (已认证, set up as tests/views/test_loan_pages.py does) signs in with the code from the outbox, opens
个人中心 → 保全项目 → 年金领取方式变更, picks 爱鑫宝年金保险 (880007656378888, 累积生息), chooses 转入万能账户 (her
年年丰盈 universal policy 860007775808888 receives it), taps 获取验证码, types the code from the outbox, taps
确认 and sees 本次业务受理成功 with the date the new method applies from. Screenshots go to
test-output/e2e/annuity-*.png."""
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Policy, ServicingApplication
from app.services import annuity, clock
from tests.e2e.conftest import screenshot
from tests.e2e.steps import codes_and_limits  # noqa: F401 (the autouse fixture)
from tests.e2e.steps import code_after, customer_signs_in, last_sms_id
from tests.views.test_loan_pages import ready

pytestmark = pytest.mark.e2e

ANNUITY_POLICY, UNIVERSAL_POLICY = "880007656378888", "860007775808888"


def shot(page, name):
    screenshot(page, f"annuity-{name}")


def test_ma_yan_changes_her_annuity_method_with_the_code(seeded, live_server, browser):
    ready("C0003")
    policy = db.session.query(Policy).filter_by(policy_no=ANNUITY_POLICY).one()
    expected = annuity.next_payment_date(policy, clock.today())

    context, phone = customer_signs_in(browser, live_server)
    shot(phone, "01-center")

    phone.get_by_role("link", name=re.compile("年金领取方式变更")).click()  # 保全项目 → 年金领取方式变更
    card = phone.locator(f'[data-annuity-policy="{ANNUITY_POLICY}"]')
    expect(card).to_contain_text("爱心人寿爱鑫宝年金保险")
    expect(card).to_contain_text("累积生息")
    shot(phone, "02-list")
    card.click()
    phone.wait_for_url(re.compile(r"/my/annuity/\d+$"))
    expect(phone.locator("#current-method")).to_have_text("累积生息")
    expect(phone.locator("#reserved-mobile")).to_have_text("136****0003")
    expect(phone.locator("#effective-note")).to_contain_text(expected.isoformat())
    phone.locator("#choice-TO_UNIVERSAL").click()  # 转入万能账户
    expect(phone.locator("#method-TO_UNIVERSAL")).to_be_checked()
    expect(phone.locator("#choice-TO_UNIVERSAL")).to_contain_text(UNIVERSAL_POLICY)
    shot(phone, "03-chosen")

    before = last_sms_id()
    phone.click("#send-code")  # 获取验证码: the choice is kept
    phone.wait_for_selector("text=验证码已发送至 136****0003")
    expect(phone.locator("#method-TO_UNIVERSAL")).to_be_checked()
    phone.fill("#code", code_after(before))
    shot(phone, "04-code")
    phone.click("#annuity-submit")  # 确认
    expect(phone.locator("#message-text")).to_contain_text("本次业务受理成功")
    expect(phone.locator("#message-text")).to_contain_text(f"转入万能账户(账户 {UNIVERSAL_POLICY})")
    expect(phone.locator("#message-text")).to_contain_text(expected.isoformat())
    shot(phone, "05-done")

    db.session.commit()
    [application] = db.session.query(ServicingApplication).filter_by(kind="ANNUITY_METHOD").all()
    db.session.refresh(policy)
    assert application.status == "COMPLETED" and application.decided_by_system
    assert (policy.annuity_method, policy.annuity_method_from, policy.universal_account_no) == \
        ("TO_UNIVERSAL", expected, UNIVERSAL_POLICY)
    phone.goto(live_server + "/my/annuity")
    expect(phone.locator(f'[data-annuity-policy="{ANNUITY_POLICY}"]')).to_contain_text("转入万能账户")
    shot(phone, "06-list-after")
    context.close()
