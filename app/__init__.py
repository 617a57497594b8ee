"""Application factory of the Policy Service Portal."""
import logging
import os

from flask import Flask
from flask_appbuilder import AppBuilder

from app.extensions import (celery_init_app, db, limiter, migrate, security_headers_init_app,
                            sessions_init_app)

log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    pass


def create_app(test_config=None):
    app = Flask(__name__, instance_path=None)
    app.config.from_object("config")
    if test_config:
        app.config.update(test_config)
    if test_config and "SQLALCHEMY_DATABASE_URI" in test_config and "SQLALCHEMY_ENGINE_OPTIONS" not in test_config:
        from config import engine_options

        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    _check_config(app)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    os.makedirs(app.config["UPLOAD_DIR"], exist_ok=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        os.makedirs(os.path.dirname(app.config["SQLALCHEMY_DATABASE_URI"][10:]) or ".", exist_ok=True)

    from app.views import errors  # before any view is registered: bounded ids, JSON depth, 4xx not 500

    errors.install(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    limiter.init_app(app)
    sessions_init_app(app)
    security_headers_init_app(app)
    celery_init_app(app)

    with app.app_context():
        from app import models  # noqa: F401  (register every table on the metadata)
        from app.security import PortalSecurityManager
        from app.services import audit
        from app.views import PortalIndexView, register_views

        appbuilder = AppBuilder(
            security_manager_class=PortalSecurityManager,
            indexview=PortalIndexView,
        )
        from app import dbpool

        dbpool.install(db.engine, app.config["DB_PING_IDLE_SECONDS"])
        from app import table_versions  # what the list-page cache checks (app/views/page_cache.py)

        table_versions.install(app, db.engine, app.config.get("PAGE_CACHE_REDIS_URL"),
                               app.config.get("REDIS_SOCKET_TIMEOUT", 0.5))
        appbuilder.init_app(app, db.session)
        register_views(appbuilder)
        appbuilder.post_init()
        audit.install(db.session)
        from app.services import unit

        unit.install(db.session)  # Celery jobs queued by services go out after their commit
    from app import tasks  # noqa: F401  (register the task names that unit.enqueue sends)

    from app.cli import register_cli

    register_cli(app)
    _serve_vendored(app)
    return app


NODE_MODULES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "node_modules")


def _serve_vendored(app):
    """ECharts, installed by npm from package.json (`make install` runs `npm ci --omit=dev`), served by the
    portal itself at a versioned URL: no page loads a script from the internet. Templates read the
    address from `echarts_url`."""
    import json

    from flask import abort, send_from_directory

    dist = os.path.join(NODE_MODULES, "echarts", "dist")
    try:
        with open(os.path.join(NODE_MODULES, "echarts", "package.json"), encoding="utf-8") as handle:
            version = json.load(handle)["version"]
    except (OSError, ValueError, KeyError):
        log.warning("node_modules/echarts is missing: run `make install` (npm ci) for the charts")
        version = "missing"

    path = f"/vendor/echarts/{version}/echarts.min.js"  # a new version is a new address: cached for a year

    @app.route(path, endpoint="vendor_echarts")
    def vendor_echarts():
        if not os.path.isfile(os.path.join(dist, "echarts.min.js")):
            abort(404)
        return send_from_directory(dist, "echarts.min.js", mimetype="text/javascript", max_age=365 * 24 * 3600)

    # a global, not a context processor: Flask-AppBuilder renders its chart widgets with jinja_env directly
    app.add_template_global(path, "echarts_url")


def _check_config(app):
    from app.services import settings
    from config import DEFAULT_SECRET

    # an environment default like FACE_MATCH_THRESHOLD=inf would let every face pass
    bad = settings.check_defaults(app.config)
    if bad:
        raise ConfigurationError("business settings out of range: " + "; ".join(bad))
    if app.config.get("PORTAL_ENV") == "production":
        from app.services import clock

        if clock.OFFSET:
            raise ConfigurationError("PORTAL_CLOCK_OFFSET_DAYS is for demos and cannot be set in production")
        secret = app.config.get("SECRET_KEY") or ""
        if secret in ("", DEFAULT_SECRET) or len(secret) < 32:
            raise ConfigurationError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production"
            )
        # personal data at rest (app/services/crypto.py): no keys derived from SECRET_KEY in production
        if not app.config.get("DATA_ENCRYPTION_KEYS") or not app.config.get("DATA_HASH_KEY"):
            raise ConfigurationError(
                "DATA_ENCRYPTION_KEYS (comma-separated Fernet keys) and DATA_HASH_KEY (at least 32 characters) "
                "must be set in production: they encrypt and hash ID numbers, mobiles and face encodings"
            )
        if len(app.config["DATA_HASH_KEY"]) < 32:
            raise ConfigurationError("DATA_HASH_KEY must be at least 32 characters in production")
        from app.services.crypto import keys_from

        try:
            keys_from(app.config)
        except ValueError as error:
            raise ConfigurationError(str(error)) from error
        # without it anyone can mark our SMS delivered or undelivered through /sms/report
        if app.config.get("SMS_BACKEND") == "aliyun" and not app.config.get("SMS_REPORT_TOKEN"):
            raise ConfigurationError(
                "SMS_REPORT_TOKEN must be set with SMS_BACKEND=aliyun in production: the delivery-receipt "
                "push URL configured at Alibaba Cloud is /sms/report?token=<SMS_REPORT_TOKEN>"
            )
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            log.warning("production mode on SQLite: use DATABASE_URL=mysql+pymysql://...")
