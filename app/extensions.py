"""Extension singletons, initialised inside create_app()."""
import logging
import socket
import time

from celery import Celery, Task, bootsteps
from celery.beat import PersistentScheduler
from flask import Flask
from flask_appbuilder import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_talisman import Talisman

log = logging.getLogger(__name__)


class _FailoverStrategy:
    """The `limits` strategy over the shared storage, falling back to Flask-Limiter's in-memory one when
    the storage fails, as Flask-Limiter itself does for the limits it checks (app/security.py counts the
    account locks through `limiter.limiter` directly, outside those checks)."""

    def __init__(self, owner):
        self._owner = owner

    def __getattr__(self, name):
        owner = self._owner
        primary = Limiter.limiter.fget(owner)
        method = getattr(primary, name)
        fallback = owner._fallback_limiter
        if not callable(method) or fallback is None or primary is fallback:
            return method

        def call(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except Exception:  # redis ConnectionError, TimeoutError, ... : count in memory
                if not owner._storage_dead:
                    log.warning("Rate limit storage unreachable - falling back to in-memory storage")
                    owner._storage_dead = True
                return getattr(fallback, name)(*args, **kwargs)

        return call


class PortalLimiter(Limiter):
    @property
    def limiter(self):
        return _FailoverStrategy(self)


db = SQLA(model_class=Model)
migrate = Migrate()
limiter = PortalLimiter(key_func=get_remote_address, default_limits=[])
talisman = Talisman()


def security_headers_init_app(app: Flask):
    """CSP with per-request nonces (Flask-AppBuilder's templates read csp_nonce()), no framing,
    nosniff, same-origin referrers; HSTS in production. TLS ends at the load balancer, so no
    redirect to https here."""
    production = app.config.get("PORTAL_ENV") == "production"
    talisman.init_app(
        app,
        force_https=False,
        strict_transport_security=production,
        strict_transport_security_max_age=31536000,
        session_cookie_secure=app.config.get("SESSION_COOKIE_SECURE", production),
        session_cookie_http_only=True,
        content_security_policy=app.config["CONTENT_SECURITY_POLICY"],
        content_security_policy_nonce_in=["script-src"],
        frame_options="DENY",
        referrer_policy="same-origin",
        x_content_type_options=True,
    )


class _TaggedJSONSerializer:
    """The serializer Flask's own cookie session uses (tuples, bytes, Markup, datetimes, lazy
    strings as text), so moving the session to the server changes nothing about what it holds."""

    def __init__(self):
        from flask.json.tag import TaggedJSONSerializer

        self._inner = TaggedJSONSerializer()

    def encode(self, session) -> bytes:
        return self._inner.dumps(dict(session)).encode()

    def decode(self, data: bytes) -> dict:
        try:
            return self._inner.loads(data.decode() if isinstance(data, bytes) else data)
        except ValueError:
            return {}


def sessions_init_app(app: Flask):
    """Server-side sessions (Flask-Session): in Redis when one is configured, else in files under
    the instance folder (cachelib), so that signing out revokes the session itself."""
    from flask_session import Session

    url = app.config.get("SESSION_REDIS_URL")
    if url:
        import redis

        timeout = app.config.get("REDIS_SOCKET_TIMEOUT", 0.5)
        app.config.setdefault("SESSION_TYPE", "redis")
        app.config.setdefault("SESSION_REDIS", redis.Redis.from_url(url, socket_timeout=timeout,
                                                                       socket_connect_timeout=timeout))
    else:
        from cachelib import FileSystemCache

        app.config.setdefault("SESSION_TYPE", "cachelib")
        app.config.setdefault("SESSION_CACHELIB", FileSystemCache(app.config["SESSION_FILE_DIR"],
                                                                  threshold=100000))
    app.config.setdefault("SESSION_PERMANENT", True)
    Session(app)
    app.session_interface.serializer = _TaggedJSONSerializer()
    if app.config["SESSION_TYPE"] == "redis":
        interface = app.session_interface
        interface.__class__ = type("Resilient" + type(interface).__name__,
                                   (_ResilientSessions, type(interface)), {})


SESSION_STORE_PAUSE = 5.0  # seconds without trying Redis again after it failed


class _ResilientSessions:
    """Flask-Session on Redis that survives Redis being slow or gone (issue 14, item 2): each call waits
    REDIS_SOCKET_TIMEOUT at most, and after a failure the store is left alone for SESSION_STORE_PAUSE,
    so a frozen Redis does not hold every request. Meanwhile a request starts with an empty session
    (pages that need none, the login form and the customers' link pages, answer as usual) and nothing
    is saved; a form posted meanwhile (a sign-in, a face check) answers 503 服务暂时繁忙,请稍后再试,
    since what it would remember in the session cannot be kept."""

    _down_until = 0.0  # per app (set on the instance)

    def _store_ok(self):
        return time.monotonic() >= self._down_until

    def _store_failed(self, error):
        if self._store_ok():
            log.warning("session store unreachable (%s): sessions start empty and are not kept for %.0f s",
                        type(error).__name__, SESSION_STORE_PAUSE)
        self._down_until = time.monotonic() + SESSION_STORE_PAUSE
        from flask import g

        g.session_store_down = True

    def open_session(self, app, request):
        if self._store_ok():
            try:
                return super().open_session(app, request)
            except Exception as error:  # redis ConnectionError / TimeoutError, nothing else reaches here
                self._store_failed(error)
        else:
            from flask import g

            g.session_store_down = True
        return self.session_class(sid=self._generate_sid(self.sid_length), permanent=self.permanent)

    def regenerate(self, session):
        if not self._store_ok():
            return None
        try:
            return super().regenerate(session)
        except Exception as error:
            self._store_failed(error)
            return None

    def save_session(self, app, session, response):
        from flask import g, request

        if self._store_ok() and not g.get("session_store_down"):
            try:
                return super().save_session(app, session, response)
            except Exception as error:
                self._store_failed(error)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not request.path.startswith("/api/"):
            _store_unusable(response)
        return None


def _store_unusable(response):
    """Turn the answer into the Chinese 503 page (the session store could not keep what it needs)."""
    from flask import render_template
    from flask_babel import gettext as _

    try:
        body = render_template("h5/message.html", title=_("系统繁忙"),
                               message=_("服务暂时繁忙,请稍后再试"), status="error")
    except Exception:  # noqa: BLE001 - the page must not fail in turn
        body = "<!doctype html><meta charset=utf-8><p>服务暂时繁忙,请稍后再试</p>"
    response.status_code = 503
    response.headers.pop("Location", None)
    response.headers["Retry-After"] = "30"
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.set_data(body)


def celery_init_app(app: Flask) -> Celery:
    """Flask's Celery pattern: every task runs inside an app context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    from app.tasks.schedule import beat_schedule

    celery_app.conf.beat_schedule = beat_schedule(app.config)
    celery_app.conf.include = ["app.tasks"]
    # health (app/views/health.py): the worker's heartbeat and beat's last tick, in the broker's Redis
    celery_app.conf.beat_scheduler = "app.extensions:HeartbeatScheduler"
    celery_app.conf.beat_max_loop_interval = 30  # beat ticks (and says so) at least this often
    celery_app.steps["consumer"].add(WorkerHeartbeat)
    celery_app.portal_config = {"broker_url": app.config["CELERY"].get("broker_url"),
                                "WORKER_HEARTBEAT_SECONDS": app.config.get("WORKER_HEARTBEAT_SECONDS", 15)}
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


# --- health: the worker's heartbeat and beat's last tick --------------------------------------------

HEARTBEAT_KEY = "portal:health:workers"  # hash: worker hostname -> unix time of its last heartbeat
BEAT_TICK_KEY = "portal:health:beat"  # unix time of beat's last tick


def health_redis(broker_url, timeout=0.5):
    """A client on the broker's Redis (short timeouts), or None without one (the embedded default)."""
    if not broker_url or not broker_url.startswith(("redis://", "rediss://")):
        return None
    import redis

    return redis.Redis.from_url(broker_url, socket_timeout=timeout, socket_connect_timeout=timeout)


class WorkerHeartbeat(bootsteps.StartStopStep):
    """A consumer bootstep: every WORKER_HEARTBEAT_SECONDS the worker's own event loop writes its
    hostname and the time to Redis, independently of beat. A worker whose loop is stuck or whose broker
    connection is gone stops beating, which is what /health/worker reports."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self._timer_entry = None
        self._client = None

    def start(self, parent):
        settings = getattr(parent.app, "portal_config", {})
        self._client = health_redis(settings.get("broker_url"), timeout=2)
        if self._client is None:
            return
        self._hostname = parent.hostname or socket.gethostname()
        self.beat()
        self._timer_entry = parent.timer.call_repeatedly(settings.get("WORKER_HEARTBEAT_SECONDS", 15), self.beat)

    def beat(self):
        try:
            self._client.hset(HEARTBEAT_KEY, self._hostname, f"{time.time():.3f}")
        except Exception as error:  # noqa: BLE001 - Redis down: no heartbeat, which the endpoint reports
            log.debug("worker heartbeat not written: %r", error)

    def stop(self, parent):
        if self._timer_entry is not None:
            self._timer_entry.cancel()
            self._timer_entry = None

    shutdown = stop


class HeartbeatScheduler(PersistentScheduler):
    """celery beat's scheduler, writing its last tick to Redis (at most every 10 s) for /health/beat."""

    _last_written = 0.0

    def tick(self, *args, **kwargs):
        now = time.time()
        if now - self._last_written >= 10:
            self._last_written = now
            try:
                client = health_redis(self.app.conf.broker_url, timeout=2)
                if client is not None:
                    client.set(BEAT_TICK_KEY, f"{now:.3f}")
            except Exception as error:  # noqa: BLE001 - Redis down: beat goes on, the endpoint says 503
                log.debug("beat tick not written: %r", error)
        return super().tick(*args, **kwargs)
