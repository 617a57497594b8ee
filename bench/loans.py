"""The daily loan job and `recompute-loans` over many active loans on a MariaDB of our own, and the quote
p95 beside them (prints the figures; not a test). Issue 11's targets on the 2-core machine: the daily job
under 20 s, the recompute under 60 s, a quote p95 under 20 ms.

    .venv/bin/python bench/loans.py [--loans 1000000] [--samples 5000]

Seeds the demo data, N bulk policies with a cash value and one active loan each (set-based: INSERT ...
SELECT), with its DISBURSED ledger row, due dates spread over the next 180 days (so ~1/180 fall due on
the day of the run), the reminders of the days before already sent (as a daily job would have left
them: due within 29 days reminded at 30, within 6 at 7, so the run sends the 30- and 7-day reminders of
one day each), and one loan in 1,000 borrowed up to 99% of the cash value (the ones whose interest has
run for 74 days or more reach it: suspensions). Then it times the daily job (servicing.daily_loans:
roll-overs, reminders, suspensions; the SMS queued and, as on the embedded default, sent after each
commit to the outbox), a second run of it (nothing to do), `recompute-loans` over every loan, and 5,000
random quotes, each in its own transaction as a request would.
"""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import harness  # noqa: E402

CHUNK = 100_000  # rows an INSERT ... SELECT (a bounded transaction)


def _seed_loans(db, today):
    """One active loan a policy, set-based; returns seconds."""
    from sqlalchemy import text

    started = time.perf_counter()
    db.session.execute(text("UPDATE policy SET cash_value = ROUND(premium * 3.4, 2)"))
    db.session.commit()
    top = db.session.execute(text("SELECT MAX(id) FROM policy")).scalar() or 0
    for first in range(0, top, CHUNK):
        window = {"first": first, "last": first + CHUNK, "today": today}
        # due in 0..179 days; one in 1,000 (id % 1000 = 7) borrowed at 99% of the cash value
        db.session.execute(text("""
            INSERT INTO policy_loan (policy_id, principal, stamp_duty, credited_amount, annual_rate,
                                     outstanding_principal, interest_paid_to, interest_carried, status,
                                     disbursed_on, due_on, reminded_days, created_at, updated_at)
            SELECT id, amount, 0, amount, 0.05, amount, due - INTERVAL 6 MONTH, 0, 'ACTIVE',
                   due - INTERVAL 6 MONTH, due,
                   CASE WHEN due <= :today + INTERVAL 6 DAY THEN 7 WHEN due <= :today + INTERVAL 29 DAY THEN 30 END,
                   NOW(), NOW()
            FROM (SELECT id, ROUND(cash_value * IF(id % 1000 = 7, 0.99, 0.2), 2) AS amount,
                         :today + INTERVAL (id % 180) DAY AS due
                  FROM policy WHERE id > :first AND id <= :last AND cash_value > 0) AS p"""), window)
        db.session.commit()
    top = db.session.execute(text("SELECT MAX(id) FROM policy_loan")).scalar() or 0
    for first in range(0, top, CHUNK):
        db.session.execute(text("""
            INSERT INTO loan_ledger_entry (loan_id, kind, event_key, on_day, principal_delta, interest_delta,
                                           amount, principal_after, interest_carried_after, interest_paid_to_after,
                                           actor, created_at)
            SELECT id, 'DISBURSED', CONCAT('disbursed:', id), disbursed_on, principal, 0, credited_amount,
                   principal, 0, disbursed_on, 'bench', NOW()
            FROM policy_loan WHERE id > :first AND id <= :last"""), {"first": first, "last": first + CHUNK})
        db.session.commit()
    db.session.execute(text("ANALYZE TABLE policy, policy_loan, loan_ledger_entry"))
    db.session.commit()
    return time.perf_counter() - started


def _percentiles(samples):
    ordered = sorted(samples)

    def at(share):
        return ordered[min(int(len(ordered) * share), len(ordered) - 1)] * 1000
    return (f"p50 {at(0.50):.2f} ms, p95 {at(0.95):.2f} ms, p99 {at(0.99):.2f} ms, "
            f"mean {statistics.fmean(ordered) * 1000:.2f} ms over {len(ordered):,}")


