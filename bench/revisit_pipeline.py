"""Benchmark of the e-revisit pipeline (issue 3, item 9). Prints figures; not a test.

    .venv/bin/python bench/revisit_pipeline.py [--policies N] [--expiry-tasks M] [--workers W]

Starts its own MariaDB and Redis (tests/harness.py), the fake Alibaba SMS server
(tests/fake_dysms.py) and a real Celery worker process, then:
  1. intake: N issued policies (new holders) through app/services/intake.py in chunks, as the
     core system's API calls would (validation, customers, policies, beneficiaries, tasks);
  2. invitations: revisit.issue_invitations() claims the tasks, makes one link per customer,
     queues the SMS and hands them to the worker in SendBatchSms batches of 100;
  3. the worker sends them through the real Alibaba SDK to the fake endpoint;
  end to end = N / (time from the first intake chunk to the last SMS marked SENT).
  4. the day-4 expiry over M tasks (default 1,000,000) inserted with one INSERT ... SELECT from
     MariaDB's sequence engine (foreign key checks off for that insert only: the tasks point at
     policy ids that do not exist; the expiry never reads the policy), 10 % already closed.
  --seal: after the pipeline, the seal job (seal.seal(), as the beat job runs it) over every audit event
     the run wrote, timed, and the CPU time of hashing those events alone (audit.event_hash).

The bench-only environment switch AUDIT_ROW_HASH=0 (app/services/audit.py) runs the same pipeline with
the per-event hashing off, in this process and the worker; bench/seal_cost.py runs it both ways. It is
refused under PORTAL_ENV=production.
"""
import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests import harness  # noqa: E402
from tests.fake_dysms import FakeDysms  # noqa: E402


