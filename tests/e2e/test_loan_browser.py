"""保单贷款 and 保单还款 in a real browser (issue 11): Debian's Chromium through Playwright, the customer
on a phone viewport and the operator on a desktop one, against the portal served over HTTP on loopback
and the test MariaDB.

马妍 (已认证, set up as tests/views/test_loan_pages.py does: authentication is not what is under test)
signs in with the code from the outbox, opens 个人中心 → 保全项目 → 保单贷款, picks 860007775808888, borrows
12000 (印花税 0.60, 实际入账金额 11999.40) to her own debit card with both sides of the ID card (the front a
real face photo), no face check (12000 is under LOAN_FACE_AMOUNT), her servicing password and the code →
保全申请操作完毕. 12000 is above STP_MAX_AMOUNT, so `operator` approves it in 保全审核 and records the money's
arrival in 放款登记. 31 days later (time-machine, ticking) she repays 5000 with a code; the operator records
the payment on the loan's ledger page (PAID); she sees the principal reduced by 5000 minus the interest
(interest first) and 我的申请 with the steps and their times. Screenshots go to test-output/e2e/loan-*.png.
"""
import os
import re
import time
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
import time_machine
from playwright.sync_api import expect

from app.extensions import db
from app.models import ServicingApplication
from app.models.servicing import PolicyLoan
from app.services import clock
from tests.conftest import FACES
from tests.conftest import PASSWORD as STAFF_PASSWORD
from tests.e2e.conftest import screenshot
from tests.e2e.steps import codes_and_limits  # noqa: F401 (the autouse fixture)
from tests.e2e.steps import code_after, customer_signs_in, last_sms_id
from tests.views.test_loan_pages import CARD, MA_YAN, PASSWORD, ready

pytestmark = pytest.mark.e2e

DESKTOP = dict(viewport={"width": 1440, "height": 900}, locale="zh-CN")
PRODUCT = "爱心人寿年年丰盈终身寿险"
BAD_LUHN = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)  # one digit off: the check digit fails


def shot(page, name):
    screenshot(page, f"loan-{name}")


def money(value):
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def figure(page, selector):
    """A money figure as the page shows it ("11999.40 元") as a Decimal."""
    return Decimal(re.search(r"-?\d+\.\d{2}", page.inner_text(selector)).group(0))


def id_card_back(path):
    """The 国徽面 of an ID card: an image without a face (the server checks the back is an image)."""
    from PIL import Image, ImageDraw

    card = Image.new("RGB", (856, 540), (236, 240, 232))
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle((8, 8, 848, 532), radius=28, outline=(150, 170, 160), width=4)
    draw.ellipse((70, 60, 230, 220), fill=(200, 30, 40))  # the emblem's place
    draw.regular_polygon((150, 140, 45), 5, fill=(250, 210, 60))
    for y in (300, 360, 420, 470):
        draw.rectangle((300, y, 780, y + 22), fill=(60, 60, 60))
    card.save(path, "PNG")
    return path


def operator_signs_in(browser, base):
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(base + "/login/")
    page.fill("#username", "operator")
    page.fill("#password", STAFF_PASSWORD)
    page.locator("form [type=submit]").first.click()
    page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def open_menu(page, category, item):
    page.locator(".navbar .dropdown-toggle", has_text=category).click()
    page.locator(".navbar li.dropdown.open .dropdown-menu a", has_text=item).click()


