"""What the customer pages say about a face check they are waiting for: the e-revisit's selfie
(/s/), the insured's consent (/c/) and the account's video (/my/) share these words and this polling."""
from flask import jsonify, render_template, request, url_for
from flask_babel import gettext as _

from app.services import errors, identity
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
    place = identity.queue_position(verification)
    if place is not None:  # the page shows where the check stands (issue 14 item 7)
        text = _("前面还有 %(ahead)s 位,预计约 %(seconds)s 秒", **place) if place["ahead"] else \
            _("正在为您进行人脸比对,预计约 %(seconds)s 秒", seconds=place["seconds"])
        body["queue"] = dict(place, text=text)
    if verification.status == "PASSED" and settle(verification):
        body["redirect"] = passed_url
    elif body["done"]:
        body["message"] = failure_message(verification) if verification.status != "PASSED" else None
        body["redirect"] = progress_url
    return jsonify(body)


def photo_form_error(form):
    """The first problem of a refused selfie form, in Chinese (a stale page says so)."""
    if form.csrf_token.errors:
        return _("页面已过期,请重新拍照提交。")
    found = [e for field in form for e in field.errors]
    return found[0] if found else None


def photo_too_large(open_endpoint):
    """An upload over MAX_CONTENT_LENGTH on a link's selfie page: the page to take another photo."""
    code = (request.view_args or {}).get("code")
    return render_template("h5/message.html", title=_("照片过大"), status="warn",
                           message=_("照片文件过大,请重新拍照后上传。"),
                           back_url=url_for(open_endpoint, code=code) if code else None,
                           back_label=_("重新拍照")), 413


def notice_page(template, purpose, action, error=None, status=200, **context):
    """The biometric notice before a purpose's first face check (services/biometric.py): its paragraphs as
    the record will store them, 同意并继续 and 不同意 posted to `action` with the CSRF token, and the hotline."""
    from flask import current_app
    from flask_wtf.csrf import generate_csrf

    from app.services import biometric

    context.setdefault("decline_label", _("不同意"))
    return render_template(template, paragraphs=biometric.notice(purpose), purpose=purpose, action=action,
                           csrf=generate_csrf(), error=error, hotline=current_app.config["HOTLINE"],
                           **context), status
