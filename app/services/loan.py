"""Policy loan figures (DOMAIN.md sections 4 and 5, issue 11): what a policy may borrow, the stamp
duty, the interest to the day, the payoff and how a repayment is split. The trial calculation
(保全试算) of the operators' CLI, the core system's REST API and the customer's pages, so a figure
is computed once.

The pure rules at the top take Decimals and dates; quote() and payoff() read a policy and its loans
(read only, nothing is written). Money is rounded by money.to_money alone (half up to the fen).

The rate in force for a new loan is the rate table the company declares (rate_on(); loan_rate,
issue 11 point 2); while the table is empty it is the business setting LOAN_ANNUAL_RATE, and the
quote says which (rate_source). A loan on file keeps its own annual_rate. A loan's unpaid principal
and interest are its columns, which only services/ledger.py writes, from the loan's ledger.
"""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models.policy import POLICY_STATUSES, Policy
from app.models.servicing import LoanRate, PolicyLoan, ServicingApplication
from app.services import clock, settings
from app.services.errors import DomainError, message_for
from app.services.money import to_money
from app.services.servicing.states import IN_PROGRESS
from app.services.validation import normalize_text, parse_amount

ZERO = Decimal("0.00")
DAYS_IN_YEAR = Decimal(365)  # actual/365: every year counts 365 days, leap or not
UNIT_LINKED = "UNIT_LINKED"  # 投连险: the account belongs to the investment, no policy loans
# An application of these kinds in progress (submitted, waiting for the insured's consent, in review,
# or approved and not yet carried out: the workflow's IN_PROGRESS) refuses a new loan on the policy.
LOAN_KINDS = ("POLICY_LOAN", "LOAN_REPAYMENT")
# Loans whose principal is owed: ACTIVE (money arrived, interest accrues) and PENDING (approved, the
# money not yet paid out: it already binds the cash value, so it reduces what may be borrowed)
UNPAID = ("ACTIVE", "PENDING")
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # --on / ?on= outside: unusable input

AMOUNT_LABEL = _l("本次贷款金额")
REPAYMENT_LABEL = _l("还款金额")
DAY_LABEL = _l("计算日期")


# --- the rules, pure ----------------------------------------------------------------------------

def interest(principal: Decimal, annual_rate: Decimal, start: date, end: date) -> Decimal:
    """Simple interest from `start` (the day the money arrived, or interest settled to) to `end`,
    actual/365. The exact product principal × rate × days / 365 is rounded once, half up to the fen,
    at the end: rounding a daily figure first would put up to half a fen a day into the debt."""
    days = max((end - start).days, 0)
    return to_money(Decimal(principal) * Decimal(annual_rate) * days / DAYS_IN_YEAR)


def stamp_duty(amount: Decimal, threshold: Decimal, rate: Decimal) -> Decimal:
    """Seed: a loan over the threshold (2000) pays stamp duty of 0.05‰ of the amount, half up to the
    fen: 12000 -> 0.60, 2000 -> 0.00, 2000.01 -> 0.10."""
    return to_money(Decimal(amount) * Decimal(rate)) if amount > threshold else ZERO


def needs_id_images(amount: Decimal, threshold: Decimal) -> bool:
    """Seed: a loan over 10000 needs both sides of the ID card (10000 no, 10000.01 yes)."""
    return amount > threshold


def due_date(arrival: date, term_months: int) -> date:
    """A loan runs `term_months` (6) from the day the money arrives; the 31st runs to the month's end."""
    return arrival + relativedelta(months=term_months)


def loanable_amount(cash_value: Decimal, ratio: Decimal, unpaid_principal: Decimal,
                    unpaid_interest: Decimal) -> Decimal:
    """可贷金额 = ratio × cash value − unpaid principal − interest to the day, never below 0."""
    return max(to_money(Decimal(ratio) * Decimal(cash_value)) - unpaid_principal - unpaid_interest, ZERO)


