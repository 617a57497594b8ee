"""The loan rate table and the append-only loan ledger (issue 11 points 2 and 4): the rate in force on a
day, a loan's balance is what its ledger rows add up to, the disbursement from an approved application,
and `recompute` finding a ledger row changed by hand."""
import threading
from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import text

from app.extensions import db
from app.models import Policy, User
from app.models.servicing import AppendOnly, LoanLedgerEntry, LoanRate, PolicyLoan, ServicingApplication
from app.services import loan, unit
from app.services import ledger
from app.services.errors import DomainError

MA_YAN = "860007775808888"
NOW = datetime(2026, 3, 2, 10, 0)
D = Decimal


@pytest.fixture
def frozen(seeded):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def user_id(name):
    return db.session.query(User.id).filter_by(username=name).scalar()


def pending_loan(principal="10000.00", status="APPROVED", number="SA202603010001", kind="POLICY_LOAN",
                 policy_no=MA_YAN):
    """An application decided on 2026-03-01 and its loan waiting for the money (what approving makes)."""
    policy = db.session.query(Policy).filter_by(policy_no=policy_no).one()
    application = ServicingApplication(application_no=number, kind=kind, customer_id=policy.holder_id,
                                       policy_id=policy.id, status=status, submitted_at=datetime(2026, 3, 1, 9),
                                       decided_at=datetime(2026, 3, 1, 11), amount=D(principal))
    db.session.add(application)
    db.session.flush()
    rate, _ = loan.rate_on(date(2026, 3, 1))  # a loan keeps the rate in force when granted
    duty = loan.stamp_duty(D(principal), D("2000"), D("0.00005"))
    row = PolicyLoan(application_id=application.id, policy_id=policy.id, principal=D(principal), stamp_duty=duty,
                     credited_amount=D(principal) - duty, annual_rate=rate, outstanding_principal=D(principal),
                     status="PENDING")
    db.session.add(row)
    db.session.commit()
    return row.id


def disburse(loan_id, day="2026-03-01", actor="operator"):
    with unit.work():
        ledger.disburse(loan_id, day, actor)


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


# --- the rate table (point 2) -------------------------------------------------------------------

def test_without_a_declared_rate_the_setting_is_used_and_the_quote_says_so(frozen):
    assert loan.rate_on(date(2026, 3, 2)) == (D("0.0500"), "setting")
    assert loan.quote(MA_YAN, "1000").as_json()["rate_source"] == "setting"


def test_the_declared_rate_in_force_on_a_day_a_later_row_superseding_from_its_day(frozen):
    admin = user_id("admin")
    with unit.work():
        ledger.add_rate("0.045", date(2026, 3, 2), admin)
        ledger.add_rate("0.055", date(2026, 4, 1), admin)
    assert loan.rate_on(date(2026, 3, 31)) == (D("0.045"), "rate_table")
    assert loan.rate_on(date(2026, 4, 1)) == (D("0.055"), "rate_table")
    assert loan.rate_on(date(2026, 3, 1))[1] == "setting"  # nothing declared yet that day
    with unit.work():
        ledger.add_rate("0.05", date(2026, 4, 1), admin)  # the same day again: the later row wins
    assert loan.rate_on(date(2026, 5, 1))[0] == D("0.05")
    figures = loan.quote(MA_YAN, "1000", "2026-03-10").as_json()
    assert (figures["annual_rate"], figures["rate_source"]) == ("0.0450", "rate_table")


@pytest.mark.parametrize("rate,day", [("0.25", "2026-03-02"), ("-0.01", "2026-03-02"), ("abc", "2026-03-02"),
                                      ("0.0500001", "2026-03-02"), ("NaN", "2026-03-02"),
                                      ("0.05", "2026-03-01")])
def test_a_rate_out_of_bounds_or_from_a_past_day_is_refused(frozen, rate, day):
    with pytest.raises(DomainError):
        with unit.work():
            ledger.add_rate(rate, date.fromisoformat(day))
    assert db.session.query(LoanRate).count() == 0


def test_a_declared_rate_is_never_edited(frozen):
    with unit.work():
        row_id = ledger.add_rate("0.045", date(2026, 3, 2)).id
    row = fresh(LoanRate, row_id)
    row.annual_rate = D("0.06")
    with pytest.raises(AppendOnly):
        db.session.commit()
    db.session.rollback()