def _timed(what, call):
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    print(f"{what}: {seconds:.1f} s; {result}", flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=5_000)
    parser.add_argument("--eager-sms", action="store_true",
                        help="send the job's SMS in-process after each commit (the embedded default) instead of "
                             "handing them to a Celery broker")
    options = parser.parse_args()
    base = tempfile.mkdtemp(prefix="bench-loans-")
    server = harness.start_mariadb(base)
    try:
        from flask_migrate import upgrade
        from sqlalchemy import func

        from app import create_app
        from app.extensions import db
        from app.models import Policy, SmsMessage
        from app.models.servicing import LoanLedgerEntry, PolicyLoan
        from app.services import audit, clock, demo, ledger, loan

        config = {"SQLALCHEMY_DATABASE_URI": server.url, "UPLOAD_DIR": os.path.join(base, "up")}
        if not options.eager_sms:  # as with `make worker`: the job hands its SMS to the broker after each commit
            config["CELERY"] = {"broker_url": "memory://", "task_always_eager": False, "result_backend": None}
        app = create_app(config)
        with app.app_context(), audit.acting_as("bench"):
            upgrade()
            demo.seed("Bench@2026")
            seconds = demo.bulk_policies(options.loans)
            print(f"seed: {options.loans:,} policies in {seconds:.1f} s", flush=True)
            today = clock.today()
            seconds = _seed_loans(db, today)
            active = db.session.query(func.count(PolicyLoan.id)).filter(PolicyLoan.status == "ACTIVE").scalar()
            due = db.session.query(func.count(PolicyLoan.id)).filter(PolicyLoan.status == "ACTIVE",
                                                                      PolicyLoan.due_on <= today).scalar()
            print(f"loans: {active:,} active loans and their ledger rows in {seconds:.1f} s; {due:,} due today",
                  flush=True)
            sms_before = db.session.query(func.count(SmsMessage.id)).scalar()
            db.session.rollback()

            started = time.perf_counter()  # run_daily's three steps, each timed
            first = {"rolled_over": _timed("  roll-overs", lambda: ledger.roll_over_due(today)),
                     "reminded": _timed("  reminders", lambda: ledger.send_reminders(today)),
                     "suspended": _timed("  suspensions", lambda: ledger.suspend_over_value(today))}
            print(f"daily loan job: {time.perf_counter() - started:.1f} s; {first}", flush=True)
            _timed("daily loan job again", lambda: ledger.run_daily(today))
            sms = db.session.query(SmsMessage.purpose, func.count(SmsMessage.id)).filter(
                SmsMessage.id > 0).group_by(SmsMessage.purpose).all()
            print(f"SMS queued by the job: {sum(n for _, n in sms) - sms_before:,} ({dict(sms)})")
            assert first["rolled_over"] == due, (first, due)
            db.session.rollback()

            differences = _timed("recompute-loans over all", lambda: sum(1 for _ in ledger.recompute()))
            loans = db.session.query(func.count(PolicyLoan.id)).scalar()
            rows = db.session.query(func.count(LoanLedgerEntry.id)).scalar()
            print(f"  ({loans:,} loans, {rows:,} ledger rows, {differences} differences)")
            db.session.rollback()

            numbers = [n for (n,) in db.session.query(Policy.policy_no)]
            db.session.rollback()
            rng = random.Random(20261130)
            picked = [rng.choice(numbers) for _ in range(options.samples)]
            for number in picked[:200]:  # warm the pool and the buffer pool
                loan.quote(number, "1000.00")
                db.session.rollback()
            timings, possible = [], 0
            for number in picked:
                started = time.perf_counter()
                possible += loan.quote(number, "1000.00").possible
                db.session.rollback()  # end the read as a request does
                timings.append(time.perf_counter() - started)
            print(f"quote: {_percentiles(timings)}; {possible:,} possible, {len(picked) - possible:,} refused")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