@dataclass
class LoanBalance:
    """One loan's debt on a day."""
    loan_id: int
    status: str
    annual_rate: Decimal
    principal: Decimal  # unpaid principal
    interest: Decimal  # accrued and unpaid to the day
    interest_from: date | None  # None: the money has not arrived (no interest yet)
    days: int
    due_on: date | None

    @property
    def total(self):
        return self.principal + self.interest


def allocate(amount: Decimal, balances):
    """How a repayment of `amount` is split (DOMAIN.md 5: interest first, then principal): all the
    interest of the loans, oldest loan first, then their principal, oldest first. Returns
    [(balance, interest_part, principal_part)]; DomainError when the amount exceeds the total."""
    total = sum((b.total for b in balances), ZERO)
    if amount > total:
        raise DomainError("repayment_above_total", amount=amount, total=total)
    left, parts = amount, {b.loan_id: [ZERO, ZERO] for b in balances}
    for index, attribute in ((0, "interest"), (1, "principal")):
        for balance in balances:
            share = min(left, getattr(balance, attribute))
            parts[balance.loan_id][index] += share
            left -= share
    return [(b, *parts[b.loan_id]) for b in balances]


# --- the rate in force ----------------------------------------------------------------------------

RATE_TABLE, RATE_SETTING = "rate_table", "setting"


def rate_on(day: date):
    """(annual rate, source) in force on `day`: the declared rate with the latest effective day not
    after `day` (the latest declared on that day), else the setting LOAN_ANNUAL_RATE (source says so)."""
    found = db.session.execute(
        select(LoanRate.annual_rate).where(LoanRate.effective_from <= day)
        .order_by(LoanRate.effective_from.desc(), LoanRate.id.desc()).limit(1)).scalar()
    if found is not None:
        return Decimal(found), RATE_TABLE
    return Decimal(settings.get("LOAN_ANNUAL_RATE")), RATE_SETTING


# --- reading a policy ---------------------------------------------------------------------------

def parse_loan_amount(text, label=AMOUNT_LABEL):
    """An amount typed by a person or a system (full-width digits folded); DomainError when it is not
    a non-negative amount with at most two decimals."""
    amount = parse_amount(normalize_text(text))
    if amount is None:
        raise DomainError("field_bad_money", field=label, value=normalize_text(text)[:32])
    return amount


def parse_day(text):
    """`--on` / `?on=`: YYYY-MM-DD from 1900 to 2999, else DomainError; empty: today."""
    raw = normalize_text(text)
    if not raw:
        return clock.today()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or len(raw) != 10 or not FIRST_DAY <= day <= LAST_DAY:
        raise DomainError("field_bad_date", field=DAY_LABEL, value=raw[:32])
    return day


def _policy(policy_no):
    number = normalize_text(policy_no)
    policy = None
    if 0 < len(number) <= 32:  # policy.policy_no is VARCHAR(32)
        policy = (db.session.query(Policy).options(joinedload(Policy.product))
                  .filter(Policy.policy_no == number).one_or_none())
    if policy is None:
        raise DomainError("policy_not_found", policy_no=number[:32])
    return policy


def balances(policy_id, on: date):
    """The policy's unpaid loans with their interest to `on`, oldest first."""
    loans = (db.session.query(PolicyLoan)
             .filter(PolicyLoan.policy_id == policy_id, PolicyLoan.status.in_(UNPAID))
             .order_by(PolicyLoan.id).all())
    found = []
    for loan in loans:
        start = (loan.interest_paid_to or loan.disbursed_on) if loan.status == "ACTIVE" else None
        principal = to_money(loan.outstanding_principal)
        carried = to_money(loan.interest_carried or 0)  # counted to interest_paid_to, not yet paid
        found.append(LoanBalance(
            loan_id=loan.id, status=loan.status, annual_rate=Decimal(loan.annual_rate), principal=principal,
            interest=carried + interest(principal, loan.annual_rate, start, on) if start else ZERO,
            interest_from=start, days=max((on - start).days, 0) if start else 0, due_on=loan.due_on))
    return found


