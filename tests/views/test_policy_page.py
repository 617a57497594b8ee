"""保单详情 (/my/policy/<id>, issue 13 item 10): the policy as the customer reads it: cash value and its day,
payment and the next due day, the annuity method, the beneficiaries (names masked), the loans, and the
保全项目 the policy can take, linking to their first pages; every code by its Chinese name. Another
customer's policy is not found."""
from datetime import date, timedelta
from decimal import Decimal

from app.extensions import db
from app.models import Policy
from app.models.servicing import PolicyLoan
from app.services import clock
from tests.views.test_account import _session_celery, customer, page, sign_in  # noqa: F401
from tests.views.test_readable_pages import visible_text

MA_YAN_MOBILE = "13601360003"
RAW = ("None", "True", "False", "REGULAR", "SINGLE", "YEARLY", "ACCUMULATE", "DEATH", "SURVIVAL", "SPOUSE",
       "IN_FORCE", "ACTIVE", "马配偶")


def policy(no):
    db.session.commit()
    return db.session.query(Policy).filter_by(policy_no=no).one()


def verified(no):
    row = customer(no)
    row.auth_status = "VERIFIED"
    db.session.commit()
    return row


def text_of(client, policy_id):
    response = client.get(f"/my/policy/{policy_id}")
    assert response.status_code == 200
    html = page(response)
    text = visible_text(html)
    for raw in RAW:
        assert raw not in text, raw
    return html, text


def test_the_annuity_policy_page_shows_its_figures(seeded, client):
    verified("C0003")
    annuity = policy("880007656378888")  # 爱鑫宝年金, 期交 10 years yearly, cash value 85% of the premium
    annuity.annuity_method_from = date(2027, 11, 29)
    db.session.commit()
    sign_in(client, MA_YAN_MOBILE)
    html, text = text_of(client, annuity.id)
    assert "爱心人寿爱鑫宝年金保险" in text and "880007656378888" in text and "保单有效" in text
    assert "现金价值 17,000.00 元" in text and f"现金价值计算日 {clock.today().isoformat()}" in text
    assert "缴费方式 期交 · 年交 · 10年" in text
    assert f"缴费状态 待缴费,下次缴费日 {annuity.next_due_date.isoformat()}" in text
    assert "年金领取方式 累积生息(自 2027-11-29 起)" in text
    # the demo's lists: death 马配偶 (masked), survival the insured 马妍 (masked)
    assert "身故受益人 姓名 马** 与被保险人关系 配偶 受益顺序 第一顺序 受益比例 100.00%" in text
    assert "生存受益人 姓名 马* 与被保险人关系 本人 受益顺序 第一顺序 受益比例 100.00%" in text
    assert "暂无未清偿的保单贷款" in text
    assert 'href="/my/loan"' in html and 'href="/my/beneficiary"' in html and 'href="/my/annuity"' in html
    assert 'href="/my/repay"' not in html  # no loan to repay


def test_a_policy_with_a_loan_shows_it_and_offers_repayment(seeded, client):
    verified("C0003")
    universal = policy("860007775808888")  # 年年丰盈万能, 趸交, cash value 42,500.00
    today = clock.today()
    db.session.add(PolicyLoan(policy_id=universal.id, principal=Decimal("10000.00"), stamp_duty=Decimal("0"),
                              credited_amount=Decimal("10000.00"), annual_rate=Decimal("0.050000"),
                              outstanding_principal=Decimal("8000.00"), status="ACTIVE",
                              disbursed_on=today - timedelta(days=30), due_on=date(2099, 1, 31)))
    db.session.commit()
    sign_in(client, MA_YAN_MOBILE)
    html, text = text_of(client, universal.id)
    assert "缴费方式 趸交" in text and "缴费状态 已缴清" in text
    assert "年金领取方式" not in text  # not an annuity
    assert "贷款状态 未清偿 未还本金 8,000.00 元" in text and "到期日 2099-01-31" in text
    assert "截至今日利息" in text
    assert 'href="/my/repay"' in html and "保单还款" in text
    assert 'href="/my/annuity"' not in html


def test_a_term_policy_offers_no_loan(seeded, client):
    verified("C0003")
    term = policy("860006373328888")  # 守护神定期寿险: no policy loans
    sign_in(client, MA_YAN_MOBILE)
    html, text = text_of(client, term.id)
    assert 'href="/my/loan"' not in html and 'href="/my/beneficiary"' in html


def test_before_authentication_the_items_ask_for_it_first(seeded, client):
    annuity = policy("880007656378888")
    sign_in(client, MA_YAN_MOBILE)  # 马妍, official account, not yet 已认证
    html, text = text_of(client, annuity.id)
    assert 'href="/my/service/POLICY_LOAN"' in html and 'href="/my/loan"' not in html


def test_customer_b_swapping_ids_gets_not_found(seeded, client):
    verified("C0001")
    hers = policy("880007656378888")
    sign_in(client, "13800138001")  # 张德强
    response = client.get(f"/my/policy/{hers.id}")
    assert response.status_code == 404
    assert "880007656378888" not in page(response) and "马" not in visible_text(page(response))
    assert client.get("/my/policy/999999").status_code == 404
