"""Settings of the portal, read from the environment.

Every variable is documented in README.md ("Configuration"). The defaults are the
embedded first-run setup: SQLite under instance/, Celery eager, SMS to the outbox table.
Business numbers are DOMAIN.md's defaults; none is a constant in code.
"""
import os

BASE_DIR = os.path.abspath(os.path.dirname(__file__))
INSTANCE_DIR = os.environ.get("PORTAL_INSTANCE_DIR", os.path.join(BASE_DIR, "instance"))

DEFAULT_SECRET = "dev-insecure-secret-change-me"


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _bool(name, default):
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name, default):
    return int(_env(name, default))


# --- runtime -------------------------------------------------------------
PORTAL_ENV = _env("PORTAL_ENV", "development")  # development | production
# Proxies in front of the portal (load balancer, nginx) whose X-Forwarded-For/-Proto/-Host to trust:
# the client address for the rate limits, https for secure cookies and HSTS. 0: none (direct).
TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
SECRET_KEY = _env("SECRET_KEY", DEFAULT_SECRET)
# The evidence packs' signing key (app/services/evidence.py): an Ed25519 private key, PEM or the 32 raw bytes in
# base64. Unset in development: derived from SECRET_KEY (and said so); production refuses to start without it.
# `flask evidence public-key` prints the public key that verifies the packs offline.
EVIDENCE_SIGNING_KEY = _env("EVIDENCE_SIGNING_KEY")
# Personal data at rest (app/services/crypto.py): comma-separated Fernet keys, the first encrypts and all
# decrypt (`flask portal rotate-keys` re-encrypts with the first), and the HMAC key of the lookup hashes
# (set once: changing it orphans every hash). Unset in development: derived from SECRET_KEY; production
# refuses to start without them.
DATA_ENCRYPTION_KEYS = _env("DATA_ENCRYPTION_KEYS")
DATA_HASH_KEY = _env("DATA_HASH_KEY")
SQLALCHEMY_DATABASE_URI = _env(
    "DATABASE_URL", "sqlite:///" + os.path.join(INSTANCE_DIR, "portal.db")
)
SQLALCHEMY_TRACK_MODIFICATIONS = False
# MariaDB/MySQL: a pooled connection idle longer than this is pinged before use (app/dbpool.py)
# 0: every checkout pinged (pool_pre_ping): no request fails right after a database restart (make chaos)
DB_PING_IDLE_SECONDS = _int("DB_PING_IDLE_SECONDS", 0)


def engine_options(database_uri):
    """READ COMMITTED on MySQL/MariaDB: each statement sees what other workers committed (the queues
    rely on conditional UPDATEs and SKIP LOCKED, not on repeatable snapshots), and fewer gap locks."""
    options = {"pool_pre_ping": True}
    if database_uri.startswith("mysql"):
        # app/dbpool.py pings connections that sat idle instead of pool_pre_ping's ping on
        # every checkout
        options.update(pool_recycle=3600, pool_size=10, max_overflow=20, isolation_level="READ COMMITTED",
                       pool_pre_ping=False)
    return options


SQLALCHEMY_ENGINE_OPTIONS = engine_options(SQLALCHEMY_DATABASE_URI)