def _reason(key, **params):
    return {"code": key, "message": message_for(key, **params)}


def application_in_progress(policy_id):
    """The number of the policy's loan or repayment application not yet finished (undecided, or approved
    and waiting for the money), or None: a policy takes one at a time."""
    busy = (db.session.query(ServicingApplication.application_no)
            .filter(ServicingApplication.policy_id == policy_id,
                    ServicingApplication.kind.in_(LOAN_KINDS),
                    ServicingApplication.status.in_(IN_PROGRESS))
            .order_by(ServicingApplication.id).first())
    return busy[0] if busy is not None else None


def refusals(policy):
    """Why this policy cannot take a loan now (empty: it can), each with its Chinese message."""
    product = policy.product
    reasons = []
    if policy.status != "IN_FORCE":
        reasons.append(_reason("loan_policy_not_in_force",
                               status=str(POLICY_STATUSES.get(policy.status, policy.status))))
    if not product.loan_allowed:
        reasons.append(_reason("loan_product_not_allowed", product=product.name))
    if product.kind == UNIT_LINKED:
        reasons.append(_reason("loan_unit_linked"))
    busy = application_in_progress(policy.id)
    if busy is not None:
        reasons.append(_reason("loan_application_in_progress", application_no=busy))
    if not policy.cash_value or policy.cash_value <= 0:
        reasons.append(_reason("loan_no_cash_value"))
    return reasons


def loan_ratio(product, company_ratio):
    """The product's loanable share when it declares one, never above the company's (at most 80%)."""
    if product.loan_ratio is None:
        return Decimal(company_ratio)
    return min(Decimal(product.loan_ratio), Decimal(company_ratio))


@dataclass
class Quote:
    policy_no: str
    on: date
    amount: Decimal
    cash_value: Decimal
    loan_ratio: Decimal
    unpaid_principal: Decimal
    unpaid_interest: Decimal
    loanable_amount: Decimal
    annual_rate: Decimal
    stamp_duty: Decimal
    credited_amount: Decimal
    due_on: date
    needs_id_images: bool
    reasons: list = field(default_factory=list)
    rate_source: str = RATE_TABLE

    @property
    def possible(self):
        return not self.reasons

    def as_json(self):
        return {
            "policy_no": self.policy_no, "on": self.on.isoformat(), "possible": self.possible,
            "amount": _money(self.amount), "cash_value": _money(self.cash_value),
            "loan_ratio": f"{self.loan_ratio:.4f}", "unpaid_principal": _money(self.unpaid_principal),
            "unpaid_interest": _money(self.unpaid_interest), "loanable_amount": _money(self.loanable_amount),
            "annual_rate": f"{self.annual_rate:.4f}", "annual_rate_percent": _money(self.annual_rate * 100),
            "rate_source": self.rate_source,
            "stamp_duty": _money(self.stamp_duty), "credited_amount": _money(self.credited_amount),
            "due_on": self.due_on.isoformat(), "needs_id_images": self.needs_id_images,
            "reasons": self.reasons,
        }


def _money(value):
    return f"{to_money(value):.2f}"