def test_a_granted_loan_keeps_its_rate_when_a_new_one_is_declared(frozen):
    loan_id = pending_loan()
    with unit.work():
        ledger.add_rate("0.08", date(2026, 3, 2))
    disburse(loan_id)
    frozen.move_to(datetime(2026, 4, 1, 10))
    (owed,) = loan.payoff(MA_YAN, "2026-04-01").loans
    assert owed.annual_rate == D("0.05") and owed.interest == D("42.47")  # 10000 × 5% × 31 / 365


# --- disbursement and the ledger (point 4) ------------------------------------------------------

def test_the_money_arriving_starts_the_interest_and_the_term_and_completes_the_application(frozen):
    loan_id = pending_loan("12000")
    disburse(loan_id, "2026-03-01")
    row = fresh(PolicyLoan, loan_id)
    assert (row.status, row.disbursed_on, row.due_on) == ("ACTIVE", date(2026, 3, 1), date(2026, 9, 1))
    assert (row.outstanding_principal, row.interest_paid_to, row.interest_carried) == (
        D("12000.00"), date(2026, 3, 1), D("0.00"))
    assert row.application.status == "COMPLETED" and row.application.completed_at is not None
    (entry,) = ledger.entries_of(loan_id)
    assert (entry.kind, entry.on_day, entry.principal_delta, entry.amount, entry.principal_after) == (
        "DISBURSED", date(2026, 3, 1), D("12000.00"), D("11999.40"), D("12000.00"))
    assert loan.payoff(MA_YAN, "2026-04-01").interest == D("50.96")  # 12000 × 5% × 31 / 365


def test_recording_the_arrival_twice_is_refused(frozen):
    loan_id = pending_loan()
    disburse(loan_id)
    with pytest.raises(DomainError) as refused:
        disburse(loan_id, "2026-03-02")
    assert refused.value.key == "loan_already_disbursed" and refused.value.status == 409
    assert len(ledger.entries_of(loan_id)) == 1


@pytest.mark.parametrize("status", ["REVIEW", "REJECTED", "SUBMITTED"])
def test_a_loan_whose_application_is_not_approved_takes_no_money(frozen, status):
    loan_id = pending_loan(status=status)
    with pytest.raises(DomainError) as refused:
        disburse(loan_id)
    assert refused.value.key == "loan_not_approved"
    assert fresh(PolicyLoan, loan_id).status == "PENDING" and not ledger.entries_of(loan_id)


@pytest.mark.parametrize("day", ["2026-03-03", "2026-02-28", "2026-02-30", "x"])
def test_an_arrival_in_the_future_before_the_approval_or_no_day_is_refused(frozen, day):
    loan_id = pending_loan()
    with pytest.raises(DomainError) as refused:
        disburse(loan_id, day)
    assert refused.value.status == 400


def test_an_unknown_loan_is_404(frozen):
    with pytest.raises(DomainError) as refused:
        disburse(999999)
    assert refused.value.status == 404


def test_a_repayment_smaller_than_the_interest_carries_the_rest(frozen):
    loan_id = pending_loan()
    disburse(loan_id, "2026-03-01")
    frozen.move_to(datetime(2026, 4, 1, 10))
    with unit.work():
        row = db.session.get(PolicyLoan, loan_id)
        ledger.append(row, "REPAYMENT", "repayment:test", date(2026, 4, 1), interest_delta=D("-10.00"),
                      amount=D("10.00"))
    row = fresh(PolicyLoan, loan_id)
    assert (row.outstanding_principal, row.interest_carried, row.interest_paid_to) == (
        D("10000.00"), D("32.47"), date(2026, 4, 1))  # 42.47 counted to 04-01, 10.00 paid
    assert loan.payoff(MA_YAN, "2026-04-01").interest == D("32.47")
    assert not list(ledger.recompute())


# --- recompute-loans ----------------------------------------------------------------------------

