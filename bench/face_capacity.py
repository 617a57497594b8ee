"""Face checks per second per worker core (issue 14, item 7): what one Celery worker process on one core
gets through, so an operator can size the workers and the progress page can estimate a wait.

    .venv/bin/python bench/face_capacity.py [--rounds N] [--core K]

The real check: the worker task's own function (app/tasks/identity.py run_photo_verification: the row
lock, decode, detect, encode, compare with the customer's reference, the outcome and its audit row
committed), on PENDING rows whose selfies are every photo of ../shared/testdata/faces, each compared
with demo customer C0001's reference (obama.jpg): passes, mismatches, a two-face photo, as they come.
No HTTP, no broker. The process is pinned to one core and its math libraries to one thread, as a
worker process with -c <cores> has one core each. A first pass warms the reference cache (as a running
worker's is); the figure is over --rounds passes. The database is an SQLite file (the row work is a
few milliseconds of the ~0.2 s a check takes).
"""
import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import glob  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
FACES = os.path.join(os.path.dirname(ROOT), "shared", "testdata", "faces")
PHOTOS = ("*.jpg", "*.jpeg", "*.png")


def make_app(base):
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + os.path.join(base, "bench.db"),
        "UPLOAD_DIR": os.path.join(base, "uploads"), "RATELIMIT_STORAGE_URI": "memory://",
        "SESSION_FILE_DIR": os.path.join(base, "sessions"), "SMS_BACKEND": "outbox",
        "CELERY": {"broker_url": "memory://", "task_always_eager": True, "task_ignore_result": True,
                   "timezone": "Asia/Shanghai"}})
    with app.app_context():
        upgrade()
    return app


def pending_checks(customer_id, photos):
    """One PENDING photo check per file, stored as start_photo_verification stores it (no job queued)."""
    from app.extensions import db
    from app.models.identity import IdentityVerification
    from app.services import clock, identity

    ids = []
    for path in photos:
        with open(path, "rb") as handle:
            data = handle.read()
        _, fmt = identity._open_image(data)
        stored = identity._store("photo", customer_id, identity.IMAGE_FORMATS[fmt], data)
        row = IdentityVerification(customer_id=customer_id, kind="PHOTO", purpose="ACCOUNT_AUTH",
                                   status="PENDING", evidence_path=stored, created_at=clock.now())
        db.session.add(row)
        db.session.flush()
        ids.append(row.id)
    db.session.commit()
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="measured passes over the photos")
    parser.add_argument("--core", type=int, default=None, help="the core to pin to (default: the last)")
    args = parser.parse_args()
    if not os.path.isdir(FACES):
        sys.exit(f"no test photos at {FACES}")
    cores = sorted(os.sched_getaffinity(0))
    core = args.core if args.core is not None else cores[-1]
    os.sched_setaffinity(0, {core})

    photos = sorted(p for pattern in PHOTOS for p in glob.glob(os.path.join(FACES, pattern)))
    with tempfile.TemporaryDirectory(prefix="face-capacity-") as base:
        app = make_app(base)
        with app.app_context():
            from app.extensions import db
            from app.models.customer import Customer
            from app.services import audit, demo, identity
            from app.tasks.identity import run_photo_verification

            with audit.acting_as("bench"):
                demo.seed("Bench-Password-1")
                identity.attach_demo_faces(FACES)
                db.session.commit()
            customer = db.session.query(Customer).filter_by(customer_no="C0001").one()
            for check_id in pending_checks(customer.id, photos):  # warm-up: reference cache, libraries
                run_photo_verification.run(check_id)
            ids = pending_checks(customer.id, photos * args.rounds)
            seconds = []
            started = time.perf_counter()
            for check_id in ids:
                one = time.perf_counter()
                run_photo_verification.run(check_id)
                seconds.append(time.perf_counter() - one)
            elapsed = time.perf_counter() - started
            from app.models.identity import IdentityVerification

            outcomes = {}
            for (status,) in db.session.query(IdentityVerification.status).filter(IdentityVerification.id.in_(ids)):
                outcomes[status] = outcomes.get(status, 0) + 1
    ordered = sorted(seconds)
    rate = len(ids) / elapsed
    print(f"face checks: {len(ids)} ({len(photos)} photos x {args.rounds}) on core {core} of {len(cores)}, "
          f"outcomes {outcomes}")
    print(f"per check: mean {statistics.mean(seconds):.3f} s, p50 {ordered[len(ordered) // 2]:.3f} s, "
          f"p95 {ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]:.3f} s")
    print(f"capacity: {rate:.2f} photos per second per worker core")


if __name__ == "__main__":
    main()
