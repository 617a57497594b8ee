"""Policy loan figures (issue 11 points 2, 5 and 6; DOMAIN.md sections 4 and 5): the seed's stamp duty
and ID thresholds, 可贷金额 less unpaid loans and their interest, simple actual/365 interest rounded once,
the due date, the refusals with their Chinese reasons, the payoff and its split, interest first.

The demo policy 860007775808888 (马妍, 爱心人寿年年丰盈终身寿险, single premium 50000) has a cash value
of 42500.00, so 80% of it is 34000.00."""
from datetime import date
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Policy, Product
from app.models.servicing import PolicyLoan, ServicingApplication
from app.models.setting import Setting
from app.services import clock, loan
from app.services.errors import DomainError

MA_YAN = "860007775808888"
ARRIVED = date(2026, 1, 1)
D = Decimal


def add_loan(policy_no=MA_YAN, principal="10000.00", arrived=ARRIVED, status="ACTIVE", rate="0.05",
             **fields):
    policy = db.session.query(Policy).filter_by(policy_no=policy_no).one()
    row = PolicyLoan(policy_id=policy.id, principal=D(principal), stamp_duty=D("0.50"),
                     credited_amount=D(principal) - D("0.50"), annual_rate=D(rate),
                     outstanding_principal=D(principal), status=status,
                     disbursed_on=arrived if status == "ACTIVE" else None,
                     due_on=loan.due_date(arrived, 6) if status == "ACTIVE" else None, **fields)
    db.session.add(row)
    db.session.commit()
    return row.id


def add_application(status, kind="POLICY_LOAN", policy_no=MA_YAN, number="SA202601010001"):
    policy = db.session.query(Policy).filter_by(policy_no=policy_no).one()
    db.session.add(ServicingApplication(application_no=number, kind=kind, customer_id=policy.holder_id,
                                        policy_id=policy.id, status=status, submitted_at=clock.now()))
    db.session.commit()


def codes(result):
    return [reason["code"] for reason in result.reasons]


# --- the seed's figures --------------------------------------------------------------------------

@pytest.mark.parametrize("amount,duty,credited", [
    ("12000", "0.60", "11999.40"), ("2000", "0.00", "2000.00"), ("2000.01", "0.10", "1999.91"),
    ("1999.99", "0.00", "1999.99"), ("30000", "1.50", "29998.50"),
])
def test_stamp_duty_is_005_per_mille_over_2000_rounded_half_up(seeded, amount, duty, credited):
    quote = loan.quote(MA_YAN, amount)
    assert quote.possible, quote.reasons
    assert (quote.stamp_duty, quote.credited_amount) == (D(duty), D(credited))
    assert quote.as_json()["stamp_duty"] == duty and quote.as_json()["credited_amount"] == credited


def test_stamp_duty_rounds_half_up_to_the_fen():
    # 2100 × 0.00005 = 0.105: half up is 0.11 (banker's rounding would say 0.10)
    assert loan.stamp_duty(D("2100.00"), D("2000"), D("0.00005")) == D("0.11")
    assert loan.stamp_duty(D("2000.00"), D("2000"), D("0.00005")) == D("0.00")


@pytest.mark.parametrize("amount,needed", [("10000", False), ("10000.00", False), ("10000.01", True),
                                           ("12000", True), ("100", False)])
def test_id_images_are_needed_above_10000(seeded, amount, needed):
    assert loan.quote(MA_YAN, amount).needs_id_images is needed


def test_the_loanable_amount_rate_and_due_date_of_an_unborrowed_policy(seeded):
    quote = loan.quote(MA_YAN, "12000", "2026-08-31")
    figures = quote.as_json()
    assert figures["cash_value"] == "42500.00" and figures["loan_ratio"] == "0.8000"
    assert figures["loanable_amount"] == "34000.00"
    assert (figures["annual_rate"], figures["annual_rate_percent"]) == ("0.0500", "5.00")
    # six months from the day the money arrives (taken as the day of the quote); 31 Aug -> 28 Feb
    assert figures["due_on"] == "2027-02-28"
    assert figures["possible"] is True and figures["reasons"] == []


# --- interest ------------------------------------------------------------------------------------

def test_31_days_of_interest_on_10000_at_the_declared_rate():
    # 10000 × 0.05 × 31 / 365 = 42.4657... -> 42.47
    assert loan.interest(D("10000.00"), D("0.05"), date(2026, 1, 1), date(2026, 2, 1)) == D("42.47")
    assert loan.interest(D("10000.00"), D("0.05"), date(2026, 1, 1), date(2026, 1, 1)) == D("0.00")


def test_interest_is_rounded_once_at_the_end_not_day_by_day():
    # 1000 × 0.05 / 365 = 0.136986 a day: 3 days are 0.41, not 3 × 0.14 = 0.42
    assert loan.interest(D("1000.00"), D("0.05"), date(2026, 3, 1), date(2026, 3, 4)) == D("0.41")