def test_recompute_finds_a_ledger_row_changed_by_hand(frozen):
    first, second = pending_loan(), pending_loan("5000", number="SA202603010002")
    disburse(first)
    disburse(second)
    assert list(ledger.recompute(batch=1)) == []
    db.session.execute(text("UPDATE loan_ledger_entry SET principal_delta = 9000.01 WHERE loan_id = :id"),
                       {"id": first})
    db.session.commit()
    found = list(ledger.recompute(batch=1))
    assert (first, None, "outstanding_principal", "10000.00", "9000.01") in found
    assert all(difference[0] == first for difference in found)


def test_recompute_finds_a_stored_balance_changed_by_hand(frozen):
    loan_id = pending_loan()
    disburse(loan_id)
    db.session.execute(text("UPDATE policy_loan SET outstanding_principal = 9999.99 WHERE id = :id"), {"id": loan_id})
    db.session.commit()
    assert list(ledger.recompute()) == [(loan_id, None, "outstanding_principal", "9999.99", "10000.00")]


def test_a_ledger_row_is_never_changed_or_deleted_through_the_orm(frozen):
    loan_id = pending_loan()
    disburse(loan_id)
    (entry,) = ledger.entries_of(loan_id)
    entry.amount = D("1.00")
    with pytest.raises(AppendOnly):
        db.session.commit()
    db.session.rollback()
    from sqlalchemy import update

    with pytest.raises(AppendOnly):
        db.session.execute(update(LoanLedgerEntry).values(amount=D("1.00")))
    db.session.rollback()
    db.session.delete(db.session.get(LoanLedgerEntry, entry.id))
    with pytest.raises(Exception, match="cannot be deleted"):
        db.session.commit()
    db.session.rollback()


# --- the daily loan job -------------------------------------------------------------------------

@pytest.fixture
def templates(frozen):
    """The demo seed's LOAN_DUE_REMINDER and LOAN_SUSPENDED templates (the job's SMS)."""
    from app.models import SmsTemplate

    codes = {t.code for t in db.session.query(SmsTemplate)}
    assert {"LOAN_DUE_REMINDER", "LOAN_SUSPENDED"} <= codes
    return frozen


def sms_of(purpose):
    from app.models import SmsMessage

    db.session.expire_all()
    return db.session.query(SmsMessage).filter_by(purpose=purpose).all()


def test_reminders_30_and_7_days_before_the_due_date_once_each(templates):
    loan_id = pending_loan()
    disburse(loan_id)  # due 2026-09-01
    assert ledger.send_reminders(date(2026, 8, 1)) == 0  # 31 days before
    assert ledger.send_reminders(date(2026, 8, 3)) == 1  # a missed 08-02 is caught up
    assert ledger.send_reminders(date(2026, 8, 3)) == 0
    (first,) = sms_of("LOAN_DUE_REMINDER")
    assert "2026-09-01" in first.content and "还有29天" in first.content
    assert ledger.send_reminders(date(2026, 8, 24)) == 0
    assert ledger.send_reminders(date(2026, 8, 25)) == 1
    assert ledger.send_reminders(date(2026, 8, 26)) == 0
    assert len(sms_of("LOAN_DUE_REMINDER")) == 2


def test_on_the_due_date_the_interest_joins_the_principal_as_a_new_loan_at_the_rate_then(templates):
    loan_id = pending_loan()
    disburse(loan_id)  # 10000 at 5% from 2026-03-01, due 2026-09-01
    with unit.work():
        ledger.add_rate("0.06", date(2026, 8, 1))
    templates.move_to(datetime(2026, 9, 1, 0, 30))
    assert ledger.roll_over_due(date(2026, 8, 31)) == 0
    assert ledger.run_daily(date(2026, 9, 1))["rolled_over"] == 1
    assert ledger.run_daily(date(2026, 9, 1))["rolled_over"] == 0  # twice changes nothing
    old = fresh(PolicyLoan, loan_id)
    new = db.session.query(PolicyLoan).filter_by(rolled_from_id=loan_id).one()
    assert (old.status, old.outstanding_principal, old.interest_carried) == ("ROLLED_OVER", D("0.00"), D("0.00"))
    # 10000 × 5% × 184 / 365 = 252.05
    assert (new.principal, new.outstanding_principal, new.annual_rate, new.disbursed_on, new.due_on) == (
        D("10252.05"), D("10252.05"), D("0.06"), date(2026, 9, 1), date(2027, 3, 1))
    assert [e.kind for e in ledger.entries_of(loan_id)] == ["DISBURSED", "ROLLOVER"]
    assert ledger.entries_of(loan_id)[-1].interest_delta == D("-252.05")
    assert loan.payoff(MA_YAN, "2026-10-01").interest == D("50.56")  # 10252.05 × 6% × 30 / 365
    assert list(ledger.recompute()) == []


