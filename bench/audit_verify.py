"""`flask audit verify` over a million audit events on a MariaDB of our own (prints the figures; not a
test). Issue 15's target on the 2-core machine: under 60 s for 1,000,000 events.

    .venv/bin/python bench/audit_verify.py [--events 1000000]

Seeds the demo data, then N audit events set-based (executemany INSERTs of 10,000 rows, each with its
row_hash computed as services/audit.py computes it): three in four an update of a policy with its before
and after values, one in four a create with a full row of values, as the portal writes them. Then it times
the seal job (every event sealed, at most 100,000 a seal) and `seal.verify()` (what `flask audit verify`
runs: every hash, range and chain recomputed, the protected records replayed), and a second seal run
(nothing to seal).
"""
import argparse
import datetime
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import harness  # noqa: E402

CHUNK = 10_000


def _events(first, count, start):
    from app.services import audit

    rows = []
    for n in range(first, first + count):
        at = start + datetime.timedelta(seconds=n // 20)
        if n % 4:
            row = dict(occurred_at=at, actor_type="user", actor_id=n % 50 + 1, actor_name=f"agent{n % 50 + 1}",
                       action="update", entity="policy", entity_id=str(n % 100_000 + 1),
                       before={"status": "IN_FORCE", "cash_value": f"{n % 9000}.00"},
                       after={"status": "IN_FORCE", "cash_value": f"{n % 9000 + 1}.50"},
                       ip="10.0.%d.%d" % (n % 250, n % 200), user_agent="Mozilla/5.0 (iPhone) bench")
        else:
            row = dict(occurred_at=at, actor_type="system", actor_id=None, actor_name="celery:bench",
                       action="create", entity="sms_message", entity_id=str(n),
                       before=None, after={"id": n, "mobile": "138****%04d" % (n % 10000), "template": "EREVISIT",
                                           "status": "QUEUED", "purpose": "EREVISIT", "attempts": 0,
                                           "created_at": at.isoformat(), "content": "【爱心人寿】您好,请点击链接完成回访"},
                       ip=None, user_agent=None)
        row["row_hash"] = audit.event_hash(row)
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    options = parser.parse_args()
    base = tempfile.mkdtemp(prefix="bench-audit-")
    server = harness.start_mariadb(base)
    try:
        from flask_migrate import upgrade
        from sqlalchemy import func, insert, select

        from app import create_app
        from app.extensions import db
        from app.models.audit import AuditEvent, AuditSeal
        from app.services import audit, clock, demo, seal

        app = create_app({"SQLALCHEMY_DATABASE_URI": server.url, "UPLOAD_DIR": os.path.join(base, "up"),
                          "AUDIT_SEAL_DELAY_SECONDS": 0})
        with app.app_context(), audit.acting_as("bench"):
            upgrade()
            demo.seed("Bench@2026")
            db.session.commit()
            started = time.perf_counter()
            start = clock.now() - datetime.timedelta(days=30)
            for first in range(0, options.events, CHUNK):
                db.session.execute(insert(AuditEvent.__table__),
                                   _events(first, min(CHUNK, options.events - first), start))
                db.session.commit()
            total = db.session.execute(select(func.count(AuditEvent.id))).scalar()
            print(f"seed: {options.events:,} events ({total:,} with the demo's) in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            time.sleep(1.1)  # the horizon: events of the current second wait for the next run

            started = time.perf_counter()
            seals = 0
            while seal.seal() is not None:
                seals += 1
            print(f"seal job: {seals} seals in {time.perf_counter() - started:.1f} s", flush=True)
            started = time.perf_counter()
            again = seal.seal()
            print(f"seal job again: {'nothing sealed' if again is None else 'sealed again!'} in "
                  f"{time.perf_counter() - started:.2f} s", flush=True)
            sealed = db.session.execute(select(func.sum(AuditSeal.count))).scalar()
            db.session.rollback()

            started = time.perf_counter()
            report = seal.verify()
            seconds = time.perf_counter() - started
            print(f"verify: {report.events:,} events ({sealed:,} sealed) in {seconds:.1f} s "
                  f"({report.events / seconds:,.0f} a second); {report.summary()}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
