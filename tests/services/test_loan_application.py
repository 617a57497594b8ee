"""The customer's loan and repayment operation (services/loan_application.py): the account rules, the
credit-card rule, the rule trace's Chinese names and figures, and what 我的申请 shows."""
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Customer, Policy
from app.services import loan
from app.services import loan_application as service
from app.services.errors import DomainError

CARD = "6217000010111758507"


def ma_yan():
    return db.session.query(Customer).filter_by(customer_no="C0003").one()


def test_the_account_must_be_a_listed_bank_a_luhn_card_and_the_holders_own_name(seeded):
    holder = ma_yan()
    stored = service.check_account(holder, "CCB", "6217 0000 1011 1758 507", "马 妍")
    assert stored == {"bank": "CCB", "bank_name": "中国建设银行", "card_masked": "6217 **** **** 8507",
                      "card_last4": "8507", "account_name": "马妍"}
    for bank, card, name, key in [("XYZ", CARD, "马妍", "servicing_bank_unknown"),
                                  ("CCB", "621700001011175", "马妍", "servicing_card_length"),
                                  ("CCB", "6217000010111758500", "马妍", "servicing_card_invalid"),
                                  ("CCB", "６２１７０００01011175850７", "李明", "servicing_account_not_own")]:
        with pytest.raises(DomainError) as refused:
            service.check_account(holder, bank, card, name)
        assert refused.value.key == key


@pytest.mark.parametrize("card, credit", [
    ("4111111111111111", True), ("5555555555554444", True), ("6250941006528599", True), (CARD, False)])
def test_a_credit_card_is_refused_only_as_the_paying_account(seeded, card, credit):
    assert service.is_credit_card(card) is credit
    if credit:
        service.check_account(ma_yan(), "CMB", card, "马妍")  # receiving a loan: allowed
        with pytest.raises(DomainError) as refused:
            service.check_account(ma_yan(), "CMB", card, "马妍", refuse_credit=True)
        assert refused.value.key == "servicing_credit_card"


def test_the_rule_trace_names_each_check_in_chinese_with_its_figures(seeded):
    policy = db.session.query(Policy).filter_by(policy_no="860007775808888").one()
    quote = loan.quote(policy.policy_no, "12000")
    checks = service.loan_checks(quote, policy, images_given=True, face_passed=True)
    assert ("可贷金额", True, "本次贷款金额 12000.00 ≤ 可贷金额 34000.00") in checks
    assert ("身份证影像", True, "本次贷款金额 12000.00 > 10000.00,已上传身份证正反面") in checks
    assert all(passed for _, passed, _ in checks)
    assert not any(name == "人脸识别" for name, _, _ in checks)  # 12000 is not above the face amount
    too_much = loan.quote(policy.policy_no, "40000")
    failed = [c for c in service.loan_checks(too_much, policy, True, True) if not c[1]]
    assert ("可贷金额", False, "本次贷款金额 40000.00 ≤ 可贷金额 34000.00") in failed


def test_every_loan_candidate_of_the_holder_with_why_not(seeded):
    found = {c.policy.policy_no: c.reasons for c in service.loan_candidates(ma_yan().id)}
    assert found["860007775808888"] == []
    assert [r["code"] for r in found["860006373328888"]] == ["loan_product_not_allowed"]
    assert "880000001522216" not in found  # 张德强's


def test_another_customers_policy_is_not_found(seeded):
    other = db.session.query(Customer).filter_by(customer_no="C0001").one()
    policy_id = db.session.query(Policy.id).filter_by(policy_no="860007775808888").scalar()
    with pytest.raises(DomainError) as refused:
        service.own_policy(other.id, policy_id)
    assert refused.value.key == "servicing_policy_not_found" and refused.value.status == 404


def test_the_face_amount_is_configurable(app, monkeypatch):
    monkeypatch.setitem(app.config, "LOAN_FACE_AMOUNT", "5000")
    assert service.needs_face(Decimal("5000.01")) and not service.needs_face(Decimal("5000"))