def test_the_policy_is_suspended_when_the_debt_reaches_the_cash_value_with_the_notice(templates):
    from app.models import Policy

    loan_id = pending_loan("42000.00")  # cash value 42500.00: 500 of interest is 87 days at 5%
    disburse(loan_id)
    assert ledger.suspend_over_value(date(2026, 5, 26)) == 0
    assert ledger.run_daily(date(2026, 5, 27))["suspended"] == 1
    assert ledger.run_daily(date(2026, 5, 28))["suspended"] == 0
    db.session.expire_all()
    assert db.session.query(Policy).filter_by(policy_no=MA_YAN).one().status == "SUSPENDED"
    assert [e.kind for e in ledger.entries_of(loan_id)] == ["DISBURSED", "SUSPENDED"]
    (notice,) = sms_of("LOAN_SUSPENDED")
    assert "42500.00" in notice.content and "中止" in notice.content
    assert list(ledger.recompute()) == []


def test_the_daily_job_runs_with_every_scheduled_job_on_the_embedded_default(templates, app):
    loan_id = pending_loan()
    disburse(loan_id)
    templates.move_to(datetime(2026, 9, 2, 1, 0))
    result = app.test_cli_runner().invoke(args=["portal", "run-jobs"])
    assert result.exit_code == 0, result.output
    assert "servicing-daily-loans" in result.output
    assert fresh(PolicyLoan, loan_id).status == "ROLLED_OVER"


def twice_at_once(app, job):
    """job() run by two threads at the same moment, each in an app context of its own: their results."""
    results, start = [], threading.Barrier(2)

    def one():
        with app.app_context():
            start.wait()
            results.append(job())

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_daily_jobs_at_once_roll_a_loan_over_once(app, seeded):
    if db.engine.dialect.name != "mysql":
        pytest.skip("row locks and READ COMMITTED: MariaDB")
    with time_machine.travel(datetime(2026, 3, 2, 10), tick=False) as traveller:
        ids = [pending_loan(number=f"SA{n}") for n in range(5)]
        for loan_id in ids:
            disburse(loan_id)
        traveller.move_to(datetime(2026, 9, 1, 1))
        results = twice_at_once(app, lambda: ledger.run_daily(date(2026, 9, 1))["rolled_over"])
        assert sum(results) == 5, results
        db.session.rollback()
        assert db.session.query(PolicyLoan).filter(PolicyLoan.rolled_from_id.in_(ids)).count() == 5
        assert list(ledger.recompute()) == []


# --- repayment results (point 5) ----------------------------------------------------------------

def repay(loan_id, amount, day="2026-04-01", ref="P1", **kw):
    with unit.work():
        return ledger.record_repayment(loan_id, amount, day, ref, actor="payment", **kw)


def test_a_partial_repayment_pays_the_interest_first_then_principal(frozen):
    loan_id = pending_loan()
    disburse(loan_id)
    frozen.move_to(datetime(2026, 4, 1, 10))
    row, repayment = repay(loan_id, "1000")
    assert (repayment.interest_part, repayment.principal_part) == (D("42.47"), D("957.53"))
    row = fresh(PolicyLoan, loan_id)
    assert (row.status, row.outstanding_principal, row.interest_paid_to, row.interest_carried) == (
        "ACTIVE", D("9042.47"), date(2026, 4, 1), D("0.00"))
    owed = loan.payoff(MA_YAN, "2026-04-01")
    assert owed.principal + owed.interest == D("9042.47")
    assert list(ledger.recompute()) == []