def policy_rows(count, today, start=1):
    from app.services.validation import make_resident_id

    areas = ["110105", "310104", "440305", "320106", "510107"]
    products = ["AXH01", "AXI01", "AXB01", "NNF01", "SHS01"]
    rows = []
    for i in range(start, start + count):
        birth = date(1960, 1, 1) + timedelta(days=(i // 400) % 15000)
        regular = i % 10 < 7
        rows.append({
            "policy_no": f"77{i:013d}", "product_code": products[i % 5], "issue_date": today.isoformat(),
            "premium": "12000.00", "payment_mode": "REGULAR" if regular else "SINGLE",
            "payment_frequency": "YEARLY" if regular else None, "payment_years": 10 if regular else None,
            "next_due_date": today.replace(year=today.year + 1).isoformat() if regular else None,
            "sum_assured": "240000.00",
            "holder": {"name": "测试客户", "id_number": make_resident_id(areas[i % 5], birth, (i // 5) % 400 * 2 + 1),
                       "mobile": f"13{i % 10 ** 9:09d}"},
            "beneficiaries": [{"kind": "DEATH", "name": "法定继承人", "id_number": make_resident_id(
                areas[(i + 1) % 5], birth, (i // 5) % 400 * 2), "relationship": "SPOUSE", "share": "100"}],
        })
    return rows


def wait_for(predicate, timeout, poll=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000, help="policies per intake call")
    parser.add_argument("--expiry-tasks", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--profile", action="store_true", help="profile one intake chunk and the invitations")
    parser.add_argument("--mode", choices=["pipeline", "phases"], default="pipeline",
                        help="pipeline: intake while beat-driven workers invite and send (production); "
                             "phases: intake, then invitations in this process, then the SMS drain")
    parser.add_argument("--beat", type=float, default=1.0, help="seconds between invitation runs (pipeline)")
    parser.add_argument("--seal", action="store_true", help="then run the seal job over the trail, timed")
    args = parser.parse_args()

    base = tempfile.mkdtemp(prefix="bench-revisit-")
    servers = [harness.start_mariadb(base), harness.start_redis(base)]
    worker = None
    fake = FakeDysms().__enter__()
    try:
        env = {**os.environ, "DATABASE_URL": servers[0].url, "CELERY_BROKER_URL": servers[1].url,
               "SMS_BACKEND": "aliyun", "ALIYUN_SMS_ENDPOINT": fake.endpoint, "ALIYUN_SMS_PROTOCOL": "HTTP",
               "ALIYUN_ACCESS_KEY_ID": "bench", "ALIYUN_ACCESS_KEY_SECRET": "bench-secret",
               "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789", "PORTAL_INSTANCE_DIR": base,
               "RATELIMIT_STORAGE_URI": "memory://"}
        os.environ.update(env)
        from flask_migrate import upgrade
        from sqlalchemy import func, text

        from app import create_app
        from app.extensions import db
        from app.models import RevisitLink, RevisitTask, SmsMessage
        from app.services import audit, clock, demo, intake, revisit

        app = create_app()
        with app.app_context(), audit.acting_as("bench"):
            upgrade()
            demo.seed("Bench@2026")
            for spec in demo.SMS_TEMPLATES:
                fake.register_template(spec["provider_template_code"], spec["content"])
            worker = subprocess.Popen(
                [os.path.join(ROOT, ".venv/bin/celery"), "-A", "app.celery_worker", "worker", "-l", "warning",
                 "-c", str(args.workers), "--pool", "prefork", "--without-gossip", "--without-mingle"],
                cwd=ROOT, env=env, stdout=open(os.path.join(base, "worker.log"), "w"), stderr=subprocess.STDOUT)
            if args.profile:
                _log_slow_statements(db.engine)
            celery_app = app.extensions["celery"]
            if not wait_for(lambda: worker.poll() is not None or bool(celery_app.control.ping(timeout=0.5)), 120):
                raise SystemExit("the Celery worker did not answer a ping")
            rows = policy_rows(args.policies, clock.today())
            print(f"== pipeline: {args.policies:,} policies, intake chunks of {args.chunk}, "
                  f"{args.workers} worker processes, SMS to the fake Alibaba endpoint {fake.endpoint}")
            if args.profile:  # a warm-up chunk, then a profiled one (not counted below)
                intake.import_rows(rows[:args.chunk], source="bench")
                profiler = cProfile.Profile()
                profiler.enable()
                intake.import_rows(rows[args.chunk:2 * args.chunk], source="bench")
                profiler.disable()
                _print_profile(profiler, "one intake chunk")
                rows = rows[2 * args.chunk:]
            def unsent():
                db.session.rollback()
                return db.session.query(func.count(SmsMessage.id)).filter(
                    SmsMessage.status.in_(["QUEUED", "SENDING"])).scalar()

            def pending_tasks():
                db.session.rollback()
                return db.session.query(func.count(RevisitTask.id)).filter(RevisitTask.status == "PENDING").scalar()

            def worker_dead():
                if worker.poll() is not None:
                    raise SystemExit("the Celery worker exited: see " + os.path.join(base, "worker.log"))
                return False

            if args.mode == "phases":
                started = time.perf_counter()
                for start in range(0, len(rows), args.chunk):
                    intake.import_rows(rows[start:start + args.chunk], source="bench")
                t_intake = time.perf_counter()
                if args.profile:
                    profiler = cProfile.Profile()
                    profiler.enable()
                links = revisit.issue_invitations()
                t_invite = time.perf_counter()
                if args.profile:
                    profiler.disable()
                    _print_profile(profiler, "issue_invitations")
                done = wait_for(lambda: worker_dead() or unsent() == 0, timeout=3600)
                t_sent = time.perf_counter()
                print(f"intake:       {t_intake - started:8.2f} s  {len(rows) / (t_intake - started):8,.0f} "
                      f"policies/s (validation, customers, policies, beneficiaries, tasks, audit)")
                print(f"invitations:  {t_invite - t_intake:8.2f} s  {links / max(t_invite - t_intake, 1e-9):8,.0f} "
                      f"links/s ({links:,} links and SMS queued; the worker starts sending after each chunk)")
                print(f"SMS drain:    {t_sent - t_invite:8.2f} s  after the last invitation")
            else:
                # as in production: the core system reports policies (here: this process, chunk by chunk),
                # beat fires revisit.issue_invitations every second (here: a thread that only enqueues),
                # the worker processes run the invitations and the SMS batches.
                from app.tasks.revisit import issue_invitations as invite_task

                stop = threading.Event()

                def beat():
                    while not stop.wait(args.beat):
                        invite_task.delay()

                ticker = threading.Thread(target=beat, daemon=True)
                started = time.perf_counter()
                ticker.start()
                for start in range(0, len(rows), args.chunk):
                    intake.import_rows(rows[start:start + args.chunk], source="bench")
                t_intake = time.perf_counter()
                done = wait_for(lambda: worker_dead() or (pending_tasks() == 0 and unsent() == 0), timeout=3600)
                t_sent = time.perf_counter()
                stop.set()
                print(f"intake:       {t_intake - started:8.2f} s  {len(rows) / (t_intake - started):8,.0f} "
                      f"policies/s (validation, customers, policies, beneficiaries, tasks, audit), while the "
                      f"worker invited and sent")
                print(f"drain:        {t_sent - t_intake:8.2f} s  after the last intake chunk until every task "
                      f"is invited and every SMS sent")
            db.session.rollback()
            sent = db.session.query(func.count(SmsMessage.id)).filter(SmsMessage.status == "SENT").scalar()
            print(f"SMS: {sent:,} SENT through {len(fake.calls('SendBatchSms'))} SendBatchSms + "
                  f"{len(fake.calls('SendSms'))} SendSms calls to the fake endpoint; all sent: {done}")
            print(f"END TO END:   {t_sent - started:8.2f} s  {len(rows) / (t_sent - started):8,.0f} policies/s "
                  f"(mode {args.mode}, {len(rows):,} policies)")
            counts = revisit.open_task_counts()
            print(f"tasks by status: {counts}; links: {db.session.query(RevisitLink).count():,}")
            _print_trail(app, db, audit, args.seal)
            if args.expiry_tasks:
                _bench_expiry(args.expiry_tasks, db, text, revisit, clock)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        fake.__exit__(None, None, None)
        for server in servers:
            server.stop()


def _print_trail(app, db, audit, seal_it):
    """The audit events the run wrote, whether they were hashed as written, and with seal_it the seal
    job over them (timed) and the CPU time of hashing them alone."""
    from sqlalchemy import func, select

    from app.models import AuditEvent
    from app.services import seal

    db.session.rollback()
    events = db.session.query(func.count(AuditEvent.id)).scalar()
    unhashed = db.session.query(func.count(AuditEvent.id)).filter(AuditEvent.row_hash.is_(None)).scalar()
    print(f"AUDIT: {events:,} events, {events - unhashed:,} hashed as written (AUDIT_ROW_HASH "
          f"{'on' if audit.ROW_HASH else 'off'} in this process)")
    if not seal_it:
        return
    db.session.commit()
    app.config["AUDIT_SEAL_DELAY_SECONDS"] = 0  # the pipeline is over: every event is committed
    time.sleep(1.1)  # past the second of the last event
    started, seals, sealed = time.perf_counter(), 0, 0
    while True:
        made = seal.seal()
        if made is None:
            break
        seals, sealed = seals + 1, sealed + made.count
    took = time.perf_counter() - started
    print(f"SEAL: the seal job sealed {sealed:,} events in {seals} seal(s) in {took:.2f} s "
          f"({sealed / max(took, 1e-9):,.0f} events/s, off the pipeline: a beat job every ten minutes)")
    rows = db.session.execute(select(*seal.EVENT_COLUMNS).order_by(AuditEvent.id)
                              .execution_options(stream_results=True, yield_per=seal.BATCH)).all()
    db.session.rollback()
    cpu = time.process_time()
    for row in rows:
        audit.event_hash(row._mapping, stored=True)
    cpu = time.process_time() - cpu
    print(f"HASHING: event_hash over the {len(rows):,} events: {cpu:.3f} s CPU "
          f"({cpu / max(len(rows), 1) * 1e6:.1f} µs an event)")


def _bench_expiry(count, db, text, revisit, clock):
    from app.models import RevisitTask

    now = clock.now()
    deadline = (now - timedelta(minutes=1)).isoformat(sep=" ")
    template_id = db.session.query(RevisitTask.template_id).limit(1).scalar()
    db.session.commit()
    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        conn.execute(text(
            "INSERT INTO revisit_task (policy_id, open_policy_id, template_id, status, channel, is_problem,"
            " erevisit_deadline, hesitation_deadline, attempt_count, created_at, updated_at) "
            f"SELECT 500000000 + seq, IF(seq % 10 = 0, NULL, 500000000 + seq), {template_id},"
            " IF(seq % 10 = 0, 'SUCCESS', IF(seq % 2 = 1, 'SMS_SENT', 'PENDING')), 'ELECTRONIC', 0,"
            f" '{deadline}', CURDATE() + INTERVAL 12 DAY, 0, NOW(), NOW() FROM seq_1_to_{count}"))
        conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    inserted = time.perf_counter() - started
    due = db.session.execute(text("SELECT COUNT(*) FROM revisit_task WHERE status IN ('PENDING','SMS_SENT')"
                                  " AND erevisit_deadline <= :now"), {"now": now}).scalar()
    db.session.commit()
    print(f"== day-4 expiry: {count:,} tasks inserted in {inserted:.1f} s; {due:,} due")
    batch = 20000
    started = time.perf_counter()
    moved = revisit.expire_due(now, batch_size=batch)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = revisit.expire_due(now, batch_size=batch)
    second = time.perf_counter() - started
    print(f"EXPIRY: expire_due(batch_size={batch}) moved {moved:,} in {first:.2f} s ({moved / first:,.0f} tasks/s); "
          f"a second run moved {again} in {second:.2f} s")


def _log_slow_statements(engine, threshold=0.05):
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - conn.info["bench_started"].pop()
        if took > threshold:
            rows = len(parameters) if executemany else 1
            print(f"   slow SQL {took:.3f} s ({rows} rows): {' '.join(statement.split())[:150]}")


def _print_profile(profiler, title):
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
    print(f"-- profile of {title} (cumulative):")
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    print("\n".join(lines[:60]))


if __name__ == "__main__":
    main()
