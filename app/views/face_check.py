"""What the customer pages say about a face check they are waiting for: the e-revisit's selfie
(/s/), the insured's consent (/c/) and the account's video (/my/) share these words and this polling."""
from flask import jsonify
from flask_babel import gettext as _

from app.services import errors
from app.services.errors import DomainError


def failure_message(verification, unusable=None, failed=None):
    """The first reason of a failed check that the one error map knows (app/services/errors.py), else
    the page's own words for an unusable upload or a mismatch."""
    for reason in (verification.details or {}).get("reasons") or []:
        message = errors.message_for(reason)
        if message:
            return message
    if verification.status == "UNUSABLE":
        return unusable or _("照片无法识别,请在光线充足处正对镜头重新拍照。")
    return failed or DomainError("face_mismatch").message


def status_reply(verification, settle, passed_url, progress_url):
    """The JSON the progress page polls: done or not, and where to go once settled (settle(verification)
    is the page's own step after a pass, True when the customer may go on)."""
    body = {"status": verification.status, "done": verification.status != "PENDING"}
    if verification.status == "PASSED" and settle(verification):
        body["redirect"] = passed_url
    elif body["done"]:
        body["message"] = failure_message(verification) if verification.status != "PASSED" else None
        body["redirect"] = progress_url
    return jsonify(body)