def test_repaying_everything_closes_the_loan_and_completes_the_application(frozen):
    loan_id = pending_loan()
    disburse(loan_id)
    policy_id = fresh(PolicyLoan, loan_id).policy_id
    customer = db.session.query(ServicingApplication).first().customer_id
    db.session.add(ServicingApplication(application_no="SAR1", kind="LOAN_REPAYMENT", customer_id=customer,
                                        policy_id=policy_id, status="APPROVED", submitted_at=datetime(2026, 4, 1, 9)))
    db.session.commit()
    frozen.move_to(datetime(2026, 4, 1, 10))
    with pytest.raises(DomainError) as above:
        repay(loan_id, "10042.48")
    assert above.value.key == "repayment_above_total"
    repay(loan_id, "10042.47", application_no="SAR1")
    row = fresh(PolicyLoan, loan_id)
    assert (row.status, row.outstanding_principal) == ("REPAID", D("0.00"))
    assert db.session.query(ServicingApplication).filter_by(application_no="SAR1").one().status == "COMPLETED"
    assert loan.payoff(MA_YAN, "2026-04-01").reasons[0]["code"] == "loan_none_unpaid"


def test_a_payment_enters_once_and_a_failed_one_not_at_all(frozen):
    loan_id = pending_loan()
    disburse(loan_id)
    frozen.move_to(datetime(2026, 4, 1, 10))
    assert repay(loan_id, "500", ref="F1", result="FAILED")[1].result == "FAILED"
    repay(loan_id, "500", ref="P1")
    with pytest.raises(DomainError) as again:
        repay(loan_id, "500", ref="P1")
    assert again.value.key == "ledger_event_recorded" and again.value.status == 409
    assert [e.kind for e in ledger.entries_of(loan_id)] == ["DISBURSED", "REPAYMENT"]


@pytest.mark.parametrize("amount,day,key", [("0", "2026-04-01", "repayment_not_positive"),
                                            ("abc", "2026-04-01", "field_bad_money"),
                                            ("100", "2026-04-02", "repayment_bad_day"),
                                            ("100", "2026-02-28", "repayment_bad_day")])
def test_a_repayment_that_is_none_is_refused(frozen, amount, day, key):
    loan_id = pending_loan()
    disburse(loan_id)
    frozen.move_to(datetime(2026, 4, 1, 10))
    with pytest.raises(DomainError) as refused:
        repay(loan_id, amount, day)
    assert refused.value.key == key
    assert len(ledger.entries_of(loan_id)) == 1


def test_a_repayment_recorded_after_a_missed_due_date_does_not_stop_the_roll_over(frozen):
    loan_id = pending_loan()
    disburse(loan_id)  # due 2026-09-01; the job did not run that day
    frozen.move_to(datetime(2026, 9, 3, 10))
    repay(loan_id, "100", "2026-09-03")
    assert ledger.run_daily(date(2026, 9, 3))["rolled_over"] == 1
    new = db.session.query(PolicyLoan).filter_by(rolled_from_id=loan_id).one()
    assert new.disbursed_on == date(2026, 9, 3) and list(ledger.recompute()) == []


def test_a_failed_payment_is_kept_with_its_result_and_a_paid_one_after_it_enters(frozen):
    from app.models.servicing import LoanRepayment

    loan_id = pending_loan()
    disburse(loan_id)
    frozen.move_to(datetime(2026, 4, 1, 10))
    repay(loan_id, "1000", ref="R1", result="FAILED")
    repay(loan_id, "1000", ref="R1", result="FAILED")  # reported again: the one row
    (failed,) = ledger.repayments_of(loan_id)
    assert (failed.result, failed.payment_ref, failed.amount, failed.interest_part, failed.principal_part) == (
        "FAILED", "R1", D("1000.00"), D("0.00"), D("0.00"))
    row = fresh(PolicyLoan, loan_id)
    assert (row.outstanding_principal, row.interest_paid_to) == (D("10000.00"), date(2026, 3, 1))
    assert [e.kind for e in ledger.entries_of(loan_id)] == ["DISBURSED"]
    _, paid = repay(loan_id, "1000", ref="R1")  # the payment system retried it and it went through
    assert (paid.result, paid.interest_part, paid.principal_part) == ("PAID", D("42.47"), D("957.53"))
    assert [r.result for r in ledger.repayments_of(loan_id)] == ["PAID", "FAILED"]
    assert [e.kind for e in ledger.entries_of(loan_id)] == ["DISBURSED", "REPAYMENT"]
    with pytest.raises(DomainError) as paid_already:
        repay(loan_id, "1000", ref="R1", result="FAILED")
    assert paid_already.value.status == 409
    assert db.session.query(LoanRepayment).count() == 2
    assert list(ledger.recompute()) == []