def test_interest_counts_365_days_in_a_leap_year_too():
    # 2028 has 366 days; actual/365 gives a year's interest and one day more
    assert loan.interest(D("36500.00"), D("0.05"), date(2028, 1, 1), date(2029, 1, 1)) == D("1830.00")


def test_due_date_is_the_term_in_months_from_arrival():
    assert loan.due_date(date(2026, 1, 1), 6) == date(2026, 7, 1)
    assert loan.due_date(date(2026, 8, 31), 6) == date(2027, 2, 28)


# --- unpaid loans --------------------------------------------------------------------------------

def test_an_unpaid_loan_and_its_interest_reduce_the_loanable_amount(seeded):
    add_loan()
    quote = loan.quote(MA_YAN, "20000", "2026-02-01")
    # 34000.00 − 10000.00 principal − 42.47 interest for 31 days
    assert (quote.unpaid_principal, quote.unpaid_interest) == (D("10000.00"), D("42.47"))
    assert quote.loanable_amount == D("23957.53")
    assert quote.possible
    too_much = loan.quote(MA_YAN, "23957.54", "2026-02-01")
    assert codes(too_much) == ["loan_amount_above_loanable"]
    assert too_much.reasons[0]["message"] == "本次贷款金额 23957.54 元超过可贷金额 23957.53 元"


def test_interest_runs_from_the_day_it_was_settled_to(seeded):
    add_loan(interest_paid_to=date(2026, 1, 22))
    assert loan.quote(MA_YAN, "100", "2026-02-01").unpaid_interest == D("13.70")  # 10 days


def test_an_approved_loan_awaiting_its_money_binds_the_cash_value_without_interest(seeded):
    add_loan(status="PENDING")
    quote = loan.quote(MA_YAN, "100", "2026-02-01")
    assert (quote.unpaid_principal, quote.unpaid_interest, quote.loanable_amount) == (
        D("10000.00"), D("0.00"), D("24000.00"))
    # nothing is owed before the money arrives
    assert codes(loan.payoff(MA_YAN, "2026-02-01")) == ["loan_none_unpaid"]


def test_repaid_and_rolled_over_loans_are_not_owed(seeded):
    add_loan(status="ACTIVE")
    db.session.query(PolicyLoan).update({"status": "REPAID"})
    db.session.commit()
    assert loan.quote(MA_YAN, "100", "2026-02-01").loanable_amount == D("34000.00")


def test_a_debt_reaching_the_limit_leaves_nothing_to_borrow(seeded):
    add_loan(principal="34000.00")
    quote = loan.quote(MA_YAN, "1", "2026-02-01")
    assert quote.loanable_amount == D("0.00")
    assert codes(quote) == ["loan_nothing_loanable"]


# --- refusals ------------------------------------------------------------------------------------

def _policy():
    return db.session.query(Policy).filter_by(policy_no=MA_YAN).one()


def test_a_suspended_policy_is_refused_in_chinese(seeded):
    _policy().status = "SUSPENDED"
    db.session.commit()
    quote = loan.quote(MA_YAN, "100")
    assert codes(quote) == ["loan_policy_not_in_force"]
    assert quote.reasons[0]["message"] == "保单状态为中止,不能办理保单贷款"


def test_a_product_without_loans_and_no_cash_value_are_refused(seeded):
    quote = loan.quote("86000001296920", "100")  # 爱心i+定期寿险, issued two days ago
    assert codes(quote) == ["loan_product_not_allowed", "loan_no_cash_value"]
    assert quote.reasons[0]["message"] == "爱心人寿爱心i+定期寿险不提供保单贷款"
    assert quote.reasons[1]["message"] == "保单暂无现金价值,不能办理保单贷款"


def test_a_unit_linked_policy_is_refused(seeded):
    product = Product(code="TL01", name="爱心人寿投连测试", kind="UNIT_LINKED", loan_allowed=True)
    db.session.add(product)
    db.session.flush()
    _policy().product_id = product.id
    db.session.commit()
    assert codes(loan.quote(MA_YAN, "100")) == ["loan_unit_linked"]


@pytest.mark.parametrize("status,kind,refused", [
    ("SUBMITTED", "POLICY_LOAN", True), ("REVIEW", "POLICY_LOAN", True), ("CONSENT", "POLICY_LOAN", True),
    ("SUBMITTED", "LOAN_REPAYMENT", True), ("APPROVED", "POLICY_LOAN", True), ("COMPLETED", "POLICY_LOAN", False),
    ("REJECTED", "POLICY_LOAN", False), ("CANCELLED", "POLICY_LOAN", False),
    ("REVIEW", "BENEFICIARY", False),
])
def test_an_application_in_progress_refuses_another_loan(seeded, status, kind, refused):
    add_application(status, kind)
    quote = loan.quote(MA_YAN, "100")
    assert codes(quote) == (["loan_application_in_progress"] if refused else [])
    if refused:
        assert "SA202601010001" in quote.reasons[0]["message"]


