"""人脸验证: the 4 digits to read aloud, the recorded video, the check's progress and outcome."""
from flask import current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.extensions import db
from app.forms.account import ChallengeForm, VideoForm
from app.services import account, biometric, unit
from app.services import settings as business_settings
from app.views import face_check
from app.services.errors import DomainError
from app.views.account.base import (FACE_PURPOSES, SESSION_CHALLENGE, SESSION_VERIFICATION, _client,
                                    _form_error, _message, _not_found, _reset_code_fresh, bp,
                                    customer_required, signin_limit)


def _purpose():
    purpose = request.values.get("purpose", "ACCOUNT_AUTH")
    return purpose if purpose in FACE_PURPOSES else "ACCOUNT_AUTH"


def _face_gate(purpose):
    """A response when this customer may not start this face check now, else None."""
    if purpose == "ACCOUNT_AUTH" and g.customer.auth_status == "VERIFIED":
        flash(_("您的账户已认证"), "success")
        return redirect(url_for(".center"))
    if purpose == "PASSWORD_RESET" and not _reset_code_fresh():
        return redirect(url_for(".reset_password"))
    account.check_face_tries(g.customer.id)  # too many today: views/errors.py's page, 429
    return None


def biometric_notice(consent_for, **hidden):
    """The notice before the customer's first face check of a servicing purpose (ACCOUNT_AUTH: this page's
    video; SERVICING: the loan's selfie), posted to .biometric_answer; `hidden` says where to go on."""
    return face_check.notice_page("account/biometric_notice.html", consent_for, url_for(".biometric_answer"),
                                  hidden={"for": consent_for, **hidden})


@bp.route("/face/consent", methods=["POST"])
@customer_required
def biometric_answer():
    """同意并继续 (stored, then the face check) or 不同意 (stored; the counter or the hotline instead). The
    consent is the signed-in customer's: nothing in the form names a customer."""
    consent_for = request.form.get("for")
    if consent_for not in ("ACCOUNT_AUTH", "SERVICING"):
        return _not_found()
    policy_id = request.form.get("policy_id", type=int)
    if consent_for == "SERVICING":
        if not policy_id:
            return _not_found()
        back, hidden = url_for(".loan_face", policy_id=policy_id), {"policy_id": policy_id}
        leave = url_for(".loan_policy", policy_id=policy_id)
    else:
        back, hidden = url_for(".face", purpose=_purpose()), {"purpose": _purpose()}
        leave = url_for(".center")
    choice = request.form.get("choice")
    if not ChallengeForm().validate_on_submit() or choice not in ("agree", "decline"):
        page, _status = biometric_notice(consent_for, **hidden)
        return page, 400
    with unit.work():
        (biometric.agree if choice == "agree" else biometric.decline)(g.customer.id, consent_for, **_client())
    if choice == "agree":
        return redirect(back)
    hotline = current_app.config["HOTLINE"]
    return _message(_("未进行人脸识别"), biometric.alternative(consent_for),
                    actions=[(f"tel:{hotline}", _("拨打客服热线 %(hotline)s", hotline=hotline)), (leave, _("返回"))])


@bp.route("/face")
@customer_required
def face():
    purpose = _purpose()
    blocked = _face_gate(purpose)
    if blocked is not None:
        return blocked
    if not biometric.has_agreed(g.customer.id, "ACCOUNT_AUTH"):
        return biometric_notice("ACCOUNT_AUTH", purpose=purpose)
    return render_template("account/face.html", purpose=purpose, form=ChallengeForm())


@bp.route("/face/challenge", methods=["POST"])
@customer_required
def face_challenge():
    """下一步: the server makes and keeps the 4 digits."""
    purpose = _purpose()
    if not ChallengeForm().validate_on_submit():
        flash(_("页面已过期,请重新提交。"), "error")
        return redirect(url_for(".face", purpose=purpose))
    blocked = _face_gate(purpose)
    if blocked is not None:
        return blocked
    if not biometric.has_agreed(g.customer.id, "ACCOUNT_AUTH"):  # no face data before the separate consent
        return redirect(url_for(".face", purpose=purpose))
    session[SESSION_CHALLENGE] = {"digits": account.new_challenge(), "purpose": purpose,
                                  "customer": g.customer.id}
    return redirect(url_for(".face_record"))