# --- the roll-over notice, set-based roll-over --------------------------------------------------

def test_the_roll_over_sends_the_customer_one_sms_even_when_the_job_runs_twice(templates):
    loan_id = pending_loan()
    disburse(loan_id)  # 10000 at 5% from 2026-03-01, due 2026-09-01
    templates.move_to(datetime(2026, 9, 1, 0, 30))
    assert ledger.run_daily(date(2026, 9, 1))["rolled_over"] == 1
    assert ledger.run_daily(date(2026, 9, 1))["rolled_over"] == 0
    (notice,) = sms_of("LOAN_ROLLED_OVER")
    assert "860007775808888" in notice.content and "2026-09-01" in notice.content
    assert "252.05" in notice.content and "10252.05" in notice.content and "2027-03-01" in notice.content


def test_a_roll_over_with_the_template_switched_off_still_rolls_over(templates):
    from app.models import SmsTemplate

    db.session.query(SmsTemplate).filter_by(code="LOAN_ROLLED_OVER").update({"is_active": False})
    db.session.commit()
    loan_id = pending_loan()
    disburse(loan_id)
    templates.move_to(datetime(2026, 9, 1, 0, 30))
    assert ledger.roll_over_due(date(2026, 9, 1)) == 1
    assert fresh(PolicyLoan, loan_id).status == "ROLLED_OVER" and not sms_of("LOAN_ROLLED_OVER")


def test_the_set_based_roll_over_makes_what_the_ledger_replay_makes(templates):
    """Loans of different sizes, one with a partial repayment and carried interest, rolled over in
    batches of 2: each new loan and both ROLLOVER rows agree with a replay of the rows, to the fen."""
    ids = [pending_loan(amount, number=f"SAB{n}") for n, amount in enumerate(["1000.00", "2500.55", "7777.77"])]
    for loan_id in ids:
        disburse(loan_id)
    templates.move_to(datetime(2026, 5, 1, 10))
    with unit.work():
        row = db.session.get(PolicyLoan, ids[1])
        ledger.append(row, "REPAYMENT", "repayment:part", date(2026, 5, 1), interest_delta=D("-1.00"),
                      amount=D("1.00"))
    templates.move_to(datetime(2026, 9, 1, 1))
    assert ledger.roll_over_due(date(2026, 9, 1), batch=2) == 3
    for loan_id in ids:
        old = fresh(PolicyLoan, loan_id)
        new = db.session.query(PolicyLoan).filter_by(rolled_from_id=loan_id).one()
        out = ledger.entries_of(loan_id)[-1]
        (opening,) = ledger.entries_of(new.id)
        expected = ledger.replay(old.annual_rate, ledger.entries_of(loan_id)[:-1])
        owed = expected.principal + expected.interest_carried + loan.interest(
            expected.principal, old.annual_rate, expected.interest_paid_to, date(2026, 9, 1))
        assert (old.status, old.interest_paid_to, out.amount, out.on_day) == (
            "ROLLED_OVER", date(2026, 9, 1), owed, date(2026, 9, 1))
        assert (new.principal, new.outstanding_principal, new.interest_paid_to, new.status) == (
            owed, owed, date(2026, 9, 1), "ACTIVE")
        assert (opening.kind, opening.event_key, opening.principal_after, opening.interest_paid_to_after) == (
            "ROLLOVER", f"rollover-in:{loan_id}", owed, date(2026, 9, 1))
    assert list(ledger.recompute()) == []
    assert len(sms_of("LOAN_ROLLED_OVER")) == 3


def test_two_daily_jobs_at_once_in_small_batches_share_the_loans_each_rolled_once(app, seeded):
    if db.engine.dialect.name != "mysql":
        pytest.skip("SKIP LOCKED: MariaDB")
    with time_machine.travel(datetime(2026, 3, 2, 10), tick=False) as traveller:
        ids = [pending_loan(number=f"SAC{n}") for n in range(12)]
        for loan_id in ids:
            disburse(loan_id)
        traveller.move_to(datetime(2026, 9, 1, 1))
        results = twice_at_once(app, lambda: ledger.roll_over_due(date(2026, 9, 1), batch=2))
        assert sum(results) == 12, results
        db.session.rollback()
        new = db.session.query(PolicyLoan).filter(PolicyLoan.rolled_from_id.in_(ids)).all()
        assert sorted(n.rolled_from_id for n in new) == sorted(ids)
        assert len(sms_of("LOAN_ROLLED_OVER")) == 12
        assert list(ledger.recompute()) == []


