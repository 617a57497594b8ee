"""Time `flask demo seed --policies N` on a MariaDB of our own (prints the figures).

    .venv/bin/python bench/seed_bulk.py [N]      (default 100000)
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import harness  # noqa: E402


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    base = tempfile.mkdtemp(prefix="bench-seed-")
    server = harness.start_mariadb(base)
    try:
        from flask_migrate import upgrade

        from app import create_app
        from app.models import Customer, Policy
        from app.services import audit, demo

        app = create_app({"SQLALCHEMY_DATABASE_URI": server.url, "UPLOAD_DIR": os.path.join(base, "up")})
        with app.app_context(), audit.acting_as("bench"):
            upgrade()
            started = time.perf_counter()
            demo.seed("Bench@2026")
            print(f"base seed: {time.perf_counter() - started:.2f} s")
            seconds = demo.bulk_policies(count)
            from app.extensions import db

            print(f"bulk: {count} policies + {count} customers in {seconds:.2f} s "
                  f"({count / seconds:,.0f} policies/s); tables now hold "
                  f"{db.session.query(Policy).count():,} policies, {db.session.query(Customer).count():,} customers")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