# Celery: without a broker the tasks run eagerly in the web process.
CELERY_BROKER_URL = _env("CELERY_BROKER_URL", _env("REDIS_URL"))
CELERY = {
    # no broker: tasks run eagerly; the in-memory transport is named with its host, so that kombu
    # does not warn "No hostname was supplied" about a broker nobody configured
    "broker_url": CELERY_BROKER_URL or "memory://localhost//",
    "result_backend": _env("CELERY_RESULT_BACKEND", CELERY_BROKER_URL),
    "task_always_eager": CELERY_BROKER_URL is None,
    "task_eager_propagates": False,
    "task_ignore_result": True,
    "task_acks_late": True,
    "worker_prefetch_multiplier": 1,
    "timezone": "Asia/Shanghai",
    "enable_utc": True,
    "broker_connection_retry_on_startup": True,
    # Issue 14, item 1: with task_acks_late, a Redis restart while a task was in flight killed the worker
    # for good ("Unrecoverable error: AttributeError('NoneType' object has no attribute 'hostname')").
    # Cause (kombu 5.7.0, the newest release, so no version avoids it; the same path as kombu #582 and
    # #970): on the connection loss Celery's consumer calls Connection.collect(), which drops the redis
    # Channel's pools and sets transport.client to None; closing the task consumer's channel afterwards
    # restores the unacknowledged messages (QoS.restore_unacked_once), which builds a new pool from
    # transport.client.hostname. app/celery_redis.py's transport skips that local restore when the
    # connection is gone: the messages stay in Redis's `unacked` hash, and every worker's poll loop
    # requeues them once they are older than visibility_timeout (kombu's restore_visible), so nothing
    # is lost and the worker reconnects. A task longer than visibility_timeout would be delivered twice:
    # every task checks its row's state first (idempotent), and none runs near 30 minutes.
    "broker_transport": "app.celery_redis:Transport" if (CELERY_BROKER_URL or "").startswith(
        ("redis://", "rediss://")) else None,
    "broker_transport_options": {
        "visibility_timeout": _int("CELERY_VISIBILITY_TIMEOUT", 1800),
        # look for such messages every 30 s (kombu's default, 10 s x every 10th look, is 100 s)
        "unacked_restore_interval": 30, "unacked_restore_throttle": 1,
        # a broker that stops answering is noticed in seconds, not at the kernel's TCP timeout
        "socket_timeout": 5, "socket_connect_timeout": 2, "socket_keepalive": True,
    },
    # keep retrying the broker for ever (a supervisor restarts the process if it dies anyway)
    "broker_connection_retry": True,
    "broker_connection_max_retries": None,
    # Left False (Celery 5's default): True terminates the tasks in flight when the connection drops,
    # and Celery then acknowledges a terminated task as revoked; with Redis back within seconds that
    # acknowledgement reaches it and the task is lost undone (the chaos suite lost 2 of 60 sends that
    # way). Left running, the task finishes its work; if its ack is lost it runs again after
    # visibility_timeout and finds its row done (every task checks its row's state first).
    "worker_cancel_long_running_tasks_on_connection_loss": False,
}
# Health (app/views/health.py): the worker writes a heartbeat to Redis this often; /health/worker and
# /health/beat answer 503 when the newest heartbeat, or beat's last tick, is older than the limit.
WORKER_HEARTBEAT_SECONDS = _int("WORKER_HEARTBEAT_SECONDS", 15)
WORKER_HEARTBEAT_MAX_AGE = _int("WORKER_HEARTBEAT_MAX_AGE", 120)
BEAT_TICK_MAX_AGE = _int("BEAT_TICK_MAX_AGE", 180)

# Redis clients of the web process (rate limits, sessions): a Redis that is slow or gone costs a request
# this long at most, then the rate limits count in the process's memory and sessions start empty.
REDIS_SOCKET_TIMEOUT = float(_env("REDIS_SOCKET_TIMEOUT", "0.5"))

# Rate limits (Flask-Limiter): shared in Redis when there is one (REDIS_URL, else the broker's Redis).
RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", _env("REDIS_URL", CELERY_BROKER_URL or "memory://"))
RATELIMIT_STORAGE_OPTIONS = {"socket_timeout": REDIS_SOCKET_TIMEOUT,
                             "socket_connect_timeout": REDIS_SOCKET_TIMEOUT}
# Redis unreachable: count in this process's memory (Flask-Limiter logs the switch once and goes back
# to Redis when it answers again) rather than refusing or failing the request
RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
RATELIMIT_SWALLOW_ERRORS = True
RATELIMIT_HEADERS_ENABLED = True
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per 5 minutes")  # per address, login page and API login
# failed staff sign-ins per account from any address before the account is locked for the window
ACCOUNT_LOCK_LIMIT = _env("ACCOUNT_LOCK_LIMIT", "5 per 15 minutes")

# Server-side sessions (Flask-Session): signing out or changing the password ends the session on
# the server, so a copied cookie stops working. Redis when there is one, else files in the instance
# folder (the embedded default runs one process).
SESSION_REDIS_URL = _env("SESSION_REDIS_URL", _env("REDIS_URL", CELERY_BROKER_URL))
SESSION_FILE_DIR = _env("SESSION_FILE_DIR", os.path.join(INSTANCE_DIR, "sessions"))
SESSION_KEY_PREFIX = "portal-session:"

# Back-office list pages are kept, per process and per user, until a table they read is written
# (app/table_versions.py moves a version per table in this Redis on every commit; app/views/page_cache.py),
# or for LIST_PAGE_CACHE_SECONDS at most (writes made outside the portal, by hand in SQL). 0: never kept.
# Without a Redis (the embedded default) nothing is kept.
PAGE_CACHE_REDIS_URL = _env("PAGE_CACHE_REDIS_URL", _env("REDIS_URL", CELERY_BROKER_URL))
LIST_PAGE_CACHE_SECONDS = _int("LIST_PAGE_CACHE_SECONDS", 30)
LIST_PAGE_CACHE_ENTRIES = _int("LIST_PAGE_CACHE_ENTRIES", 200)  # per process, about 70 kB each