def test_a_loan_locked_by_another_transaction_is_skipped_then_rolled_by_the_next_run(app, seeded):
    if db.engine.dialect.name != "mysql":
        pytest.skip("SKIP LOCKED: MariaDB")
    with time_machine.travel(datetime(2026, 3, 2, 10), tick=False) as traveller:
        first, second = pending_loan(number="SAL1"), pending_loan(number="SAL2")
        disburse(first)
        disburse(second)
        traveller.move_to(datetime(2026, 9, 1, 1))
        with db.engine.connect() as other:
            other.execute(text("SELECT id FROM policy_loan WHERE id = :id FOR UPDATE"), {"id": first})
            assert ledger.roll_over_due(date(2026, 9, 1)) == 1  # the locked one is left, not waited for
            other.rollback()
        assert fresh(PolicyLoan, first).status == "ACTIVE" and fresh(PolicyLoan, second).status == "ROLLED_OVER"
        assert ledger.roll_over_due(date(2026, 9, 1)) == 1
        assert list(ledger.recompute()) == []


# --- a suspended policy's loans stop accruing (point 3) -----------------------------------------

def test_a_loan_on_a_suspended_policy_stops_accruing_interest_after_the_suspension_day(templates):
    loan_id = pending_loan("42000.00")  # cash value 42500.00: reached after 87 days at 5%
    disburse(loan_id)
    templates.move_to(datetime(2026, 5, 27, 1))
    assert ledger.run_daily(date(2026, 5, 27))["suspended"] == 1
    on_the_day = loan.payoff(MA_YAN, "2026-05-27")
    assert (on_the_day.principal, on_the_day.interest) == (D("42000.00"), D("500.55"))  # 42000 × 5% × 87 / 365
    templates.move_to(datetime(2026, 12, 1, 10))
    later = loan.payoff(MA_YAN, "2026-12-01")
    assert (later.principal, later.interest) == (D("42000.00"), D("500.55"))
    assert ledger.run_daily(date(2026, 12, 1)) == {"rolled_over": 0, "reminded": 0, "suspended": 0}
    assert fresh(PolicyLoan, loan_id).status == "ROLLED_OVER"
    (frozen_loan,) = db.session.query(PolicyLoan).filter_by(rolled_from_id=loan_id).all()
    assert (frozen_loan.status, frozen_loan.annual_rate, frozen_loan.due_on, frozen_loan.interest_carried) == (
        "ACTIVE", D("0"), None, D("500.55"))
    # a repayment still pays the frozen interest first, then principal
    _, paid = repay(frozen_loan.id, "1000", "2026-12-01", ref="S1")
    assert (paid.interest_part, paid.principal_part) == (D("500.55"), D("499.45"))
    assert loan.payoff(MA_YAN, "2027-03-01").interest == D("0.00")
    assert list(ledger.recompute()) == []


# --- a failed payment through the API and the operator's page (point 1) ---------------------------

