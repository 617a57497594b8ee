"""Extension singletons, initialised inside create_app()."""
from celery import Celery, Task
from flask import Flask
from flask_appbuilder import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_talisman import Talisman

db = SQLA(model_class=Model)
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
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

        app.config.setdefault("SESSION_TYPE", "redis")
        app.config.setdefault("SESSION_REDIS", redis.Redis.from_url(url, socket_timeout=2,
                                                                       socket_connect_timeout=2))
    else:
        from cachelib import FileSystemCache

        app.config.setdefault("SESSION_TYPE", "cachelib")
        app.config.setdefault("SESSION_CACHELIB", FileSystemCache(app.config["SESSION_FILE_DIR"],
                                                                  threshold=100000))
    app.config.setdefault("SESSION_PERMANENT", True)
    Session(app)
    app.session_interface.serializer = _TaggedJSONSerializer()


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
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
