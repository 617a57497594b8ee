"""The policy loan's append-only ledger and the rate table the company declares (issue 11 points 2 and 4).

A loan's history is its ledger rows (disbursed, repayment, roll-over, suspension), only ever inserted;
the loan's outstanding_principal, interest_paid_to and interest_carried are what replay() makes of
them, and nothing else writes those columns: append() replays the loan's rows plus the new one and
stores the result in the same transaction (the daily job's roll-overs and suspensions do the same
arithmetic set-based, _carry_over, from the stored figures those rows made), and `flask servicing recompute-loans` (recompute()) replays
every loan again and reports where the stored figures differ, to the fen.

Interest (DOMAIN.md 4: from the day the money arrives, simple, actual/365 on the unpaid principal) is
counted from interest_paid_to; a row that moves money first counts the interest up to its day into
interest_carried, then applies its deltas (a repayment's interest part is a negative interest_delta).
"""
import logging
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.servicing import (LEDGER_KINDS, LOAN_STATUSES, LoanLedgerEntry, LoanRate, LoanRepayment,
                                  PolicyLoan, ServicingApplication)
from app.services import clock, settings, unit
from app.services.errors import DomainError
from app.services.loan import (REPAYMENT_LABEL, ZERO, LoanBalance, allocate, due_date, interest, parse_day,
                               parse_loan_amount, rate_on)
from app.services.money import to_money
from app.services.servicing import application as servicing
from app.services.servicing import states

log = logging.getLogger(__name__)
RATE_MIN, RATE_MAX = Decimal("0"), Decimal("0.24")  # 24%: the ceiling of lawful private lending rates
RECOMPUTE_BATCH = 2000


# --- the rate table -----------------------------------------------------------------------------