def test_the_payment_system_reports_a_failed_payment_then_a_paid_one(frozen, client):
    from app.models.servicing import LoanRepayment
    from tests.views.test_intake_api import token

    loan_id = pending_loan()
    disburse(loan_id)
    frozen.move_to(datetime(2026, 4, 1, 10))
    headers = token(client)
    body = {"amount": "1000.00", "paid_on": "2026-04-01", "payment_ref": "PAY-F", "result": "FAILED"}
    reply = client.post(f"/api/v1/loan/{loan_id}/repayment", json=body, headers=headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json()["outstanding_principal"] == "10000.00"
    db.session.expire_all()
    (failed,) = db.session.query(LoanRepayment).filter_by(loan_id=loan_id).all()
    assert (failed.result, failed.payment_ref, failed.amount) == ("FAILED", "PAY-F", D("1000.00"))
    reply = client.post(f"/api/v1/loan/{loan_id}/repayment", json={**body, "result": "PAID"}, headers=headers)
    assert reply.status_code == 200 and reply.get_json()["outstanding_principal"] == "9042.47"


def operator_records_payment(frozen, client, payment_ref, result, **post):
    """A loan paid out on 2026-03-01; on 2026-04-01 `operator` posts a payment of 500 with this result on
    the loan's ledger page: (loan id, the reply)."""
    from tests.conftest import csrf_token, login

    loan_id = pending_loan()
    disburse(loan_id)
    frozen.move_to(datetime(2026, 4, 1, 10))
    login(client, "operator")
    page = client.get(f"/loan-ledger/{loan_id}").get_data(as_text=True)
    reply = client.post(f"/loan-ledger/{loan_id}/repayment", data={
        "amount": "500", "paid_on": "2026-04-01", "payment_ref": payment_ref, "result": result,
        "csrf_token": csrf_token(page)}, **post)
    return loan_id, reply


def test_an_operator_records_a_failed_payment_on_the_loans_page(frozen, client):
    loan_id, reply = operator_records_payment(frozen, client, "BANK-F", "FAILED", follow_redirects=True)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    shown = reply.get_data(as_text=True)
    assert "已登记支付失败" in shown
    assert 'id="repay-result"' in shown  # the operator chooses the result on the page
    results = shown.split('id="repayments"', 1)[1].split("</table>", 1)[0]
    assert "BANK-F" in results and "支付失败,未记入台账" in results
    (failed,) = ledger.repayments_of(loan_id)
    assert (failed.result, failed.payment_ref) == ("FAILED", "BANK-F")
    assert [e.kind for e in ledger.entries_of(loan_id)] == ["DISBURSED"]
    assert fresh(PolicyLoan, loan_id).outstanding_principal == D("10000.00")


def test_reminders_in_batches_of_one_each_loan_once(templates):
    ids = [pending_loan(number=f"SAR{n}") for n in range(3)]
    for loan_id in ids:
        disburse(loan_id)  # all due 2026-09-01
    assert ledger.send_reminders(date(2026, 8, 3), batch=1) == 3
    assert ledger.send_reminders(date(2026, 8, 3), batch=1) == 0
    assert len(sms_of("LOAN_DUE_REMINDER")) == 3


def test_two_suspension_runs_at_once_suspend_once_with_one_notice(app, seeded):
    if db.engine.dialect.name != "mysql":
        pytest.skip("SKIP LOCKED: MariaDB")
    from app.models import Policy

    with time_machine.travel(datetime(2026, 3, 2, 10), tick=False):
        loan_id = pending_loan("42000.00")
        disburse(loan_id)
        results = twice_at_once(app, lambda: ledger.suspend_over_value(date(2026, 5, 27)))
        assert sorted(results) == [0, 1]
        db.session.rollback()
        assert db.session.query(Policy).filter_by(policy_no=MA_YAN).one().status == "SUSPENDED"
        assert db.session.query(PolicyLoan).filter_by(rolled_from_id=loan_id).count() == 1
        assert len(sms_of("LOAN_SUSPENDED")) == 1
        assert list(ledger.recompute()) == []


def test_one_loan_rolled_over_by_itself(templates):
    loan_id = pending_loan()
    disburse(loan_id)
    templates.move_to(datetime(2026, 9, 1, 1))
    with unit.work():
        assert ledger.roll_over(loan_id, date(2026, 8, 31)) is None
        new = ledger.roll_over(loan_id, date(2026, 9, 1))
    assert new.principal == D("10252.05") and ledger.roll_over(loan_id, date(2026, 9, 1)) is None
    db.session.rollback()
    assert list(ledger.recompute()) == []


def test_the_loans_page_refuses_an_unknown_payment_result_in_chinese(frozen, client):
    import re

    loan_id, reply = operator_records_payment(frozen, client, "BANK-X", "MAYBE")
    assert reply.status_code == 400
    error = re.search(r'alert-danger" role="alert">([^<]*)<', reply.get_data(as_text=True)).group(1)
    assert re.search(r"[\u4e00-\u9fff]", error), error
    assert not ledger.repayments_of(loan_id)