def _challenge():
    challenge = session.get(SESSION_CHALLENGE) or {}
    return challenge if challenge.get("customer") == g.customer.id else None


def _record_page(challenge, form=None, error=None, status=200):
    return render_template("account/record.html", digits=challenge["digits"], purpose=challenge["purpose"],
                           form=form or VideoForm(), error=error), status


@bp.route("/face/record")
@customer_required
def face_record():
    challenge = _challenge()
    if challenge is None:
        return redirect(url_for(".face"))
    return _record_page(challenge)


def _wants_json():
    return request.headers.get("X-Requested-With") == "fetch"


@bp.route("/face/video", methods=["POST"])
@customer_required
@signin_limit
def face_video():
    """✓: the recorded (or chosen) video, multipart with the CSRF token."""
    challenge = _challenge()
    form = VideoForm()
    error = None
    if challenge is None:
        error = DomainError("challenge_missing").message
    elif not form.validate_on_submit():
        error = _form_error(form)
    else:
        try:
            with unit.work():
                verification = account.start_video_check(g.customer.id, form.video.data.read(),
                                                         challenge["digits"], challenge["purpose"], **_client())
        except DomainError as failure:
            error = failure.message
    if error is not None:
        if _wants_json():
            return jsonify({"error": error, "redirect": None if challenge else url_for(".face")}), 400
        if challenge is None:
            flash(error, "error")
            return redirect(url_for(".face"))
        return _record_page(challenge, form, error, 400)
    session.pop(SESSION_CHALLENGE, None)  # the digits are spent
    session[SESSION_VERIFICATION] = {"id": verification.id, "purpose": verification.purpose}
    target = url_for(".face_progress", verification_id=verification.id)
    return jsonify({"redirect": target}) if _wants_json() else redirect(target)


def _failure_message(verification):
    """A video check's words (the one error map's first, as on the selfie pages)."""
    return face_check.failure_message(
        verification, unusable=_("视频无法识别,请在光线充足环境下,确保正脸对准屏幕框,重新录制。"),
        failed=_("人脸识别未通过,请本人在光线充足环境下重新录制。"))


def _after_pass(verification):
    return url_for(".password")


@bp.route("/face/<int:verification_id>")
@customer_required
def face_progress(verification_id):
    verification = account.verification_of(g.customer.id, verification_id)
    if verification is None or verification.kind != "VIDEO":
        return _not_found()
    if verification.status == "PENDING":
        return render_template("account/progress.html",
                               status_url=url_for(".face_status", verification_id=verification.id))
    if verification.status == "PASSED":
        return redirect(_after_pass(verification))
    return render_template("account/face_failed.html", message=_failure_message(verification),
                           purpose=verification.purpose, tries_left=_tries_left(), hotline=current_app.config["HOTLINE"]), 200


def _tries_left():
    """How many more videos may be checked today (FACE_MAX_TRIES a day, as account.check_face_tries counts)."""
    return max(0, business_settings.get("FACE_MAX_TRIES") - account.failed_videos_today(g.customer.id))


@bp.route("/face/<int:verification_id>/status")
@customer_required
def face_status(verification_id):
    verification = account.verification_of(g.customer.id, verification_id)
    if verification is None:
        return jsonify({"error": "not_found"}), 404
    db.session.refresh(verification)
    body = {"status": verification.status, "done": verification.status != "PENDING"}
    if body["done"]:
        body["redirect"] = url_for(".face_progress", verification_id=verification.id)
        if verification.status != "PASSED":
            body["message"] = _failure_message(verification)
    return jsonify(body)


@bp.errorhandler(413)
def _too_large(error):
    message = _("文件过大,请录制10秒以内的视频后重新上传。")
    if _wants_json():
        return jsonify({"error": message}), 413
    return _message(_("文件过大"), message, status="warn", code=413,
                    actions=[(url_for(".face"), _("重新录制"))])