# Security headers (Flask-Talisman): scripts only from this site, or inline with the request's nonce
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",  # Flask-AppBuilder's widgets set style attributes
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# SMS
SMS_BACKEND = _env("SMS_BACKEND", "outbox")  # outbox | aliyun
ALIYUN_ACCESS_KEY_ID = _env("ALIYUN_ACCESS_KEY_ID")
ALIYUN_ACCESS_KEY_SECRET = _env("ALIYUN_ACCESS_KEY_SECRET")
ALIYUN_SMS_ENDPOINT = _env("ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com")
ALIYUN_SMS_PROTOCOL = _env("ALIYUN_SMS_PROTOCOL", "HTTPS")
SMS_SIGN_NAME = _env("SMS_SIGN_NAME", "爱心人寿")
ALIYUN_SMS_CONNECT_TIMEOUT_MS = _int("ALIYUN_SMS_CONNECT_TIMEOUT_MS", 5000)
ALIYUN_SMS_READ_TIMEOUT_MS = _int("ALIYUN_SMS_READ_TIMEOUT_MS", 10000)
SMS_REPORT_TOKEN = _env("SMS_REPORT_TOKEN")  # shared secret of the SmsReport push URL (?token=...)
# The base of SMS links; by default the address `make run` serves on (run.py's HOST and PORT)
PORT = _int("PORT", 5000)
_LINK_HOST = _env("HOST", "127.0.0.1")
PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://{}:{}".format(
    "127.0.0.1" if _LINK_HOST in ("0.0.0.0", "::") else _LINK_HOST, PORT))

# Files (reference photos, selfies, liveness videos, ID card images)
UPLOAD_DIR = _env("UPLOAD_DIR", os.path.join(INSTANCE_DIR, "uploads"))
MAX_CONTENT_LENGTH = _int("MAX_UPLOAD_MB", 30) * 1024 * 1024

# --- time and language ---------------------------------------------------
TIMEZONE = "Asia/Shanghai"
BABEL_DEFAULT_LOCALE = "zh"
BABEL_DEFAULT_TIMEZONE = TIMEZONE
BABEL_TRANSLATION_DIRECTORIES = os.path.join(BASE_DIR, "translations")
LANGUAGES = {
    "zh": {"flag": "cn", "name": "简体中文"},
    "en": {"flag": "gb", "name": "English"},
}

# --- business defaults (DOMAIN.md) ---------------------------------------
# The overridable ones (系统管理 → 业务参数) are declared once, with type, default, range and meaning, in
# app/services/settings.py SPECS; the environment variable of the same name changes the default.
from app.services.settings import SPECS as _BUSINESS_SETTINGS  # noqa: E402

for _spec in _BUSINESS_SETTINGS.values():
    globals()[_spec.key] = _spec.from_environment(os.environ.get(_spec.key))