def add_rate(annual_rate, effective_from: date, user_id=None, note=None):
    """Declare `annual_rate` (a fraction, 0.05 = 5%) in force from `effective_from`; the rows are never
    edited, a later one supersedes. A day in the past is refused: loans granted then kept their rate."""
    try:
        rate = Decimal(str(annual_rate))
    except (ArithmeticError, ValueError):
        raise DomainError("loan_rate_bad", value=str(annual_rate)[:32]) from None
    if not rate.is_finite() or not RATE_MIN <= rate <= RATE_MAX or rate.as_tuple().exponent < -6:
        raise DomainError("loan_rate_bad", value=str(annual_rate)[:32])
    if effective_from < clock.today():
        raise DomainError("loan_rate_past_day", day=effective_from.isoformat())
    row = LoanRate(annual_rate=rate, effective_from=effective_from, created_by_id=user_id,
                   note=(note or "").strip()[:200] or None, created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    return row


def rates(limit=200):
    """The declared rates, the latest effective first (and, on one day, the latest declared)."""
    return db.session.execute(select(LoanRate).order_by(LoanRate.effective_from.desc(), LoanRate.id.desc())
                              .limit(limit)).scalars().all()


# --- the ledger, pure ---------------------------------------------------------------------------

@dataclass
class Balance:
    principal: Decimal = ZERO
    interest_carried: Decimal = ZERO  # counted to interest_paid_to, not paid
    interest_paid_to: date | None = None


def step(balance: Balance, annual_rate, on_day, principal_delta, interest_delta) -> Balance:
    """The balance after one ledger row. A row that moves money first counts the interest since
    interest_paid_to into interest_carried (rounded once a period, half up)."""
    principal, carried, since = balance.principal, balance.interest_carried, balance.interest_paid_to
    principal_delta, interest_delta = to_money(principal_delta or 0), to_money(interest_delta or 0)
    if principal_delta == ZERO and interest_delta == ZERO:
        return Balance(principal, carried, since)  # a record only (a suspension)
    if since is not None:
        carried += interest(principal, annual_rate, since, on_day)
    since = max(since, on_day) if since is not None else on_day
    return Balance(principal + principal_delta, carried + interest_delta, since)


def replay(annual_rate, entries) -> Balance:
    """The balance the rows (oldest first) add up to: the one computation of a loan's balance."""
    balance = Balance()
    for entry in entries:
        balance = step(balance, annual_rate, entry.on_day, entry.principal_delta, entry.interest_delta)
    return balance


def _entries(loan_id):
    return db.session.execute(select(LoanLedgerEntry).where(LoanLedgerEntry.loan_id == loan_id)
                              .order_by(LoanLedgerEntry.on_day, LoanLedgerEntry.id)).scalars().all()


def entries_of(loan_id):
    """A loan's ledger, oldest first (the ledger page)."""
    return _entries(loan_id)


def get_loan(loan_id):
    found = db.session.get(PolicyLoan, loan_id)
    if found is None:
        raise DomainError("loan_not_found")
    return found


def waiting_for_money(limit=200):
    """放款登记: the approved POLICY_LOAN applications not yet completed, with their loan (None until
    open_loan made it), the earliest decided first."""
    return db.session.execute(
        select(ServicingApplication, PolicyLoan).outerjoin(PolicyLoan, PolicyLoan.application_id
                                                           == ServicingApplication.id)
        .where(ServicingApplication.kind == "POLICY_LOAN", ServicingApplication.status.in_(states.TO_COMPLETE))
        .order_by(ServicingApplication.decided_at, ServicingApplication.id).limit(limit)).all()


def _payload_money(payload, key, default=None):
    try:
        return to_money(Decimal(str(payload[key])))
    except (KeyError, TypeError, ArithmeticError, ValueError):
        return default


def on_approved(application):
    """What an approval opens: a POLICY_LOAN application gets its PENDING loan at once, so the
    payment system can report the money's arrival for it (POST /api/v1/loan/<id>/disbursement)."""
    if application.kind == "POLICY_LOAN" and application.status in states.APPROVED:
        return open_loan(application.id)
    return None


def open_loan(application_id):
    """The PENDING loan of an approved POLICY_LOAN application (once: the loan's application_id is
    unique), from what the customer applied for; at the rate in force on the day it was granted (the
    approval), which it keeps until it rolls over. The approval's caller, or the first disbursement,
    makes it."""
    found = db.session.execute(select(ServicingApplication).where(ServicingApplication.id == application_id)
                               .with_for_update()).scalar_one_or_none()
    if found is None:
        raise DomainError("application_not_found")
    existing = db.session.execute(select(PolicyLoan).where(PolicyLoan.application_id == found.id)
                                  ).scalar_one_or_none()
    if existing is not None:
        return existing
    if found.kind != "POLICY_LOAN" or found.status not in states.TO_COMPLETE:
        raise DomainError("loan_not_approved")
    payload = found.payload or {}
    principal = _payload_money(payload, "amount", found.amount)
    if principal is None or principal <= 0:
        raise DomainError("loan_not_approved")
    duty = _payload_money(payload, "stamp_duty", ZERO)
    account = payload.get("account") if isinstance(payload.get("account"), dict) else {}
    rate, _ = rate_on((found.decided_at or clock.now()).date())
    row = PolicyLoan(application_id=found.id, policy_id=found.policy_id, principal=principal, stamp_duty=duty,
                     credited_amount=principal - duty, annual_rate=rate, outstanding_principal=principal,
                     interest_carried=ZERO, status="PENDING",
                     bank_name=str(account.get("bank_name") or account.get("bank") or "")[:64] or None,
                     account_name=str(account.get("account_name") or account.get("name") or "")[:64] or None,
                     account_no_masked=str(account.get("card_masked") or account.get("card_no_masked")
                                           or account.get("masked") or "")[:32] or None,
                     account_no=found.account_no)  # the full payee number, encrypted (None on older rows)
    db.session.add(row)
    db.session.flush()
    return row


def disburse_application(application_id, arrived_text, actor, user_id=None):
    """The operator's 放款登记 of an approved application: its loan (made now if need be), then disburse()."""
    return disburse(open_loan(application_id).id, arrived_text, actor, user_id)


def owed_on(loan: PolicyLoan, on: date) -> Decimal:
    """Principal + interest to `on` as the stored (ledger-made) figures say."""
    if loan.interest_paid_to is None:
        return to_money(loan.outstanding_principal)
    return (to_money(loan.outstanding_principal) + to_money(loan.interest_carried or 0)
            + interest(loan.outstanding_principal, loan.annual_rate, loan.interest_paid_to, on))


# --- writing ------------------------------------------------------------------------------------

def append(loan: PolicyLoan, kind, event_key, on_day, principal_delta=ZERO, interest_delta=ZERO, amount=ZERO,
           actor=None, user_id=None, repayment_id=None, rows=None):
    """Insert one ledger row and set the loan's balance to what its rows now add up to. The caller holds
    the loan's row lock (and may pass the loan's rows, read with it). The same event (event_key) enters
    once: a second time is refused (409)."""
    if kind not in LEDGER_KINDS:
        raise ValueError(kind)
    rows = _entries(loan.id) if rows is None else rows
    if rows and on_day < rows[-1].on_day:
        raise DomainError("ledger_day_before_last", day=on_day.isoformat(), last=rows[-1].on_day.isoformat())
    before = replay(loan.annual_rate, rows)
    after = step(before, loan.annual_rate, on_day, principal_delta, interest_delta)
    if after.principal < 0 or after.interest_carried < 0:
        raise DomainError("ledger_negative_balance")
    entry = LoanLedgerEntry(
        loan=loan, kind=kind, event_key=event_key, on_day=on_day, principal_delta=to_money(principal_delta),
        interest_delta=to_money(interest_delta), amount=to_money(amount), principal_after=after.principal,
        interest_carried_after=after.interest_carried, interest_paid_to_after=after.interest_paid_to,
        repayment_id=repayment_id, created_by_id=user_id, actor=(actor or "")[:64] or None, created_at=clock.now())
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:  # the same event recorded at once by another process
        raise DomainError("ledger_event_recorded") from None
    loan.outstanding_principal = after.principal
    loan.interest_carried = after.interest_carried
    loan.interest_paid_to = after.interest_paid_to
    return entry


def _locked_loan(loan_id):
    loan = db.session.execute(select(PolicyLoan).where(PolicyLoan.id == loan_id).with_for_update()
                              ).scalar_one_or_none()
    if loan is None:
        raise DomainError("loan_not_found")
    return loan


def disburse(loan_id, arrived_text, actor, user_id=None):
    """The money of an approved POLICY_LOAN application arrived on `arrived_text` (YYYY-MM-DD): the
    DISBURSED row, interest from that day, due after LOAN_TERM_MONTHS, the application completed.
    Recording it twice is refused (409), however many at once. Runs in the caller's unit of work."""
    arrived = parse_day(arrived_text) if not isinstance(arrived_text, date) else arrived_text
    loan = _locked_loan(loan_id)
    if loan.status != "PENDING":
        raise DomainError("loan_already_disbursed", day=str(loan.disbursed_on or ""))
    found = db.session.get(ServicingApplication, loan.application_id) if loan.application_id else None
    if found is None or found.kind != "POLICY_LOAN" or found.status not in states.TO_COMPLETE:
        raise DomainError("loan_not_approved")
    if arrived > clock.today() or arrived < (found.decided_at or found.submitted_at).date():
        raise DomainError("disbursement_bad_day", day=arrived.isoformat())
    append(loan, "DISBURSED", f"disbursed:{loan.id}", arrived, principal_delta=loan.principal,
           amount=loan.credited_amount, actor=actor, user_id=user_id)
    loan.status, loan.disbursed_on = "ACTIVE", arrived
    loan.due_on = due_date(arrived, settings.get("LOAN_TERM_MONTHS"))
    servicing.complete(found.id)
    return loan


# --- repayment results (issue 11 point 5) -------------------------------------------------------

PAYMENT_RESULTS = ("PAID", "FAILED")


def record_repayment(loan_id, amount_text, paid_text, payment_ref, actor, user_id=None, application_no=None,
                     result="PAID"):
    """The payment system (or an operator) reports a repayment's result. A FAILED one is kept as a
    LoanRepayment row with its result and reference and no ledger row (_record_failed). Only a PAID one
    enters the ledger: interest first, then principal (loan.allocate, to the day it was paid); repaying everything
    closes the loan (REPAID); the customer's LOAN_REPAYMENT application named is completed. The same
    payment_ref enters once (409). Returns (loan, the LoanRepayment row kept)."""
    ref = (payment_ref or "").strip()
    if not ref or len(ref) > 48:
        raise DomainError("repayment_ref_missing")
    if result not in PAYMENT_RESULTS:
        raise DomainError("repayment_bad_result", result=str(result)[:16])
    amount = parse_loan_amount(amount_text, REPAYMENT_LABEL)
    paid_on = parse_day(paid_text) if not isinstance(paid_text, date) else paid_text
    row = _locked_loan(loan_id)
    found = None
    if application_no:
        found = db.session.execute(select(ServicingApplication).where(
            ServicingApplication.application_no == str(application_no)[:32]).with_for_update()).scalar_one_or_none()
        if found is None or found.kind != "LOAN_REPAYMENT" or found.policy_id != row.policy_id \
                or found.status not in states.TO_COMPLETE:
            raise DomainError("repayment_application_not_approved")
    if amount <= 0:
        raise DomainError("repayment_not_positive")
    if result == "FAILED":
        if paid_on > clock.today():
            raise DomainError("repayment_bad_day", day=paid_on.isoformat())
        return row, _record_failed(row, found, amount, paid_on, ref)
    if row.status != "ACTIVE":
        raise DomainError("loan_not_active")
    if paid_on > clock.today() or paid_on < (row.interest_paid_to or row.disbursed_on):
        raise DomainError("repayment_bad_day", day=paid_on.isoformat())
    owed_interest = to_money(row.interest_carried or 0) + interest(row.outstanding_principal, row.annual_rate,
                                                                   row.interest_paid_to, paid_on)
    balance = LoanBalance(loan_id=row.id, status=row.status, annual_rate=Decimal(row.annual_rate),
                          principal=to_money(row.outstanding_principal), interest=owed_interest,
                          interest_from=row.interest_paid_to, days=0, due_on=row.due_on)
    ((_, interest_part, principal_part),) = allocate(amount, [balance])
    repayment = LoanRepayment(loan_id=row.id, application_id=found.id if found else None, amount=amount,
                              interest_part=interest_part, principal_part=principal_part,
                              paid_at=_paid_at(paid_on), result="PAID", payment_ref=ref)
    try:
        with db.session.begin_nested():
            db.session.add(repayment)
    except IntegrityError:  # this payment_ref was paid already (uq_repayment_ref_result)
        raise DomainError("ledger_event_recorded") from None
    append(row, "REPAYMENT", f"repayment:{ref}", paid_on, principal_delta=-principal_part,
           interest_delta=-interest_part, amount=amount, actor=actor, user_id=user_id, repayment_id=repayment.id)
    if row.outstanding_principal == ZERO and to_money(row.interest_carried) == ZERO:
        row.status = "REPAID"
    if found is not None:
        servicing.complete(found.id)
    return row, repayment


def _paid_at(paid_on):
    return clock.now() if paid_on == clock.today() else datetime.combine(paid_on, time(12))


def _record_failed(loan, application, amount, paid_on, ref):
    """A FAILED payment result is kept (the attempt, its amount, day and reference; no ledger row, the
    balance unchanged) so the customer and the operator see that it failed; the application stays
    approved, waiting for a payment. The same failure reported again returns the row already kept; a
    reference already PAID is refused (409). A PAID result may follow under the same reference."""
    def kept():
        return db.session.execute(select(LoanRepayment).where(
            LoanRepayment.payment_ref == ref, LoanRepayment.result.in_(PAYMENT_RESULTS))
            .order_by(LoanRepayment.id)).scalars().all()

    earlier = kept()
    if any(r.result == "PAID" for r in earlier):
        raise DomainError("ledger_event_recorded")
    if earlier:
        if earlier[0].loan_id != loan.id:
            raise DomainError("ledger_event_recorded")
        return earlier[0]
    attempt = LoanRepayment(loan_id=loan.id, application_id=application.id if application else None, amount=amount,
                            interest_part=ZERO, principal_part=ZERO, paid_at=_paid_at(paid_on), result="FAILED",
                            payment_ref=ref)
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
    except IntegrityError:  # the same failure reported at once by another request
        raise DomainError("ledger_event_recorded") from None
    return attempt


def repayments_of(loan_id):
    """A loan's repayment results, PAID and FAILED, the latest first (the loan's page, the customer's)."""
    return db.session.execute(select(LoanRepayment).where(LoanRepayment.loan_id == loan_id)
                              .order_by(LoanRepayment.paid_at.desc(), LoanRepayment.id.desc())).scalars().all()


# --- the payment instructions (issue 15 item 4) ----------------------------------------------------

def _account(payload, bank_name, account_name, account_no):
    """The account of an instruction: the bank (code and name), the holder's name and the full number."""
    account = payload.get("account") if isinstance(payload.get("account"), dict) else {}
    return {"bank": account.get("bank") or None, "bank_name": bank_name or account.get("bank_name") or None,
            "account_name": account_name or account.get("account_name") or None, "account_no": account_no}


def _reveal(entity, entity_id, purpose, account_no, **about):
    """Every read of a full card number is a "reveal" audit event (the number in it masked with its keyed
    hash beside, services/audit.py), in the caller's unit of work."""
    from app.services import audit

    audit.record(db.session, "reveal", entity, entity_id, None,
                 {"field": "account_no", "purpose": purpose, "account_no": account_no, **about})


def payment_instruction(loan_id):
    """What the payment system needs to pay a loan waiting for its money (PENDING, its application
    approved): the amount to credit and the payee account with its full card number, decrypted from
    policy_loan.account_no. Refused (409) once the money arrived, before the approval, and for a loan
    without a full number on file (made before it was kept); 404 for no such loan. Each answer is a
    "reveal" audit event (runs in the caller's unit of work)."""
    loan = db.session.get(PolicyLoan, loan_id)
    if loan is None:
        raise DomainError("loan_not_found")
    if loan.status != "PENDING":
        raise DomainError("instruction_loan_not_pending", status=str(LOAN_STATUSES.get(loan.status, loan.status)))
    found = db.session.get(ServicingApplication, loan.application_id) if loan.application_id else None
    if found is None or found.kind != "POLICY_LOAN" or found.status not in states.TO_COMPLETE:
        raise DomainError("instruction_not_approved")
    if not loan.account_no:
        raise DomainError("instruction_no_account")
    policy_no = loan.policy.policy_no if loan.policy else None
    _reveal("policy_loan", loan.id, "payment_instruction", loan.account_no, application_no=found.application_no)
    return {"loan_id": loan.id, "application_no": found.application_no, "policy_no": policy_no,
            "status": loan.status, "principal": f"{to_money(loan.principal):.2f}",
            "stamp_duty": f"{to_money(loan.stamp_duty or 0):.2f}",
            "amount": f"{to_money(loan.credited_amount):.2f}",
            "account": _account(found.payload or {}, loan.bank_name, loan.account_name, loan.account_no)}


def debit_instruction(application_no):
    """What the payment system needs to collect an approved repayment (LOAN_REPAYMENT, approved, its
    result not yet recorded): the amount, its split and the account to debit with its full card number,
    decrypted from servicing_application.account_no. 404 for no such repayment application; 409 when it
    is not (or no longer) waiting for its payment, or has no full number on file. Each answer is a
    "reveal" audit event (runs in the caller's unit of work)."""
    found = db.session.execute(select(ServicingApplication).where(
        ServicingApplication.application_no == (application_no or "").strip()[:32])).scalar_one_or_none()
    if found is None or found.kind != "LOAN_REPAYMENT":
        raise DomainError("application_not_found")
    if found.status not in states.TO_COMPLETE:
        raise DomainError("instruction_not_approved")
    if not found.account_no:
        raise DomainError("instruction_no_account")
    payload = found.payload or {}
    _reveal("servicing_application", found.id, "debit_instruction", found.account_no)
    return {"application_no": found.application_no, "policy_no": found.policy.policy_no if found.policy else None,
            "status": found.status, "amount": f"{to_money(found.amount):.2f}",
            "interest_part": payload.get("interest_part"), "principal_part": payload.get("principal_part"),
            "loans": [int(i) for i in payload.get("loans") or [] if str(i).isdigit()],
            "account": _account(payload, None, None, found.account_no)}


# --- recompute-loans ----------------------------------------------------------------------------

def _money(value):
    return f"{to_money(value):.2f}" if value is not None else "-"


def _compare(loan, rows):
    """Where the stored figures of `loan` and of its rows differ from a replay of its rows."""
    found = []
    if not rows:
        if loan.status != "PENDING":
            found.append((loan.id, None, "ledger", "none", "missing"))
        return found
    balance = Balance()
    for row in rows:
        balance = step(balance, loan.annual_rate, row.on_day, row.principal_delta, row.interest_delta)
        for name, stored, computed in (("principal_after", row.principal_after, balance.principal),
                                       ("interest_carried_after", row.interest_carried_after,
                                        balance.interest_carried)):
            if to_money(stored) != computed:
                found.append((loan.id, row.id, name, _money(stored), _money(computed)))
        if row.interest_paid_to_after != balance.interest_paid_to:
            found.append((loan.id, row.id, "interest_paid_to_after", str(row.interest_paid_to_after),
                          str(balance.interest_paid_to)))
    for name, stored, computed in (("outstanding_principal", loan.outstanding_principal, balance.principal),
                                   ("interest_carried", loan.interest_carried or 0, balance.interest_carried)):
        if to_money(stored) != computed:
            found.append((loan.id, None, name, _money(stored), _money(computed)))
    if loan.interest_paid_to != balance.interest_paid_to:
        found.append((loan.id, None, "interest_paid_to", str(loan.interest_paid_to), str(balance.interest_paid_to)))
    return found


LOAN_FIGURES = (PolicyLoan.id, PolicyLoan.status, PolicyLoan.annual_rate, PolicyLoan.outstanding_principal,
                PolicyLoan.interest_carried, PolicyLoan.interest_paid_to)
ROW_FIGURES = (LoanLedgerEntry.id, LoanLedgerEntry.loan_id, LoanLedgerEntry.on_day, LoanLedgerEntry.principal_delta,
               LoanLedgerEntry.interest_delta, LoanLedgerEntry.principal_after, LoanLedgerEntry.interest_carried_after,
               LoanLedgerEntry.interest_paid_to_after)


def recompute(batch=RECOMPUTE_BATCH):
    """Replay every loan's ledger, in id ranges of `batch` loans (two queries a range, plain rows of the
    figures it compares, no ORM objects: a million loans in well under a minute), and yield each
    difference as (loan_id, ledger row id or None, field, stored, ledger says). Reads only."""
    last = db.session.execute(select(func.max(PolicyLoan.id))).scalar() or 0
    start = 0
    while start < last:
        end = start + batch
        loans = db.session.execute(select(*LOAN_FIGURES).where(PolicyLoan.id > start, PolicyLoan.id <= end)
                                   .order_by(PolicyLoan.id)).all()
        rows = {}
        for row in db.session.execute(
                select(*ROW_FIGURES).where(LoanLedgerEntry.loan_id > start, LoanLedgerEntry.loan_id <= end)
                .order_by(LoanLedgerEntry.loan_id, LoanLedgerEntry.on_day, LoanLedgerEntry.id)):
            rows.setdefault(row.loan_id, []).append(row)
        for loan in loans:
            yield from _compare(loan, rows.get(loan.id, []))
        db.session.expunge_all()  # a million loans do not stay in the session
        start = end


# --- the daily loan job (issue 11 point 4) -------------------------------------------------------
# Reminders 30 and 7 days before the due date, the roll-over on the due date, the suspension (中止) when
# principal plus interest reaches the cash value. Every step claims its rows with a conditional write
# (a reminder stage, the loan's status, the policy's status), so running the job twice or twice at once
# changes nothing more; a day the job missed is caught up (due dates up to today, reminders in range).

SMS_REMINDER, SMS_SUSPENDED, SMS_ROLLED_OVER = "LOAN_DUE_REMINDER", "LOAN_SUSPENDED", "LOAN_ROLLED_OVER"
JOB_BATCH = 500


def send_reminders(today=None, batch=JOB_BATCH * 4):
    """SMS the policyholder of each active loan due within LOAN_REMINDER_FIRST_DAYS (30), then again
    within LOAN_REMINDER_LAST_DAYS (7); each reminder once. Set-based a batch at a time: the batch's rows
    are locked (SKIP LOCKED: a concurrent run takes others), stamped with one UPDATE (reminded_days), read
    with their policy and holder in one query and their SMS queued with one INSERT; the window is read
    in (due_on, id) order from where the last batch ended (the index's order). Returns how many."""
    from sqlalchemy import and_, or_, update

    from app.models.customer import Customer
    from app.models.policy import Policy
    from app.services import sms

    today = today or clock.today()
    first, last = settings.get_many("LOAN_REMINDER_FIRST_DAYS", "LOAN_REMINDER_LAST_DAYS")
    sent = 0
    for days, lower in ((last, 0), (first, last)):
        window = (PolicyLoan.status == "ACTIVE", PolicyLoan.due_on > today + relativedelta(days=lower),
                  PolicyLoan.due_on <= today + relativedelta(days=days),
                  or_(PolicyLoan.reminded_days.is_(None), PolicyLoan.reminded_days > days))
        after = ()  # keyset: (due_on, id) of the last row claimed, so the window is read once
        while True:
            with unit.work():
                query = select(PolicyLoan.id, PolicyLoan.due_on).where(*window)
                if after:
                    query = query.where(or_(PolicyLoan.due_on > after[0],
                                            and_(PolicyLoan.due_on == after[0], PolicyLoan.id > after[1])))
                claimed = db.session.execute(query.order_by(PolicyLoan.due_on, PolicyLoan.id).limit(batch)
                                             .with_for_update(skip_locked=True)).all()
                if not claimed:
                    break
                after = (claimed[-1].due_on, claimed[-1].id)
                ids = [row.id for row in claimed]
                db.session.execute(update(PolicyLoan).where(PolicyLoan.id.in_(ids)).values(reminded_days=days)
                                   .execution_options(synchronize_session=False))
                rows = db.session.execute(
                    select(PolicyLoan, Policy.policy_no, Customer.id, Customer.name, Customer.mobile)
                    .join(Policy, Policy.id == PolicyLoan.policy_id).join(Customer, Customer.id == Policy.holder_id)
                    .where(PolicyLoan.id.in_(ids))).all()
                items = [{"phone": mobile, "customer_id": customer_id,
                          "params": {"name": name, "no": policy_no, "due": row.due_on.isoformat(),
                                     "amount": f"{owed_on(row, row.due_on):.2f}", "days": (row.due_on - today).days}}
                         for row, policy_no, customer_id, name, mobile in rows if mobile]
                try:
                    sms.send_after_commit(sms.queue_many(SMS_REMINDER, items, purpose=SMS_REMINDER))
                except DomainError as exc:  # a template switched off: the job goes on, the log says so
                    log.error("loan reminders (%s loans) not queued: %s", len(items), exc.key)
                sent += len(ids)
    return sent


def roll_over(loan_id, today=None, actor="job:loans.daily"):
    """On its due date an unpaid loan's interest joins its principal as a new loan at the rate then in
    force (DOMAIN.md 4); roll_over_due for one loan, in the caller's transaction. Returns the new loan, or
    None when the loan is no longer active, not yet due or held by another run."""
    today = today or clock.today()
    done = _roll_batch(today, settings.get("LOAN_TERM_MONTHS"), {}, actor, 1, only=loan_id)
    return db.session.execute(select(PolicyLoan).where(PolicyLoan.rolled_from_id == loan_id)).scalar_one_or_none() \
        if done else None


ROLL_COLUMNS = (PolicyLoan.id, PolicyLoan.policy_id, PolicyLoan.outstanding_principal, PolicyLoan.interest_carried,
                PolicyLoan.interest_paid_to, PolicyLoan.annual_rate, PolicyLoan.due_on, PolicyLoan.bank_name,
                PolicyLoan.account_name, PolicyLoan.account_no_masked)


def _owed_interest(loan, day):
    """Unpaid interest of `loan` (ROLL_COLUMNS) counted to `day`, as append() counts it."""
    return to_money(loan.interest_carried or 0) + (
        interest(loan.outstanding_principal, loan.annual_rate, loan.interest_paid_to, day)
        if loan.interest_paid_to else ZERO)


def _carry_over(loans, kind, prefix, base_day, successor, actor):
    """Close `loans` (ROLL_COLUMNS, locked by the caller) into one ACTIVE successor each, set-based, in the
    caller's transaction: the day of each is max(base_day, interest counted to) (base_day: a column or a
    day); one executemany INSERT of the closing `kind` rows ("<prefix>-out:<id>": interest counted to the
    day, principal and interest moved out), one UPDATE of the old loans (ROLLED_OVER, nothing owed), one
    executemany INSERT of the successors (rolled_from_id; `successor(loan, day, principal, owed_interest)`
    gives their rate, due date, principal and carried interest) and one INSERT ... SELECT of their opening
    rows ("<prefix>-in:<id>": what they carry). The figures are what append() and replay() make of the
    same rows. Returns {old loan id: (day, principal, owed interest, successor values)}."""
    from sqlalchemy import case, cast, insert, literal, String, update

    now, actor = clock.now(), (actor or "")[:64] or None
    table = PolicyLoan.__table__
    out_rows, new_loans, done = [], [], {}
    for loan in loans:
        start = loan.due_on if base_day is table.c.due_on else base_day
        day = max(start, loan.interest_paid_to or start)
        principal, owed_interest = to_money(loan.outstanding_principal), _owed_interest(loan, day)
        out_rows.append(dict(loan_id=loan.id, kind=kind, event_key=f"{prefix}-out:{loan.id}", on_day=day,
                             principal_delta=-principal, interest_delta=-owed_interest,
                             amount=principal + owed_interest, principal_after=ZERO, interest_carried_after=ZERO,
                             interest_paid_to_after=day, actor=actor, created_at=now))
        values = dict(policy_id=loan.policy_id, stamp_duty=ZERO, credited_amount=ZERO, interest_paid_to=day,
                      status="ACTIVE", disbursed_on=day, rolled_from_id=loan.id, bank_name=loan.bank_name,
                      account_name=loan.account_name, account_no_masked=loan.account_no_masked, created_at=now,
                      updated_at=now, **successor(loan, day, principal, owed_interest))
        new_loans.append(values)
        done[loan.id] = (day, principal, owed_interest, values)
    if not done:
        return done
    ids = list(done)
    try:
        with db.session.begin_nested():
            db.session.execute(insert(LoanLedgerEntry.__table__), out_rows)
    except IntegrityError:  # a closing row of one of them exists: another run got there (never under the lock)
        raise DomainError("ledger_event_recorded") from None
    base = base_day if base_day is table.c.due_on else literal(base_day)
    closed = db.session.execute(
        update(table).where(table.c.id.in_(ids), table.c.status == "ACTIVE")
        .values(status="ROLLED_OVER", outstanding_principal=ZERO, interest_carried=ZERO, updated_at=now,
                interest_paid_to=case((table.c.interest_paid_to > base, table.c.interest_paid_to), else_=base))
    ).rowcount
    if closed != len(ids):  # the caller's lock makes this impossible; if it ever is, nothing is kept
        raise RuntimeError(f"carry-over closed {closed} of {len(ids)} loans")
    db.session.execute(insert(table), new_loans)
    new = table.alias("new")
    db.session.execute(insert(LoanLedgerEntry.__table__).from_select(
        ["loan_id", "kind", "event_key", "on_day", "principal_delta", "interest_delta", "amount", "principal_after",
         "interest_carried_after", "interest_paid_to_after", "actor", "created_at"],
        select(new.c.id, literal(kind), literal(f"{prefix}-in:") + cast(new.c.rolled_from_id, String),
               new.c.disbursed_on, new.c.outstanding_principal, new.c.interest_carried,
               new.c.outstanding_principal + new.c.interest_carried, new.c.outstanding_principal,
               new.c.interest_carried, new.c.disbursed_on, literal(actor, String), literal(now))
        .where(new.c.rolled_from_id.in_(ids))))
    return done


def _holders(policy_ids):
    """{policy_id: (policy_no, customer id, name, mobile)} of these policies' holders, one query."""
    from app.models.customer import Customer
    from app.models.policy import Policy

    return {pid: rest for pid, *rest in db.session.execute(
        select(Policy.id, Policy.policy_no, Customer.id, Customer.name, Customer.mobile)
        .join(Customer, Customer.id == Policy.holder_id).where(Policy.id.in_(set(policy_ids))))}


def _queue_notices(template_code, items):
    """Queue the customers' SMS with one INSERT in this transaction, sent after the commit; a template
    switched off in the admin is logged and does not stop the job."""
    from app.services import sms

    try:
        sms.send_after_commit(sms.queue_many(template_code, items, purpose=template_code))
    except DomainError as exc:
        log.error("loan SMS %s (%s) not queued: %s", template_code, len(items), exc.key)


def _roll_batch(today, term, rates, actor, batch, only=None):
    """Roll over up to `batch` due active loans in the caller's transaction, set-based: the loans are
    claimed FOR UPDATE SKIP LOCKED (a concurrent run takes others, and a loan it rolled over is no longer
    ACTIVE when this one reads it) and carried over into new loans (_carry_over: the ROLLOVER rows, one
    UPDATE, the new loans at the rate in force on the day, due a term later), and the customers' SMS
    (LOAN_ROLLED_OVER) queued with one INSERT, sent after the commit. Returns how many rolled over."""
    due = [PolicyLoan.status == "ACTIVE", PolicyLoan.due_on <= today]
    if only is not None:
        due.append(PolicyLoan.id == only)
    loans = db.session.execute(select(*ROLL_COLUMNS).where(*due).order_by(PolicyLoan.id).limit(batch)
                               .with_for_update(skip_locked=True)).all()

    def successor(loan, day, principal, owed_interest):
        if day not in rates:
            rates[day] = rate_on(day)[0]
        total = principal + owed_interest
        return dict(principal=total, annual_rate=rates[day], outstanding_principal=total, interest_carried=ZERO,
                    due_on=due_date(day, term))
    done = _carry_over(loans, "ROLLOVER", "rollover", PolicyLoan.__table__.c.due_on, successor, actor)
    holders = _holders(loan.policy_id for loan in loans)
    items = []
    for loan in loans:
        (policy_no, customer_id, name, mobile), (day, _, owed_interest, new) = holders[loan.policy_id], done[loan.id]
        if mobile:
            items.append({"phone": mobile, "customer_id": customer_id, "params": {
                "name": name, "no": policy_no, "day": day.isoformat(), "interest": f"{owed_interest:.2f}",
                "amount": f"{new['principal']:.2f}", "rate": f"{Decimal(new['annual_rate']) * 100:.2f}%",
                "due": new["due_on"].isoformat()}})
    if items:
        _queue_notices(SMS_ROLLED_OVER, items)
    return len(loans)


def roll_over_due(today=None, batch=JOB_BATCH * 4, actor="job:loans.daily"):
    """Every active loan whose due date has come, `batch` loans a transaction (_roll_batch) until none is
    left that this run can claim; a loan another run holds or rolled over meanwhile is skipped, so two
    runs at once roll each loan over once. Returns how many this run rolled over."""
    today = today or clock.today()
    term, rates, done = settings.get("LOAN_TERM_MONTHS"), {}, 0

    def one_batch():
        with unit.work():
            return _roll_batch(today, term, rates, actor, batch)
    while True:
        count = unit.retry_on_lock(one_batch)
        if not count:
            return done
        done += count


def _over_value(today, first, last):
    """{policy_id: owed} of the policies in force with ids in (first, last] whose active loans' principal
    plus interest to `today` reaches the cash value. The database sums each policy's loans (interest
    unrounded) and returns only the policies within a fen a loan of their cash value; those are then
    summed exactly as the ledger rounds (a fen a loan, half up), from the stored (ledger-made) columns."""
    from app.models.policy import Policy

    if db.engine.dialect.name == "mysql":
        days = func.datediff(today, PolicyLoan.interest_paid_to)
    else:
        days = func.julianday(today) - func.julianday(PolicyLoan.interest_paid_to)
    unrounded = func.sum(PolicyLoan.outstanding_principal + PolicyLoan.interest_carried
                         + PolicyLoan.outstanding_principal * PolicyLoan.annual_rate * func.coalesce(days, 0) / 365)
    in_range = (PolicyLoan.status == "ACTIVE", Policy.status == "IN_FORCE", PolicyLoan.policy_id > first,
                PolicyLoan.policy_id <= last)
    near = select(PolicyLoan.policy_id).join(Policy, Policy.id == PolicyLoan.policy_id).where(*in_range) \
        .group_by(PolicyLoan.policy_id, Policy.cash_value) \
        .having(unrounded + func.count(PolicyLoan.id) * Decimal("0.01") >= Policy.cash_value)
    candidates = db.session.execute(near).scalars().all()
    if not candidates:
        return {}
    rows = db.session.execute(
        select(PolicyLoan.policy_id, PolicyLoan.outstanding_principal, PolicyLoan.interest_carried,
               PolicyLoan.annual_rate, PolicyLoan.interest_paid_to, Policy.cash_value)
        .join(Policy, Policy.id == PolicyLoan.policy_id)
        .where(*in_range, PolicyLoan.policy_id.in_(candidates))).all()
    owed, cash = {}, {}
    for policy_id, principal, carried, rate, since, cash_value in rows:
        owed[policy_id] = owed.get(policy_id, ZERO) + to_money(principal) + to_money(carried or 0) + (
            interest(principal, rate, since, today) if since else ZERO)
        cash[policy_id] = cash_value
    return {pid: total for pid, total in owed.items() if cash[pid] is not None and total >= to_money(cash[pid])}


def _freeze(loans, today, actor):
    """The loans of a policy suspended on `today` stop accruing interest after that day.

    Why: the suspension happens because the debt reached the cash value, the loan's only security; from
    then on the policy's cover is suspended, and at reinstatement or termination the debt is settled at
    most against that value, so interest counted past the suspension day would be a debt the policy can
    never carry (the company's practice: 中止后停止计息). A reinstatement (复效) pays the frozen debt.

    How, in the ledger: a loan keeps one rate for all its rows, so each loan is closed with a SUSPENDED
    row that counts its interest to the day and moves principal and interest out (ROLLED_OVER, like a
    roll-over), and an ACTIVE successor (rolled_from_id) opens with a SUSPENDED row carrying the same
    principal and the interest as unpaid interest, at rate 0 and with no due date: no interest, no
    reminder, no roll-over; a repayment still pays its interest first, then principal. The balance the
    customer and the operator see is unchanged on the day and stays so."""
    def successor(loan, day, principal, owed_interest):
        return dict(principal=principal, annual_rate=ZERO, outstanding_principal=principal,
                    interest_carried=owed_interest, due_on=None)
    return _carry_over(loans, "SUSPENDED", "suspended", today, successor, actor)


def suspend_over_value(today=None, batch=JOB_BATCH * 200, actor="job:loans.daily"):
    """A policy in force whose loans' principal plus interest to today reaches its cash value becomes
    中止 (SUSPENDED), its active loans stop accruing interest from that day (_freeze) and the policyholder
    gets the notice (art. 21: within 10 days). Read in policy-id ranges of `batch` (all of a policy's loans
    summed together, _over_value); the range's policies are claimed FOR UPDATE SKIP LOCKED and still IN_FORCE
    (a concurrent run takes others; one held by someone else is caught up the next day), suspended with one
    UPDATE, their loans frozen set-based and the notices queued with one INSERT. Returns how many
    policies this run suspended."""
    from sqlalchemy import update

    from app.models.policy import Policy

    today = today or clock.today()
    suspended = 0
    top = db.session.execute(select(func.max(PolicyLoan.policy_id)).where(PolicyLoan.status == "ACTIVE")).scalar() or 0
    for first in range(0, top, batch):
        over = _over_value(today, first, first + batch)
        if not over:
            continue

        def one_batch():
            with unit.work():
                claimed = db.session.execute(
                    select(Policy.id, Policy.cash_value).where(Policy.id.in_(sorted(over)), Policy.status == "IN_FORCE")
                    .order_by(Policy.id).with_for_update(skip_locked=True)).all()
                if not claimed:
                    return 0
                ids = [pid for pid, _ in claimed]
                db.session.execute(update(Policy).where(Policy.id.in_(ids), Policy.status == "IN_FORCE")
                                   .values(status="SUSPENDED").execution_options(synchronize_session=False))
                loans = db.session.execute(select(*ROLL_COLUMNS).where(
                    PolicyLoan.policy_id.in_(ids), PolicyLoan.status == "ACTIVE").order_by(PolicyLoan.id)
                    .with_for_update()).all()
                _freeze(loans, today, actor)
                holders = _holders(ids)
                items = [{"phone": holders[pid][3], "customer_id": holders[pid][1],
                          "params": {"name": holders[pid][2], "no": holders[pid][0], "amount": f"{over[pid]:.2f}",
                                     "cash_value": f"{to_money(cash):.2f}"}}
                         for pid, cash in claimed if pid in holders and holders[pid][3]]
                if items:
                    _queue_notices(SMS_SUSPENDED, items)
                return len(ids)
        # a concurrent roll-over holds loans and asks for their policy (its new loan's key): a deadlock the
        # database ends by rolling one back; this batch is then done again (its SMS were dropped with it)
        suspended += unit.retry_on_lock(one_batch)
    return suspended


def run_daily(today=None):
    """The daily loan job: roll-overs first (a due loan is not reminded), then reminders, then suspensions."""
    today = today or clock.today()
    return {"rolled_over": roll_over_due(today), "reminded": send_reminders(today),
            "suspended": suspend_over_value(today)}
