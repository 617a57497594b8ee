"""The admin lists under load (issue 14 point 6): Locust, headless and bounded, against gunicorn serving the
portal on MariaDB with a million policies; prints requests a second and p50/p95 (target: 100 list pages a
second, p95 under 300 ms, with 30 staff clients on the 2-core machine).

    .venv/bin/python bench/web_load.py [--policies 1000000] [--clients 30] [--seconds 60] [--workers 4]
                                       [--list-cache-seconds 30]

It starts its own MariaDB and Redis (tests/harness.py, as the tests do), seeds the demo rows and the
policies set-based (demo.bulk_policies, about 150 s for a million), starts gunicorn as deploy/portal-web.service
does (sessions and rate limits in the Redis), then runs Locust in the same machine: 30 clients signed in as
staff (supervisor), each asking without pause for the policy list, a policy-number search by prefix, a page
2..40 of the policy list, the customer list and the revisit task list, in equal shares. Locust's own CPU
comes out of the same two cores. The sign-ins are left out of the figures (--reset-stats). Nothing is
written meanwhile, so the list pages the portal keeps (app/views/page_cache.py) stay valid: the policy
list, its pages, the customers and the tasks are mostly served kept, the searches (a thousand prefixes)
mostly drawn. `--list-cache-seconds 0` measures every page drawn.

This file is also the locustfile (Locust imports it for the `StaffUser` class).
"""
import argparse
import csv
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PASSWORD = "Bench@2026"
# the seeding and gunicorn share it: the personal data's keys derive from it outside production
SECRET_KEY = "bench-web-load-secret-key-0123456789abcdef"
BIN = os.path.dirname(sys.executable)

FastHttpUser = None
if __name__ != "__main__":  # the Locust side, when Locust imports this file (its gevent patches stay there)
    import json

    from locust import FastHttpUser, constant, events, task

    SIGNED_IN, SAMPLES = [], []  # the list pages asked once every client is signed in: (end, ms, ok)

    @events.request.add_listener
    def _sample(name, response_time, exception, **_kwargs):
        if name != "sign-in" and len(SIGNED_IN) >= int(os.environ.get("WEB_LOAD_CLIENTS", "1")):
            SAMPLES.append((time.time(), response_time, exception is None))

    @events.quitting.add_listener
    def _write(**_kwargs):
        with open(os.environ["WEB_LOAD_SAMPLES"], "w") as handle:
            json.dump(SAMPLES, handle)

if FastHttpUser is not None:
    class StaffUser(FastHttpUser):
        wait_time = constant(0)
        policies = int(os.environ.get("WEB_LOAD_POLICIES", "1000000"))
        first_seq = int(os.environ.get("WEB_LOAD_FIRST_SEQ", "1"))

        def on_start(self):
            page = self.client.get("/login/", name="sign-in").text
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            with self.client.post("/login/", data={"username": os.environ.get("WEB_LOAD_USER", "supervisor"),
                                                   "password": PASSWORD, "csrf_token": token}, name="sign-in",
                                  catch_response=True) as response:
                if response.status_code != 200 or 'name="password"' in (response.text or ""):
                    flashes = re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', response.text or "", re.S)
                    response.failure(f"sign-in refused: HTTP {response.status_code} "
                                      f"{' '.join(' '.join(flashes).split())[:200]}")
                else:
                    SIGNED_IN.append(self)

        def _page(self, url, name):
            with self.client.get(url, name=name, catch_response=True) as response:
                text = response.text or ""
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")
                elif 'name="password"' in text or "<table" not in text:
                    response.failure("not a list page (signed out?)")

        @task
        def policy_list(self):
            self._page("/policyview/list/", "policy list")

        @task
        def policy_search(self):
            seq = random.randrange(self.first_seq, self.first_seq + self.policies)
            prefix = f"99{seq:013d}"[:12]  # a thousand policies share it, as 保险单号 prefixes do
            self._page(f"/policyview/list/?_flt_0_policy_no={prefix}", "policy search")

        @task
        def policy_page(self):
            self._page(f"/policyview/list/?page_PolicyView={random.randint(1, 39)}", "policy page 2..40")

        @task
        def customer_list(self):
            self._page("/customerview/list/", "customer list")

        @task
        def revisit_tasks(self):
            self._page("/revisittaskview/list/", "revisit task list")


def _seed(url, base, policies):
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from app import create_app
    from app.extensions import db
    from app.models import Customer
    from app.services import audit, demo

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": os.path.join(base, "uploads"),
                      "SECRET_KEY": SECRET_KEY})
    with app.app_context(), audit.acting_as("bench"):
        upgrade()
        from app.security import sync_roles

        sync_roles(app.appbuilder)  # what `flask portal init` does: the roles' permissions
        demo.seed(PASSWORD)
        first_seq = (db.session.scalar(select(func.max(Customer.id))) or 0) + 1
        started = time.perf_counter()
        seconds = demo.bulk_policies(policies)
        print(f"seeded {policies:,} policies + customers in {seconds:.1f} s", flush=True)
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE TABLE policy, customer, revisit_task"))
        print(f"analyzed in {time.perf_counter() - started - seconds:.1f} s", flush=True)
        db.session.remove()
        db.engine.dispose()
    return first_seq