def test_borrow_12000_approve_disburse_and_repay_part_31_days_later(seeded, live_server, browser, tmp_path):
    ready("C0003")  # 已认证 with servicing password PASSWORD
    front = os.path.join(FACES, "rose_leslie.jpg")  # the 人像面 shows a face
    back = id_card_back(str(tmp_path / "id-back.png"))

    # --- 马妍 borrows 12000 on her phone ------------------------------------------------------------
    customer, phone = customer_signs_in(browser, live_server)
    shot(phone, "01-center")
    phone.locator(".items a.item", has_text="保单贷款").click()  # 保全项目 → 保单贷款
    expect(phone.get_by_text("列表显示目前可操作“保单贷款”的保单清单")).to_be_visible()
    card = phone.locator(f'[data-loan-policy="{MA_YAN}"]')
    expect(card).to_contain_text(PRODUCT)
    expect(phone.locator('[data-loan-refused="860006373328888"]')).to_contain_text("不提供保单贷款")
    shot(phone, "02-loan-list")
    card.click()
    phone.wait_for_url(re.compile(r"/my/loan/\d+$"))
    loan_url = phone.url
    expect(phone.locator("#loan-figures")).to_contain_text(MA_YAN)
    loanable = figure(phone, "#loanable")
    rate = Decimal(re.search(r"(\d+\.\d{2})%", phone.inner_text("#rate")).group(1)) / 100
    assert loanable >= Decimal("12000"), loanable

    phone.fill("#amount", "12000")
    phone.click("#preview-btn")  # 计算印花税和实际入账金额
    expect(phone.locator("#stamp-duty")).to_have_text("0.60 元")
    expect(phone.locator("#credited")).to_have_text("11999.40 元")
    expect(phone.locator("#loan-preview")).to_contain_text("12000.00 元")
    shot(phone, "03-figures")

    phone.select_option("#bank", "CCB")
    expect(phone.locator("#bank option:checked")).to_have_text("中国建设银行")
    phone.fill("#card_no", BAD_LUHN)
    phone.fill("#account_name", "马妍")
    phone.locator("#agreement summary").click()  # 《保单贷款协议》 shown, then agreed
    expect(phone.locator("#agreement")).to_contain_text("自贷款金到账开始计息")
    phone.check("#agreed")
    expect(phone.locator("#face-note")).to_contain_text("大额资金交易,须进行人脸识别(贷款金额超过20000元)")
    before = last_sms_id()
    phone.click("#send-code")  # 获取验证码 keeps what was typed
    expect(phone.locator("body")).to_contain_text("验证码已发送至")
    expect(phone.locator("#amount")).to_have_value("12000")
    expect(phone.locator("#card_no")).to_have_value(BAD_LUHN)
    expect(phone.locator("#agreed")).to_be_checked()
    code = code_after(before)

    # a card number failing its check digit is refused, and the code is not spent
    phone.set_input_files("#id_front", front)
    phone.set_input_files("#id_back", back)
    phone.fill("#password", PASSWORD)
    phone.fill("#code", code)
    phone.click("#loan-submit")
    expect(phone.locator("#page-error")).to_have_text("银行卡号有误,请核对后重新输入")
    expect(phone.locator("#card_no")).to_have_value(BAD_LUHN)
    assert phone.locator("text=保全申请操作完毕").count() == 0
    shot(phone, "04-card-refused")

    phone.fill("#card_no", CARD)
    phone.set_input_files("#id_front", front)  # files and secrets are never rendered back
    phone.set_input_files("#id_back", back)
    phone.fill("#password", PASSWORD)
    phone.fill("#code", code)
    assert phone.locator("#face-passed").count() == 0  # 12000 ≤ 20000: no face check was made, none needed
    shot(phone, "05-form-filled")
    phone.click("#loan-submit")
    expect(phone.get_by_role("heading", name="保全申请操作完毕")).to_be_visible()
    accepted = phone.inner_text("#message-text")
    application_no = re.search(r"申请编号 ([A-Za-z0-9-]+)。", accepted).group(1)
    assert "自贷款金到账开始计息" in accepted
    shot(phone, "06-accepted")

    db.session.commit()
    loan_application = db.session.query(ServicingApplication).filter_by(application_no=application_no).one()
    assert loan_application.kind == "POLICY_LOAN" and len(loan_application.payload["id_images"]) == 2
    went_to_review = loan_application.status == "REVIEW"  # 12000 > STP_MAX_AMOUNT 10000
    assert went_to_review, loan_application.status
    # a second loan on the policy is refused while this one is being handled
    phone.goto(live_server + "/my/loan")
    expect(phone.locator(f'[data-loan-refused="{MA_YAN}"]')).to_contain_text(
        f"该保单有正在办理中的贷款或还款申请(申请号 {application_no})")
    phone.goto(live_server + "/my/")
    phone.locator("a.link-card", has=phone.locator(f'[data-application="{application_no}"]')).click()
    expect(phone.locator("#application-status")).to_have_text("人工审核中" if went_to_review else "审核通过")
    expect(phone.locator("#application-steps")).to_contain_text("已提交")
    shot(phone, "07-in-review")

    # --- the operator approves it and records the money's arrival -----------------------------------
    staff, desk = operator_signs_in(browser, live_server)
    open_menu(desk, "保全管理", "保全审核")
    desk.wait_for_url("**/review-queue/")
    row = desk.locator("#review-queue tr", has_text=application_no)
    expect(row).to_contain_text("马妍")
    expect(row).to_contain_text(MA_YAN)
    expect(row).to_contain_text("0/1 人已审核通过")
    shot(desk, "08-review-queue")
    row.get_by_role("link", name="审核").click()
    desk.wait_for_url(re.compile(r"/review-queue/\d+$"))
    expect(desk.locator("body")).to_contain_text("本次贷款金额 12000.00")
    expect(desk.locator("body")).to_contain_text("6217 **** **** " + CARD[-4:])
    assert CARD not in desk.content()
    expect(desk.locator("body")).to_contain_text("本申请无须人脸识别")
    expect(desk.locator("body")).to_contain_text("已上传身份证正反面")
    desk.fill("#approve-note", "身份证影像与账户核对无误")
    shot(desk, "09-application")
    desk.get_by_role("button", name="通过审核").click()
    expect(desk.locator("body")).to_contain_text("已审核通过。")

    open_menu(desk, "保全管理", "放款登记")
    desk.wait_for_url("**/loan-ledger/")
    waiting = desk.locator("#waiting tr", has_text=application_no)
    expect(waiting).to_contain_text("12000")
    arrived = clock.today()
    waiting.locator("input[type=date]").fill(arrived.isoformat())
    shot(desk, "10-waiting")
    waiting.get_by_role("button", name="登记放款到账").click()
    desk.wait_for_url(re.compile(r"/loan-ledger/\d+$"))
    ledger_url = desk.url
    expect(desk.locator("body")).to_contain_text("已登记放款到账,自到账日起计息。")
    loan_table = desk.locator("#loan")
    expect(loan_table).to_contain_text(application_no)
    expect(loan_table).to_contain_text(arrived.isoformat())
    expect(desk.locator("#outstanding")).to_have_text("12000.00")
    expect(desk.locator("#ledger")).to_contain_text("放款到账")
    shot(desk, "11-ledger-disbursed")
    staff.close()

    phone.goto(live_server + "/my/")
    steps = phone.locator(f'[data-application="{application_no}"]')
    for done in ("已提交", "人工审核中", "审核通过", "贷款已到账"):  # each with its time
        expect(steps.locator("li.done", has_text=done)).to_contain_text(re.compile(r"\d{2}-\d{2} \d{2}:\d{2}"))
    shot(phone, "12-center-disbursed")
    phone.goto(loan_url)  # the unpaid loan now counts against 可贷金额 (no interest yet on its first day)
    expect(phone.locator("#unpaid-principal")).to_have_text("12000.00 元")
    expect(phone.locator("#unpaid-interest")).to_have_text("0.00 元")
    expect(phone.locator("#loanable")).to_have_text(f"{loanable - 12000:.2f} 元")
    customer.close()

    # --- 31 days later: she repays 5000 -------------------------------------------------------------
    with time_machine.travel(time.time() + 31 * 86400, tick=True):
        later = clock.today()
        days = (later - arrived).days
        assert days in (31, 32)
        interest = money(Decimal("12000") * rate * days / 365)
        customer, phone = customer_signs_in(browser, live_server)
        phone.locator(".items a.item", has_text="保单还款").click()  # 保全项目 → 保单还款
        listed = phone.locator(f'[data-repay-policy="{MA_YAN}"]')
        expect(listed).to_contain_text("12000.00 元")
        expect(listed).to_contain_text(f"{12000 + interest:.2f} 元")
        shot(phone, "13-repay-list")
        listed.click()
        phone.wait_for_url(re.compile(r"/my/repay/\d+$"))
        expect(phone.locator("#principal")).to_have_text("12000.00 元")
        expect(phone.locator("#interest")).to_have_text(f"{interest:.2f} 元")
        expect(phone.locator("#total")).to_have_text(f"{12000 + interest:.2f} 元")
        shot(phone, "14-repay-page")

        phone.fill("#amount", "5000")
        phone.select_option("#bank", "CCB")
        phone.fill("#card_no", CARD)
        phone.fill("#account_name", "马妍")
        before = last_sms_id()
        phone.click("#send-code")
        expect(phone.locator("body")).to_contain_text("验证码已发送至")
        expect(phone.locator("#amount")).to_have_value("5000")
        phone.fill("#code", code_after(before))
        shot(phone, "15-repay-filled")
        phone.click("#repay-submit")
        expect(phone.get_by_role("heading", name="保全申请操作完毕")).to_be_visible()
        repay_no = re.search(r"申请编号 ([A-Za-z0-9-]+)。", phone.inner_text("#message-text")).group(1)
        expect(phone.locator("#message-text")).to_contain_text("还款结果以支付机构的扣款结果为准")
        shot(phone, "16-repay-accepted")
        # not in the ledger until the payment result comes
        phone.goto(live_server + "/my/repay")
        expect(phone.locator(f'[data-repay-policy="{MA_YAN}"]')).to_contain_text("12000.00 元")

        # the payment result (PAID) is recorded on the loan's page
        staff, desk = operator_signs_in(browser, live_server)
        desk.goto(ledger_url)
        expect(desk.locator("#owed")).to_have_text(f"{12000 + interest:.2f}")
        desk.fill("#repay-amount", "5000")
        desk.fill("#repay-paid-on", later.isoformat())
        desk.fill("#repay-ref", "PAY-E2E-" + repay_no)
        desk.fill("#repay-application", repay_no)
        shot(desk, "17-repayment-result")
        desk.get_by_role("button", name="登记还款").click()
        expect(desk.locator("body")).to_contain_text("已登记还款,先还利息后还本金。")
        principal_after = Decimal("12000") - (Decimal("5000") - interest)
        expect(desk.locator("#outstanding")).to_have_text(f"{principal_after:.2f}")
        expect(desk.locator("#ledger")).to_contain_text("还款")
        shot(desk, "18-ledger-repaid")
        staff.close()

        # she sees the new balance, and 我的申请 with the steps and their times
        phone.reload()
        listed = phone.locator(f'[data-repay-policy="{MA_YAN}"]')
        expect(listed).to_contain_text(f"{principal_after:.2f} 元")
        listed.click()
        expect(phone.locator("#principal")).to_have_text(f"{principal_after:.2f} 元")
        expect(phone.locator("#interest")).to_have_text("0.00 元")
        expect(phone.locator("#total")).to_have_text(f"{principal_after:.2f} 元")
        shot(phone, "19-new-balance")

        phone.goto(live_server + "/my/")
        repay_steps = phone.locator(f'[data-application="{repay_no}"]')
        expect(repay_steps).to_contain_text("已提交")
        expect(repay_steps).to_contain_text("还款已到账")
        loan_steps = phone.locator(f'[data-application="{application_no}"]')
        expect(loan_steps).to_contain_text("贷款已到账")
        shot(phone, "20-my-applications")
        phone.locator("a.link-card", has=phone.locator(f'[data-application="{repay_no}"]')).click()
        phone.wait_for_url(re.compile(r"/my/application/\d+$"))
        timed = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
        items = phone.locator("#application-steps li")
        texts = items.all_inner_texts()
        assert [t.split(" ")[0] for t in texts] == ["已提交", "审核通过", "还款已到账"], texts
        assert all(timed.search(t) for t in texts), texts
        assert all(later.isoformat() in t for t in texts), texts
        expect(phone.locator("#application-status")).to_have_text("已办结")
        shot(phone, "21-repayment-steps")
        customer.close()

    db.session.commit()
    loan = db.session.query(PolicyLoan).filter_by(application_id=loan_application.id).one()
    assert loan.outstanding_principal == principal_after and loan.disbursed_on == arrived
    assert loan.due_on is not None and loan.due_on > arrived + timedelta(days=150)
