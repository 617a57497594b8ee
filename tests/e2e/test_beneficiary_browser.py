"""受益人变更 in a real browser (issue 12): Debian's Chromium through Playwright on a phone viewport, against
the portal served over HTTP on loopback and the test MariaDB.

马妍 (已认证, as tests/views/test_loan_pages.py sets her up) signs in with the code from the outbox, opens
个人中心 → 受益人变更, chooses two of her three policies, edits the pre-filled death beneficiary into 王一
(the birth date and gender filled from the ID number by the page), adds 王二 with "+", tries 平均分配
(50/50), sets 60/40, 提交, gets the code, YES → 本次业务受理成功; both policies hold the new list. Screenshots
go to test-output/e2e/beneficiary-*.png.
"""
from datetime import date

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Policy
from app.services.validation import make_resident_id
from tests.e2e.conftest import screenshot
from tests.e2e.steps import codes_and_limits  # noqa: F401 (the autouse fixture)
from tests.e2e.steps import code_after, customer_signs_in, last_sms_id
from tests.views.test_loan_pages import ready

pytestmark = pytest.mark.e2e

CHOSEN = ("860007775808888", "860006373328888")
LEFT_ALONE = "880007656378888"
WANG_YI_ID = make_resident_id("110101", date(1985, 3, 1), 23)  # male
WANG_ER_ID = make_resident_id("110101", date(2010, 6, 1), 22)  # female


def death_list(policy_no):
    db.session.commit()
    db.session.expire_all()
    found = db.session.query(Policy).filter_by(policy_no=policy_no).one()
    return sorted((b.name, f"{b.share:.2f}") for b in found.current_beneficiaries("DEATH"))


def test_two_policies_death_beneficiaries_to_two_people_at_60_40(seeded, live_server, browser):
    ready("C0003")
    context, phone = customer_signs_in(browser, live_server)

    # 保全项目 → 受益人变更: 请选择同时变更的保单
    phone.locator(".items a.item", has_text="受益人变更").click()
    expect(phone.get_by_text("请选择同时变更的保单")).to_be_visible()
    expect(phone.locator("#choose-all")).to_be_hidden()  # 全选 is the checkbox with JavaScript
    phone.check("#select-all")
    expect(phone.locator("[data-policy-choice]:checked")).to_have_count(3)
    phone.uncheck("#select-all")
    for number in CHOSEN:
        phone.locator(f'[data-beneficiary-policy="{number}"] [data-policy-choice]').check()
    screenshot(phone, "beneficiary-01-choose")
    phone.click("#choose-next")

    # the tabs, the current list pre-filled
    expect(phone.locator('[data-tab="DEATH"]')).to_be_visible()
    expect(phone.locator('[data-tab="SURVIVAL"]')).to_be_visible()  # both products allow it
    expect(phone.locator('[name="death-0-name"]')).to_have_value("马配偶")
    phone.click('[data-tab="SURVIVAL"]')
    expect(phone.locator('[name="survival-0-name"]')).to_have_value("马妍")
    expect(phone.locator('[name="death-0-name"]')).to_be_hidden()
    phone.click('[data-tab="DEATH"]')

    phone.fill('[name="death-0-name"]', "王一")
    phone.fill('[name="death-0-id_number"]', WANG_YI_ID)
    expect(phone.locator('[name="death-0-birth_date"]')).to_have_value("1985-03-01")  # from the ID
    expect(phone.locator('[name="death-0-gender"]')).to_have_value("M")
    phone.select_option('[name="death-0-relationship"]', "SPOUSE")

    phone.click('[data-add="DEATH"]')  # "+": a new row in the page
    expect(phone.locator('[data-rows="DEATH"] [data-row]')).to_have_count(2)
    phone.fill('[name="death-1-name"]', "王二")
    phone.fill('[name="death-1-id_number"]', WANG_ER_ID)
    expect(phone.locator('[name="death-1-gender"]')).to_have_value("F")
    phone.select_option('[name="death-1-relationship"]', "CHILD")
    phone.check('[name="death-1-long_term"]')
    phone.click('[data-split="DEATH"]')  # 平均分配
    expect(phone.locator('[name="death-0-share"]')).to_have_value("50.00")
    expect(phone.locator('[name="death-1-share"]')).to_have_value("50.00")
    phone.fill('[name="death-0-share"]', "60")
    phone.fill('[name="death-1-share"]', "40")
    screenshot(phone, "beneficiary-02-edit")
    phone.click("#beneficiary-submit")

    # 确认不再添加其他受益人 → the code → YES
    expect(phone.get_by_text("确认不再添加其他受益人?")).to_be_visible()
    expect(phone.locator("[data-preview-row]").first).to_contain_text("第一顺序 王一(配偶) 60.00%")
    before = last_sms_id()
    phone.click("#send-code")
    expect(phone.locator("#code-notice")).to_contain_text("验证码已发送至")
    phone.fill("#code", code_after(before))
    screenshot(phone, "beneficiary-03-confirm")
    phone.click("#beneficiary-yes")
    expect(phone.get_by_role("heading", name="本次业务受理成功")).to_be_visible()
    screenshot(phone, "beneficiary-04-done")
    context.close()

    for number in CHOSEN:
        assert death_list(number) == [("王一", "60.00"), ("王二", "40.00")]
    assert death_list(LEFT_ALONE) == [("马配偶", "100.00")]
