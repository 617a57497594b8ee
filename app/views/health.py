"""Health endpoints for the load balancer and the supervisor (issue 14, item 1). Public, JSON, no
secrets or internals: a status word, the ages in seconds, never a host, URL or error text.

- ``/health``: this web process can reach the database (200) or not (503). Redis is reported
  (``redis``: ``ok`` / ``unavailable``) but does not fail it: without Redis the site still serves
  (rate limits in memory, empty sessions), so the load balancer should keep sending traffic.
- ``/health/worker``: the newest Celery worker heartbeat (written by each worker's event loop every
  WORKER_HEARTBEAT_SECONDS, app/extensions.py) is younger than WORKER_HEARTBEAT_MAX_AGE.
- ``/health/beat``: celery beat's last tick is younger than BEAT_TICK_MAX_AGE.

Without a broker (the embedded default) the jobs run inside the web process: worker and beat answer
200 with ``embedded``.
"""
import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.extensions import BEAT_TICK_KEY, HEARTBEAT_KEY, db, health_redis

bp = Blueprint("health", __name__)
RETRY_AFTER = "30"


def _answer(ok, **fields):
    response = jsonify(status="ok" if ok else "unavailable", **fields)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    if not ok:
        response.headers["Retry-After"] = RETRY_AFTER
    return response


def _redis():
    return health_redis(current_app.config["CELERY"].get("broker_url"),
                        timeout=current_app.config.get("REDIS_SOCKET_TIMEOUT", 0.5))


def _database_ok():
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure is "unavailable"; Flask logs nothing secret here
        current_app.logger.warning("health: database unreachable")
        return False
    finally:
        db.session.rollback()


@bp.route("/health")
@bp.route("/healthz")
def web():
    database = _database_ok()
    client = _redis()
    fields = {"database": "ok" if database else "unavailable"}
    if client is not None:
        try:
            client.ping()
            fields["redis"] = "ok"
        except Exception:  # noqa: BLE001
            fields["redis"] = "unavailable"
    return _answer(database, **fields)


def _age(read):
    client = _redis()
    if client is None:
        return "embedded", None
    try:
        value = read(client)
    except Exception:  # noqa: BLE001 - Redis unreachable: nothing can be known
        return "redis_unavailable", None
    if value is None:
        return "never", None
    return "seen", max(0.0, time.time() - float(value))


@bp.route("/health/worker")
def worker():
    limit = current_app.config.get("WORKER_HEARTBEAT_MAX_AGE", 120)
    beats = []

    def newest(client):
        beats.extend(float(v) for v in client.hvals(HEARTBEAT_KEY))
        return max(beats) if beats else None

    state, age = _age(newest)
    if state == "embedded":
        return _answer(True, worker="embedded")
    if age is None:
        return _answer(False, worker=state)
    fresh = sum(1 for value in beats if time.time() - value <= limit)
    return _answer(age <= limit, worker="ok" if age <= limit else "stale", heartbeat_age=round(age, 1),
                   workers=fresh)


@bp.route("/health/beat")
def beat():
    limit = current_app.config.get("BEAT_TICK_MAX_AGE", 180)
    state, age = _age(lambda client: client.get(BEAT_TICK_KEY))
    if state == "embedded":
        return _answer(True, beat="embedded")
    if age is None:
        return _answer(False, beat=state)
    return _answer(age <= limit, beat="ok" if age <= limit else "stale", tick_age=round(age, 1))


def register_health():
    current_app.register_blueprint(bp)
