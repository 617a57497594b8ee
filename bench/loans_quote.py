"""The loan trial calculation (保全试算, app/services/loan.py) over many policies on a MariaDB of our own:
p50/p95/p99 of quote() and payoff(), as `flask servicing quote/payoff` and GET /api/v1/loan/... run them
(prints the figures; not a test). Issue 11's target: a quote p95 under 20 ms.

    .venv/bin/python bench/loans_quote.py [--policies 200000] [--samples 5000]

Seeds the demo data and N bulk policies, gives every policy a cash value, an active loan to every other
one (interest accruing for 1 to 180 days) and an application in review to every 50th, then times the
calculation for random policies, each in its own transaction as a request would.
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


def _seed_loans(db, today):
    from sqlalchemy import text

    started = time.perf_counter()
    db.session.execute(text("UPDATE policy SET cash_value = ROUND(premium * 3.4, 2)"))
    # an active loan of 20% of the cash value on every other policy, arrived 1 to 180 days ago
    db.session.execute(text("""
        INSERT INTO policy_loan (policy_id, principal, stamp_duty, credited_amount, annual_rate,
                                 outstanding_principal, status, disbursed_on, due_on, created_at, updated_at)
        SELECT id, ROUND(cash_value * 0.2, 2), 0, ROUND(cash_value * 0.2, 2), 0.05, ROUND(cash_value * 0.2, 2),
               'ACTIVE', :today - INTERVAL (1 + id % 180) DAY, :today - INTERVAL (1 + id % 180) DAY + INTERVAL 6 MONTH,
               NOW(), NOW()
        FROM policy WHERE id % 2 = 0"""), {"today": today})
    db.session.execute(text("""
        INSERT INTO servicing_application (application_no, kind, customer_id, policy_id, status, submitted_at,
                                           created_at, updated_at)
        SELECT CONCAT('BENCH', id), 'POLICY_LOAN', holder_id, id, 'REVIEW', NOW(), NOW(), NOW()
        FROM policy WHERE id % 50 = 1"""))
    db.session.commit()
    return time.perf_counter() - started


def _percentiles(samples):
    ordered = sorted(samples)

    def at(share):
        return ordered[min(int(len(ordered) * share), len(ordered) - 1)] * 1000
    return (f"p50 {at(0.50):.2f} ms, p95 {at(0.95):.2f} ms, p99 {at(0.99):.2f} ms, "
            f"mean {statistics.fmean(ordered) * 1000:.2f} ms over {len(ordered):,}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=5_000)
    options = parser.parse_args()
    base = tempfile.mkdtemp(prefix="bench-loans-")
    server = harness.start_mariadb(base)
    try:
        from flask_migrate import upgrade
        from sqlalchemy import func

        from app import create_app
        from app.extensions import db
        from app.models import Policy
        from app.models.servicing import PolicyLoan
        from app.services import audit, clock, demo, loan

        app = create_app({"SQLALCHEMY_DATABASE_URI": server.url, "UPLOAD_DIR": os.path.join(base, "up")})
        with app.app_context(), audit.acting_as("bench"):
            upgrade()
            demo.seed("Bench@2026")
            seconds = demo.bulk_policies(options.policies)
            print(f"seed: {options.policies:,} policies in {seconds:.1f} s")
            print(f"loans: {_seed_loans(db, clock.today()):.1f} s; "
                  f"{db.session.query(func.count(PolicyLoan.id)).scalar():,} active loans")
            numbers = [n for (n,) in db.session.query(Policy.policy_no)]
            db.session.rollback()
            rng = random.Random(20261130)
            picked = [rng.choice(numbers) for _ in range(options.samples)]
            for name, call in (("quote", lambda number: loan.quote(number, "1000.00")),
                               ("payoff", lambda number: loan.payoff(number, "", "100.00"))):
                for number in picked[:200]:  # warm the pool and the buffer pool
                    call(number)
                    db.session.rollback()
                timings, possible = [], 0
                for number in picked:
                    started = time.perf_counter()
                    possible += call(number).possible
                    db.session.rollback()  # end the read as a request does
                    timings.append(time.perf_counter() - started)
                print(f"{name}: {_percentiles(timings)}; {possible:,} possible, {len(picked) - possible:,} refused")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