def _wait_port(port, process, seconds=60):
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def _warm(port, workers, seconds=180):
    """Until every worker has loaded the app (each imports it on its first request, several seconds
    on two busy cores): the sign-in page from as many clients at once as there are workers, twice."""
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def get(_):
        deadline = time.monotonic() + seconds
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=seconds) as response:
                    if response.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    with ThreadPoolExecutor(workers * 2) as pool:
        list(pool.map(get, range(workers * 4)))


def _measured(path):
    """Requests a second and percentiles of the list pages asked once every client was signed in."""
    import json

    with open(path) as handle:
        samples = json.load(handle)
    if len(samples) < 2:
        raise RuntimeError("no list page was measured")
    ends = sorted(end for end, _, _ in samples)
    times = sorted(ms for _, ms, _ in samples)
    window = ends[-1] - ends[0]
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]  # noqa: E731
    return (len(samples) - 1) / window, pick(0.50), pick(0.95), sum(1 for *_, ok in samples if not ok), window


def _figures(prefix):
    with open(prefix + "_stats.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    print(f"\n{'request':<22}{'count':>8}{'fail':>6}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}")
    for row in rows:
        print(f"{row['Name']:<22}{row['Request Count']:>8}{row['Failure Count']:>6}"
              f"{float(row['Requests/s']):>8.1f}{row['50%']:>8}{row['95%']:>8}{row['99%']:>8}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policies", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (deploy/portal-web.service: 4)")
    parser.add_argument("--list-cache-seconds", type=int, default=30,
                        help="LIST_PAGE_CACHE_SECONDS of the portal (0: every page drawn, the cache off)")
    args = parser.parse_args()

    from tests import harness

    base = tempfile.mkdtemp(prefix="bench-web-")
    servers = [harness.start_mariadb(base), harness.start_redis(base)]
    gunicorn = None
    try:
        mariadb, redis = servers
        first_seq = _seed(mariadb.url, base, args.policies)
        port = harness.free_port()
        env = {**os.environ, "DATABASE_URL": mariadb.url, "REDIS_URL": redis.url,
               "SECRET_KEY": SECRET_KEY, "PORTAL_INSTANCE_DIR": base,
               "UPLOAD_DIR": os.path.join(base, "uploads"), "LOGIN_RATE_LIMIT": "100000 per minute",
               "LIST_PAGE_CACHE_SECONDS": str(args.list_cache_seconds)}
        gunicorn = subprocess.Popen(
            [os.path.join(BIN, "gunicorn"), "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
             "--timeout", "60", "app:create_app()"], cwd=ROOT, env=env,
            stdout=open(os.path.join(base, "gunicorn.log"), "w"), stderr=subprocess.STDOUT)
        _wait_port(port, gunicorn)
        _warm(port, args.workers)
        prefix = os.path.join(base, "locust")
        samples = os.path.join(base, "samples.json")
        locust_env = {**os.environ, "WEB_LOAD_POLICIES": str(args.policies), "WEB_LOAD_FIRST_SEQ": str(first_seq),
                      "WEB_LOAD_CLIENTS": str(args.clients), "WEB_LOAD_SAMPLES": samples}
        print(f"Locust: {args.clients} clients for {args.seconds} s against gunicorn ({args.workers} workers)",
              flush=True)
        subprocess.run(
            [os.path.join(BIN, "locust"), "-f", os.path.abspath(__file__), "--headless", "--only-summary",
             "-u", str(args.clients), "-r", str(args.clients), "-t", f"{args.seconds}s", "--reset-stats",
             "--host", f"http://127.0.0.1:{port}", "--csv", prefix, "--loglevel", "WARNING"],
            stderr=open(os.path.join(base, "locust.log"), "w"),
            cwd=ROOT, env=locust_env, check=False, stdout=subprocess.DEVNULL)
        errors = open(os.path.join(base, "locust.log")).read()
        if "Error report" in errors:
            print(errors[errors.index("Error report"):][:3000])
        _figures(prefix)
        rate, p50, p95, failures, window = _measured(samples)
        print(f"\n{args.policies:,} policies, {args.clients} clients, gunicorn {args.workers} workers, "
              f"list pages kept {args.list_cache_seconds} s at most, "
              f"{window:.0f} s once all were signed in: {rate:.1f} list pages/s, p50 {p50:.0f} ms, "
              f"p95 {p95:.0f} ms, {failures} failures (target: 100/s, p95 300 ms)")
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            try:
                gunicorn.wait(30)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        for server in servers:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