def quote(policy_no, amount_text, on_text=None):
    """The trial calculation of a new loan of `amount_text` on `policy_no` as on `on_text` (today when
    empty): 可贷金额, rate, 印花税, 实际入账金额, due date, ID images, and every reason it is refused.
    DomainError (400/404) for unusable input: an unknown policy, an amount or a day that is none."""
    amount = parse_loan_amount(amount_text)
    on = parse_day(on_text)
    policy = _policy(policy_no)
    ratio, term, duty_threshold, duty_rate, id_threshold = settings.get_many(
        "LOAN_RATIO", "LOAN_TERM_MONTHS", "STAMP_DUTY_THRESHOLD", "STAMP_DUTY_RATE", "ID_UPLOAD_THRESHOLD")
    rate, rate_source = rate_on(on)
    ratio = loan_ratio(policy.product, ratio)
    owed = balances(policy.id, on)
    principal = sum((b.principal for b in owed), ZERO)
    accrued = sum((b.interest for b in owed), ZERO)
    cash_value = to_money(policy.cash_value or 0)
    loanable = loanable_amount(cash_value, ratio, principal, accrued)
    duty = stamp_duty(amount, duty_threshold, duty_rate)
    reasons = refusals(policy)
    if amount <= 0:
        reasons.append(_reason("loan_amount_not_positive"))
    elif not reasons and loanable <= 0:
        reasons.append(_reason("loan_nothing_loanable"))
    elif not reasons and amount > loanable:
        reasons.append(_reason("loan_amount_above_loanable", amount=amount, loanable=loanable))
    return Quote(policy_no=policy.policy_no, on=on, amount=amount, cash_value=cash_value, loan_ratio=ratio,
                 unpaid_principal=principal, unpaid_interest=accrued, loanable_amount=loanable,
                 annual_rate=Decimal(rate), stamp_duty=duty, credited_amount=amount - duty,
                 due_on=due_date(on, term), needs_id_images=needs_id_images(amount, id_threshold),
                 reasons=reasons, rate_source=rate_source)


@dataclass
class Payoff:
    policy_no: str
    on: date
    loans: list
    amount: Decimal | None = None  # the repayment tried, if any
    split: list = field(default_factory=list)  # [(balance, interest_part, principal_part)]
    reasons: list = field(default_factory=list)

    @property
    def principal(self):
        return sum((b.principal for b in self.loans), ZERO)

    @property
    def interest(self):
        return sum((b.interest for b in self.loans), ZERO)

    @property
    def possible(self):
        return not self.reasons

    def as_json(self):
        found = {"policy_no": self.policy_no, "on": self.on.isoformat(), "possible": self.possible,
                 "principal": _money(self.principal), "interest": _money(self.interest),
                 "total": _money(self.principal + self.interest),
                 "loans": [{"loan_id": b.loan_id, "principal": _money(b.principal), "interest": _money(b.interest),
                            "total": _money(b.total), "annual_rate": f"{b.annual_rate:.4f}",
                            "interest_from": b.interest_from.isoformat(), "days": b.days,
                            "due_on": b.due_on.isoformat() if b.due_on else None} for b in self.loans],
                 "reasons": self.reasons}
        if self.amount is not None:
            interest_part = sum((part[1] for part in self.split), ZERO)
            principal_part = sum((part[2] for part in self.split), ZERO)
            found["repayment"] = {
                "amount": _money(self.amount), "interest_part": _money(interest_part),
                "principal_part": _money(principal_part),
                "principal_after": _money(self.principal - principal_part) if self.split else _money(self.principal),
                "closes_loans": bool(self.split) and principal_part == self.principal}
        return found


def payoff(policy_no, on_text=None, amount_text=None):
    """What the policy owes on `on_text` (today when empty): unpaid principal, interest to the day and
    their total, loan by loan; with `amount_text`, how that repayment splits (interest first). Only
    loans whose money arrived are owed; refused (reasons) when none is, or the amount is above the
    total or zero."""
    amount = parse_loan_amount(amount_text, REPAYMENT_LABEL) if amount_text not in (None, "") else None
    on = parse_day(on_text)
    policy = _policy(policy_no)
    owed = [b for b in balances(policy.id, on) if b.interest_from is not None]
    result = Payoff(policy_no=policy.policy_no, on=on, loans=owed, amount=amount)
    if not owed:
        result.reasons.append(_reason("loan_none_unpaid"))
    elif amount is not None and amount <= 0:
        result.reasons.append(_reason("repayment_not_positive"))
    elif amount is not None:
        try:
            result.split = allocate(amount, owed)
        except DomainError as refused:
            result.reasons.append(_reason(refused.key, **refused.params))
    return result