HOTLINE = _env("HOTLINE", "10109520")
# On MariaDB/MySQL "下一个任务" runs as the stored procedure portal_claim_next (one round trip
# instead of nine); False runs the same rules as separate statements, as SQLite always does.
CLAIM_WITH_PROCEDURE = True
SHORT_LINK_PER_MINUTE = _env("SHORT_LINK_RATE_LIMIT", "20 per minute")
# Face photos (docs/identity.md has the measured distances behind every threshold)
FACE_IMAGE_MAX_SIDE = _int("FACE_IMAGE_MAX_SIDE", 800)  # photos are downscaled to this before detection
# The face-check queue's pace (issue 14 item 7): photos the workers check per second in all, i.e.
# bench/face_capacity.py's figure per worker core times the worker processes (-c); a video counts as
# FACE_VIDEO_CHECK_SECONDS. The progress page divides the checks ahead of a customer's by it.
FACE_CHECKS_PER_SECOND = float(_env("FACE_CHECKS_PER_SECOND", "4"))
FACE_VIDEO_CHECK_SECONDS = float(_env("FACE_VIDEO_CHECK_SECONDS", "2"))
# Largest image (any upload decoded by Pillow), read from the header before decoding: a 48 MP phone
# camera (8064x6048) fits; a 160 KB PNG claiming 12000x12000 (690 MB decoded) does not.
IMAGE_MAX_PIXELS = _int("IMAGE_MAX_PIXELS", 50_000_000)
# Video liveness (docs/identity.md): sampling rates, then the decision thresholds
LIVENESS_DETECT_FPS = float(_env("LIVENESS_DETECT_FPS", "3"))
LIVENESS_LANDMARK_FPS = float(_env("LIVENESS_LANDMARK_FPS", "10"))
LIVENESS_ENCODE_SECONDS = float(_env("LIVENESS_ENCODE_SECONDS", "3"))
LIVENESS_FRAME_MAX_SIDE = _int("LIVENESS_FRAME_MAX_SIDE", 320)
LIVENESS_MAX_SECONDS = _int("LIVENESS_MAX_SECONDS", 30)
# Largest video frame, from the container before a frame is read: 4K UHD, the most a phone records
LIVENESS_MAX_PIXELS = _int("LIVENESS_MAX_PIXELS", 3840 * 2160)
LIVENESS_MATCH_THRESHOLD = float(_env("LIVENESS_MATCH_THRESHOLD", "0.63"))
LIVENESS_MIN_FACE_SHARE = float(_env("LIVENESS_MIN_FACE_SHARE", "0.4"))
LIVENESS_MIN_FACE_FRAMES = _int("LIVENESS_MIN_FACE_FRAMES", 6)
LIVENESS_MAX_STRANGER_SHARE = float(_env("LIVENESS_MAX_STRANGER_SHARE", "0.15"))
LIVENESS_MIN_NONRIGID = float(_env("LIVENESS_MIN_NONRIGID", "0.08"))
LIVENESS_BLINK_DROP = float(_env("LIVENESS_BLINK_DROP", "0.25"))

# --- customer account on the official-account pages (/my/) ---------------
# SMS code send limits per mobile, as Alibaba's defaults for verification codes: 1/min, 5/hour, 10/day.
CODE_SENDS_PER_MINUTE = _int("CODE_SENDS_PER_MINUTE", 1)
CODE_SENDS_PER_HOUR = _int("CODE_SENDS_PER_HOUR", 5)
CODE_SENDS_PER_DAY = _int("CODE_SENDS_PER_DAY", 10)
CODE_REQUEST_RATE_LIMIT = _env("CODE_REQUEST_RATE_LIMIT", "10 per 10 minutes")  # per IP
CUSTOMER_SIGNIN_RATE_LIMIT = _env("CUSTOMER_SIGNIN_RATE_LIMIT", "20 per 10 minutes")  # per IP
BIND_MAX_FAILURES = _int("BIND_MAX_FAILURES", 5)  # per account, per ID number, per IP ...
BIND_LOCK_MINUTES = _int("BIND_LOCK_MINUTES", 60)  # ... within this window, then locked
FACE_AUTH_VALID_MINUTES = _int("FACE_AUTH_VALID_MINUTES", 30)  # a passed video lets set a password this long
# WeChat official account, OAuth2 web authorisation (snsapi_base -> openid); empty app id: off.
WECHAT_APP_ID = _env("WECHAT_APP_ID")
WECHAT_APP_SECRET = _env("WECHAT_APP_SECRET")
WECHAT_OAUTH_AUTHORIZE_URL = _env("WECHAT_OAUTH_AUTHORIZE_URL", "https://open.weixin.qq.com/connect/oauth2/authorize")
WECHAT_API_BASE = _env("WECHAT_API_BASE", "https://api.weixin.qq.com")
WECHAT_TIMEOUT_SECONDS = float(_env("WECHAT_TIMEOUT_SECONDS", "5"))

# --- Flask-AppBuilder ------------------------------------------------------
APP_NAME = "爱心人寿 保险回访与保全服务平台"
APP_THEME = ""
AUTH_TYPE = 1  # AUTH_DB
AUTH_ROLE_ADMIN = "Admin"
AUTH_ROLE_PUBLIC = "Public"
FAB_UPDATE_PERMS = False  # permissions are written by `flask portal init` (app/security.sync_roles)
FAB_CREATE_DB = False  # the schema is owned by the migrations
FAB_API_SWAGGER_UI = True
FAB_ADD_SECURITY_API = False
FAB_PASSWORD_HASH_METHOD = "scrypt"
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PORTAL_ENV == "production"
PERMANENT_SESSION_LIFETIME = _int("SESSION_MINUTES", 480) * 60

# Role permissions are explicit allow-lists in app/security.py (ROLE_PERMISSIONS), written to the
# database by `flask portal init`; README.md "Role permissions" lists them.