def test_a_zero_amount_is_refused(seeded):
    assert codes(loan.quote(MA_YAN, "0")) == ["loan_amount_not_positive"]


# --- settings and the product's ratio ------------------------------------------------------------

def test_the_rate_and_ratio_come_from_the_settings_and_the_product(seeded):
    db.session.add(Setting(key="LOAN_ANNUAL_RATE", value="0.0525"))
    db.session.commit()
    assert loan.quote(MA_YAN, "100").as_json()["annual_rate"] == "0.0525"
    _policy().product.loan_ratio = D("0.5")
    db.session.commit()
    assert loan.quote(MA_YAN, "100").loanable_amount == D("21250.00")
    # a product never lends more than the company's ratio
    db.session.add(Setting(key="LOAN_RATIO", value="0.40"))
    db.session.commit()
    assert loan.quote(MA_YAN, "100").loanable_amount == D("17000.00")


# --- unusable input ------------------------------------------------------------------------------

@pytest.mark.parametrize("amount", ["abc", "-1", "-0.01", "1.234", "1e3", "", "１２０００.０００", "NaN"])
def test_an_amount_that_is_none_is_unusable(seeded, amount):
    with pytest.raises(DomainError) as refused:
        loan.quote(MA_YAN, amount)
    assert refused.value.key == "field_bad_money" and refused.value.status == 400


def test_full_width_digits_are_an_amount(seeded):
    assert loan.quote(MA_YAN, "１２０００").stamp_duty == D("0.60")


def test_an_unknown_policy_or_day_is_unusable(seeded):
    for policy_no in ("999", "", "x" * 40):
        with pytest.raises(DomainError) as refused:
            loan.quote(policy_no, "100")
        assert refused.value.status == 404
    for day in ("2026-02-30", "20260201", "9999-12-31", "tomorrow"):
        with pytest.raises(DomainError) as refused:
            loan.quote(MA_YAN, "100", day)
        assert refused.value.key == "field_bad_date"


# --- payoff and repayment ------------------------------------------------------------------------

def test_the_payoff_is_principal_and_interest_to_the_day(seeded):
    add_loan()
    payoff = loan.payoff(MA_YAN, "2026-02-01")
    figures = payoff.as_json()
    assert (figures["principal"], figures["interest"], figures["total"]) == ("10000.00", "42.47", "10042.47")
    assert figures["loans"][0]["days"] == 31 and figures["loans"][0]["interest_from"] == "2026-01-01"
    assert figures["loans"][0]["due_on"] == "2026-07-01"
    assert payoff.possible and "repayment" not in figures


def test_a_partial_repayment_pays_the_interest_first(seeded):
    add_loan()
    small = loan.payoff(MA_YAN, "2026-02-01", "30").as_json()["repayment"]
    assert (small["interest_part"], small["principal_part"], small["principal_after"]) == (
        "30.00", "0.00", "10000.00")
    part = loan.payoff(MA_YAN, "2026-02-01", "1000").as_json()["repayment"]
    assert (part["interest_part"], part["principal_part"], part["principal_after"]) == (
        "42.47", "957.53", "9042.47")
    assert part["closes_loans"] is False


def test_a_full_repayment_closes_the_loan_and_more_is_refused(seeded):
    add_loan()
    full = loan.payoff(MA_YAN, "2026-02-01", "10042.47")
    assert full.possible
    assert full.as_json()["repayment"] == {"amount": "10042.47", "interest_part": "42.47",
                                           "principal_part": "10000.00", "principal_after": "0.00",
                                           "closes_loans": True}
    above = loan.payoff(MA_YAN, "2026-02-01", "10042.48")
    assert codes(above) == ["repayment_above_total"]
    assert above.reasons[0]["message"] == "还款金额 10042.48 元超过应还本息合计 10042.47 元"
    assert codes(loan.payoff(MA_YAN, "2026-02-01", "0")) == ["repayment_not_positive"]


def test_with_two_loans_all_interest_is_paid_before_any_principal(seeded):
    first = add_loan()
    second = add_loan(principal="5000.00", arrived=date(2026, 1, 17))  # 15 days: 10.27
    payoff = loan.payoff(MA_YAN, "2026-02-01", "100")
    split = {balance.loan_id: (interest, principal) for balance, interest, principal in payoff.split}
    assert split == {first: (D("42.47"), D("47.26")), second: (D("10.27"), D("0.00"))}


def test_no_loan_means_nothing_to_repay(seeded):
    payoff = loan.payoff(MA_YAN)
    assert not payoff.possible and payoff.reasons[0]["message"] == "该保单没有未清偿的贷款"
    assert payoff.as_json()["total"] == "0.00"
