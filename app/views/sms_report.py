"""POST /sms/report: Alibaba Cloud's SmsReport push (delivery receipts), answered {"code": 0}.

A machine push, not a browser form: no session and no CSRF token (CSRFProtect is not active
app-wide here; if it ever is, the blueprint is exempted below). When SMS_REPORT_TOKEN is set,
the push must carry it, as `?token=...` in the URL configured at Alibaba or in the
X-Sms-Report-Token header.
"""
import hmac

from flask import Blueprint, current_app, jsonify, request

from app.services import audit, sms
from app.services.errors import DomainError

bp = Blueprint("sms_report", __name__)


@bp.post("/sms/report")
def sms_report():
    expected = current_app.config.get("SMS_REPORT_TOKEN")
    if expected:
        given = request.args.get("token") or request.headers.get("X-Sms-Report-Token") or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return jsonify(code=403, msg="令牌无效"), 403
    payload = request.get_json(silent=True, force=True)
    if payload is None:
        return jsonify(code=400, msg="请求体应为 JSON 数组"), 400
    try:
        with audit.acting_as("aliyun:sms-report"):
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
