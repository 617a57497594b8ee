"""Benchmark of the agents' workbench (issue 4). Prints figures; not a test.

    .venv/bin/python bench/agent_claims.py [--tasks 100000] [--threads 50] [--seconds 30]
                                           [--dashboard-tasks 1000000] [--complete record|direct] [--both] [--processes P]

Starts its own MariaDB (tests/harness.py), migrates, seeds the demo data, then:
  1. claims: --tasks phone tasks in the queue (bulk policies + one INSERT ... SELECT); --threads
     agents, each a thread with its own app context and session, loop "下一个任务"
     (phone_revisit.claim_next: on MariaDB one CALL of the stored procedure portal_claim_next)
     and complete the call (record_attempt SUCCESS with every answer 是, the real service; or
     --complete direct: one UPDATE, to see the claim path alone) for --seconds, with warm
     connection pools. Prints claims/s and the claim latency p50/p95/p99 (targets: >= 500
     claims/s, p95 < 50 ms on 2 cores), and checks no task was claimed twice.
  2. dashboard: revisit_task filled to --dashboard-tasks rows (INSERT ... SELECT from MariaDB's
     sequence engine, created over the last 120 days, statuses and channels mixed), then the
     time of dashboard.figures() and of the whole page GET /revisit-dashboard/ (supervisor),
     with the migrations' indexes (ix_revisit_created serves the dashboard) (target < 500 ms).
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests import harness  # noqa: E402

PASSWORD = "Bench@Pass2026"


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def make_app(database_url, base, threads):
    from app import create_app
    from config import engine_options

    return create_app({
        "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {**engine_options(database_url), "pool_size": threads + 5, "max_overflow": 10},
        "UPLOAD_DIR": os.path.join(base, "uploads"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ENABLED": False,
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast sign-ups for 50 bench agents
        "CELERY": {"broker_url": "memory://", "task_always_eager": True, "task_ignore_result": True},
        "WTF_CSRF_ENABLED": False,
    })


def prepare(app, tasks, threads):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.extensions import db
    from app.services import audit, demo
    from tests import factories

    upgrade()
    from app.security import sync_roles

    sync_roles(app.appbuilder)  # the roles' permissions, as `flask portal init` writes them (the dashboard's)
    with audit.acting_as("bench"):
        demo.seed(PASSWORD)
        started = time.perf_counter()
        demo.bulk_policies(tasks)
        template_id = factories.template().id
        db.session.commit()
        db.session.execute(text(
            "INSERT INTO revisit_task (policy_id, open_policy_id, template_id, status, channel, is_problem,"
            " erevisit_deadline, hesitation_deadline, attempt_count, created_at, updated_at)"
            " SELECT p.id, p.id, :tpl, 'PHONE_QUEUE', 'PHONE', p.id % 50 = 0,"
            " DATE_ADD(p.issue_date, INTERVAL 4 DAY), DATE_ADD(p.issue_date, INTERVAL 15 DAY), 0, NOW(), NOW()"
            " FROM policy p WHERE NOT EXISTS (SELECT 1 FROM revisit_task t WHERE t.policy_id = p.id)"),
            {"tpl": template_id})
        db.session.commit()
        print(f"prepared {tasks:,} queued phone tasks in {time.perf_counter() - started:.1f} s")
        sm = app.appbuilder.sm
        role = sm.find_role("Agent")
        agents = []
        for i in range(threads):
            user = sm.find_user(username=f"bench_agent{i:02d}") or sm.add_user(
                f"bench_agent{i:02d}", "压测", f"专员{i}", f"bench{i}@bench.local", [role], password=PASSWORD)
            agents.append(user.id)
    return agents


def claim_loop(app, agents, seconds, complete, start_at=None):
    """Each agent a thread: claim, complete, repeat until `seconds` pass or the queue is empty.
    Returns (claim latencies, complete latencies, claimed ids, errors, cpu seconds, wall seconds)."""
    from sqlalchemy import text, update

    from app import dbpool
    from app.extensions import db
    from app.models import RevisitTask
    from app.services import clock, phone_revisit
    from app.services.revisit import render_questions

    latencies, completes, claimed, errors = [], [], [], []
    lock = threading.Lock()
    barrier = threading.Barrier(len(agents) + 1)
    stop_at = [0.0]

    def work(agent_id):
        mine_lat, mine_done, mine_ids = [], [], []
        try:
            with app.app_context():
                # warm pools, as in a server that has been up: connect before the clock starts
                db.session.execute(text("SELECT 1"))
                db.session.rollback()
                if db.engine.dialect.name == "mysql":
                    dbpool.autocommit_engine().raw_connection().close()
                barrier.wait()
                while time.time() < stop_at[0]:
                    t0 = time.perf_counter()
                    task_id = phone_revisit.claim_next(agent_id)
                    t1 = time.perf_counter()
                    if task_id is None:
                        break
                    mine_lat.append(t1 - t0)
                    mine_ids.append(task_id)
                    if complete == "record":
                        task = db.session.get(RevisitTask, task_id)
                        answers = {q["question_id"]: True for q in render_questions(task)}
                        phone_revisit.record_attempt(task_id, agent_id, "SUCCESS", answers=answers,
                                                     holder_verified=True)
                    else:
                        table = RevisitTask.__table__
                        db.session.execute(update(table).where(table.c.id == task_id).values(
                            status="SUCCESS", completed_at=clock.now(), open_policy_id=None,
                            reserved_until=None))
                        db.session.commit()
                    mine_done.append(time.perf_counter() - t1)
                db.session.remove()
        except Exception as exc:  # report, do not hide
            errors.append(repr(exc))
        with lock:
            latencies.extend(mine_lat)
            completes.extend(mine_done)
            claimed.extend(mine_ids)

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    if start_at:
        time.sleep(max(0.0, start_at - time.time()))
    stop_at[0] = time.time() + seconds
    cpu, started = time.process_time(), time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    return latencies, completes, claimed, errors, time.process_time() - cpu, time.perf_counter() - started


def _child(url, base, agents, seconds, complete, start_at, out):
    app = make_app(url, base, len(agents))
    out.put(claim_loop(app, agents, seconds, complete, start_at))


def run_claims(app, url, base, agents, seconds, complete, processes):
    if processes <= 1:
        results = [claim_loop(app, agents, seconds, complete)]
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        start_at = time.time() + 8  # every process has built its app by then
        children = [ctx.Process(target=_child, args=(url, base, agents[i::processes], seconds, complete,
                                                     start_at, out)) for i in range(processes)]
        for c in children:
            c.start()
        results = [out.get() for _ in children]
        for c in children:
            c.join()
    latencies = [x for r in results for x in r[0]]
    completes = [x for r in results for x in r[1]]
    claimed = [x for r in results for x in r[2]]
    errors = [x for r in results for x in r[3]]
    cpu = sum(r[4] for r in results)
    elapsed = max(r[5] for r in results)
    dupes = [k for k, n in Counter(claimed).items() if n > 1]
    print(f"\n== claims: {len(agents)} agent threads in {processes} process(es), complete={complete},"
          f" {elapsed:.1f} s ==")
    print(f"claims            {len(claimed):,}  ({len(claimed) / elapsed:,.0f} claims/s)"
          f"   client CPU {cpu / max(len(claimed), 1) * 1000:.1f} ms per claim+complete")
    print(f"claim latency     p50 {percentile(latencies, .5) * 1000:.1f} ms  p95 {percentile(latencies, .95) * 1000:.1f} ms"
          f"  p99 {percentile(latencies, .99) * 1000:.1f} ms")
    print(f"complete latency  p50 {percentile(completes, .5) * 1000:.1f} ms  p95 {percentile(completes, .95) * 1000:.1f} ms")
    print(f"tasks claimed twice: {len(dupes)}   errors: {len(errors)} {errors[:2]}")
    return len(claimed) / elapsed


def fill_dashboard(app, total):
    from sqlalchemy import func, select, text

    from app.extensions import db
    from app.models import RevisitTask

    have = db.session.scalar(select(func.count()).select_from(RevisitTask))
    extra = total - have
    if extra <= 0:
        return
    started = time.perf_counter()
    tpl = db.session.scalar(select(func.min(RevisitTask.template_id)))
    max_policy = db.session.scalar(text("SELECT MAX(id) FROM policy"))
    conn = db.session.connection()
    conn.execute(text("SET SESSION foreign_key_checks = 0"))
    step = 250_000
    for offset in range(0, extra, step):
        n = min(step, extra - offset)
        conn.execute(text(
            "INSERT INTO revisit_task (policy_id, open_policy_id, template_id, status, channel, is_problem,"
            " erevisit_deadline, hesitation_deadline, attempt_count, created_at, updated_at, completed_at)"
            " SELECT 1 + seq % :maxp, NULL, :tpl,"
            # created over the last 120 days (age = seq % 120 days); tasks older than 10 days are
            # settled (as tasks are within their hesitation period), younger ones are in every state
            " IF(seq % 120 > 10, ELT(1 + seq % 10, 'SUCCESS','SUCCESS','SUCCESS','SUCCESS','SUCCESS',"
            "     'SUCCESS','SUCCESS','SUCCESS','LETTER_DUE','PROBLEM'),"
            "   ELT(1 + seq % 20, 'SUCCESS','SUCCESS','SUCCESS','SUCCESS','SUCCESS','SUCCESS','SUCCESS','SUCCESS',"
            "     'SUCCESS','SUCCESS','SUCCESS','SUCCESS','LETTER_DUE','SUCCESS','PROBLEM','PHONE_QUEUE',"
            "     'CALLBACK','SMS_SENT','PENDING','IN_CALL')),"
            " ELT(1 + seq % 3, 'ELECTRONIC', 'PHONE', 'ELECTRONIC'), seq % 20 = 14,"
            " NOW() - INTERVAL (seq % 120) DAY + INTERVAL 4 DAY,"
            " DATE(NOW() - INTERVAL (seq % 120) DAY) + INTERVAL 15 DAY, seq % 4,"
            " NOW() - INTERVAL (seq % 120) DAY - INTERVAL (seq % 3600) SECOND,"
            " NOW() - INTERVAL (seq % 120) DAY, NOW() - INTERVAL (seq % 120) DAY + INTERVAL 2 DAY"
            f" FROM seq_{offset + 1}_to_{offset + n}"), {"maxp": max_policy, "tpl": tpl})
        db.session.commit()
        conn = db.session.connection()
        conn.execute(text("SET SESSION foreign_key_checks = 0"))
    conn.execute(text("SET SESSION foreign_key_checks = 1"))
    db.session.commit()
    db.session.execute(text("ANALYZE TABLE revisit_task"))
    db.session.commit()
    print(f"\nrevisit_task filled to {total:,} rows in {time.perf_counter() - started:.1f} s")


def time_dashboard(app, label, rounds=5):
    from flask import g

    from app.extensions import db
    from app.services import dashboard

    service = []
    for _ in range(rounds):
        db.session.rollback()
        t0 = time.perf_counter()
        dashboard.figures()
        service.append(time.perf_counter() - t0)
    client = app.test_client()
    for key in ("_login_user", "user", "csrf_token"):
        g.pop(key, None)
    client.post("/login/", data={"username": "supervisor", "password": PASSWORD})
    page = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        reply = client.get("/revisit-dashboard/")
        page.append(time.perf_counter() - t0)
        assert reply.status_code == 200, reply.status_code
    print(f"dashboard {label:24s} figures() median {statistics.median(service) * 1000:.0f} ms"
          f" (max {max(service) * 1000:.0f});  page GET median {statistics.median(page) * 1000:.0f} ms"
          f" (max {max(page) * 1000:.0f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--complete", choices=["record", "direct"], default="record")
    parser.add_argument("--both", action="store_true", help="run the claim loop with both completions")
    parser.add_argument("--processes", type=int, default=1,
                        help="spread the threads over this many processes (one GIL each), as gunicorn would")
    parser.add_argument("--dashboard-tasks", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="an existing empty MariaDB database instead of our own")
    args = parser.parse_args()

    base = tempfile.mkdtemp(prefix="bench-claims-")
    server = None
    url = args.database_url
    if not url:
        server = harness.start_mariadb(base)
        url = server.url
    try:
        app = make_app(url, base, args.threads)
        with app.app_context():
            agents = prepare(app, args.tasks, args.threads)
        for mode in (["record", "direct"] if args.both else [args.complete]):
            run_claims(app, url, base, agents, args.seconds, mode, args.processes)
        if args.dashboard_tasks:
            with app.app_context():
                fill_dashboard(app, args.dashboard_tasks)
                time_dashboard(app, "(migrations' indexes)")
    finally:
        if server:
            server.stop()
        import shutil

        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
