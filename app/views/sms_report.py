"""POST /sms/report: Alibaba Cloud's SmsReport push (delivery receipts), answered {"code": 0}.

A machine push, not a browser form: no session and no CSRF token (CSRFProtect is not active
app-wide here; if it ever is, the blueprint is exempted below). When SMS_REPORT_TOKEN is set,
the push must carry it, as `?token=...` in the URL configured at Alibaba or in the
X-Sms-Report-Token header. Production with the Alibaba backend does not start without it
(app._check_config); production without it accepts no receipts; development without it stays
open and says so once in the log.
"""
import hmac
import json

from flask import Blueprint, current_app, jsonify, request

from app.services import audit, sms, unit
from app.services.errors import DomainError

bp = Blueprint("sms_report", __name__)
# A push of sms.MAX_RECEIPTS receipts is well under this; anything bigger is not Alibaba's.
MAX_BODY_BYTES = 1024 * 1024
_open_warning_logged = False


def _reply(status, msg):
    return jsonify(code=status, msg=msg), status


def _token_refused():
    """None when the push may be recorded, else the reply that refuses it."""
    global _open_warning_logged
    expected = current_app.config.get("SMS_REPORT_TOKEN")
    if not expected:
        if current_app.config.get("PORTAL_ENV") == "production":
            return _reply(403, "未配置回执令牌,不接受回执")
        if not _open_warning_logged:
            _open_warning_logged = True
            current_app.logger.warning("SMS_REPORT_TOKEN is not set: /sms/report accepts receipts from anyone")
        return None
    given = request.args.get("token") or request.headers.get("X-Sms-Report-Token") or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _reply(403, "令牌无效")
    return None


@bp.post("/sms/report")
def sms_report():
    refused = _token_refused()
    if refused:
        return refused
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _reply(413, "请求体过大")
    data = request.get_data(cache=True)
    if len(data) > MAX_BODY_BYTES:  # a chunked body has no Content-Length
        return _reply(413, "请求体过大")
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
        return _reply(400, "请求体应为 JSON 数组")
    try:
        with audit.acting_as("aliyun:sms-report"), unit.work():
            counts = sms.record_receipts(payload)
    except DomainError as exc:
        return jsonify(code=400, msg=exc.message), 400
    return jsonify(code=0, msg="成功", **counts)


def register_sms_report(app=None):
    """Called from register_views() inside create_app()'s app context."""
    app = app or current_app._get_current_object()
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)
