"""The insured's consent pages (phone H5, no login; Insurance Law art. 34): /c/<code> from the SMS link →
photo face check against the insured's own reference photo → what is asked, in full → 本人同意 / 本人不同意.

Who is who: the link names the consent record and its insured; a passed face check started by this browser
for that record is kept in the Flask session (session["consent_passed"]), and the consent service checks
again that the verification is a passed check of that very insured before anything is stored.
"""
from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.extensions import db, limiter
from app.forms.consent import ConsentForm
from app.forms.revisit import FacePhotoForm
from app.models import IdentityVerification
from app.models.servicing import CONSENT_ACTIONS
from app.services import biometric, screens, unit
from app.views import face_check
from app.services import settings as business_settings
from app.services.errors import DomainError
from app.services.servicing import consent
from app.views import shown as served

bp = Blueprint("consent", __name__)

SESSION_FACE = "consent_face"  # {"consent": id, "verification": id} of the check this browser started
SESSION_PASSED = "consent_passed"  # {consent id: verification id} of the checks passed here


def _link_limit():
    return current_app.config["SHORT_LINK_PER_MINUTE"]


def _is_miss(response):
    return response.status_code == 404


def _too_many(request_limit):
    return make_response(render_template("h5/message.html", title=_("访问过于频繁"),
                                         message=_("访问过于频繁,请稍后再试。"), status="warn"), 429)


# as on /s/: one per-IP budget over every page taking a code, spent only by misses (a guesser, not the insured)
link_limit = limiter.shared_limit(_link_limit, scope="consent-link", deduct_when=_is_miss, on_breach=_too_many)


def _identity():
    from app.services import identity  # face_recognition loads its models on import

    return identity


def _client():
    return {"ip": request.remote_addr, "user_agent": (request.user_agent.string or "")[:255]}


def _invalid():
    return render_template("h5/message.html", title=_("链接无效"),
                           message=_("链接无效,请核对短信中的链接。"), status="error"), 404


def _closed(record):
    """The page of a link that can no longer be answered: lapsed, or already answered."""
    if consent.state(record) == "EXPIRED":
        return render_template("h5/message.html", title=_("链接已过期"), status="warn",
                               message=DomainError("consent_expired").message,
                               hotline=current_app.config["HOTLINE"]), 410
    return render_template("h5/message.html", title=_("链接已使用"), status="info",
                           message=_result_message(record)), 409


def _result_message(record):
    if record.status == "CONFIRMED":
        return _("您已确认同意,感谢您的配合。")
    if record.status == "DECLINED":
        return _("您已选择不同意,该申请已终止。")
    return DomainError("consent_used").message


def _record(code):
    try:
        return consent.by_code(code)
    except DomainError:
        return None


def _passed_verification(record):
    verification_id = (session.get(SESSION_PASSED) or {}).get(str(record.id))
    return consent.passed_face(record, verification_id)


def _face_page(record, form=None, error=None, status=200):
    left = consent.face_tries_left(record)
    if left <= 0:
        error = DomainError("face_too_many_tries_consent").message
    elif error and left < business_settings.get("FACE_MAX_TRIES"):
        error = _("%(reason)s(还可尝试%(left)s次)", reason=error, left=left)
    return render_template("h5/consent_face.html", code=record.code, form=form or FacePhotoForm(), error=error,
                           blocked=left <= 0), status


def _ask_page(record, form=None, error=None, status=200):
    return render_template("h5/consent_ask.html", record=record, form=form or ConsentForm(), error=error,
                           action=CONSENT_ACTIONS.get(record.action, record.action),
                           deadline=consent.deadline(record)), status


def _consented(record):
    """The insured agreed to the face notice (biometric consent, asked once per notice version)."""
    return biometric.has_agreed(record.customer_id, "INSURED_CONSENT")


def _notice_page(record, error=None, status=200):
    return face_check.notice_page("h5/biometric_notice.html", "INSURED_CONSENT",
                                  url_for(".biometric_answer", code=record.code), error, status)


@bp.errorhandler(413)
def _too_large(error):
    return face_check.photo_too_large(".open_link")


@bp.route("/c/<code>")
@link_limit
def open_link(code):
    record = _record(code)
    if record is None:
        return _invalid()
    if consent.state(record) != "OPEN":
        return _closed(record)
    if _passed_verification(record) is not None:
        served.mark_shown(f"consent:{record.id}")
        return _ask_page(record)
    if not _consented(record):
        return _notice_page(record)
    return _face_page(record)


@bp.route("/c/<code>/biometric", methods=["POST"])
@link_limit
def biometric_answer(code):
    """同意并继续 (stored, then the face check) or 不同意 (stored; the hotline instead). The consent is the
    link's insured's: nothing in the form names a customer."""
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    record = _record(code)
    if record is None:
        return _invalid()
    if consent.state(record) != "OPEN":
        return _closed(record)
    choice = request.form.get("choice")
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        choice = None
    if choice not in ("agree", "decline"):
        return _notice_page(record, error=_("页面已过期,请重新提交。"), status=400)
    with unit.work():
        (biometric.agree if choice == "agree" else biometric.decline)(record.customer_id, "INSURED_CONSENT",
                                                                      **_client())
    if choice == "agree":
        return redirect(url_for(".open_link", code=code))
    return render_template("h5/message.html", title=_("未进行人脸识别"), status="info",
                           message=biometric.alternative("INSURED_CONSENT"))


@bp.route("/c/<code>/face", methods=["POST"])
@link_limit
def submit_face(code):
    record = _record(code)
    if record is None:
        return _invalid()
    if consent.state(record) != "OPEN":
        return _closed(record)
    if consent.face_tries_left(record) <= 0:
        return _face_page(record, status=403)
    if not _consented(record):  # no face data before the separate consent
        return redirect(url_for(".open_link", code=code))
    form = FacePhotoForm()
    if not form.validate_on_submit():
        return _face_page(record, form, error=face_check.photo_form_error(form), status=400)
    try:
        verification = _identity().start_photo_verification(
            record.customer_id, form.photo.data.read(), purpose=consent.FACE_PURPOSE,
            try_limit=consent.face_try_limit(record), **_client())
    except DomainError as error:
        return _face_page(record, form, error=error.message, status=400)
    session[SESSION_FACE] = {"consent": record.id, "verification": verification.id}
    return redirect(url_for(".face_progress", code=code, verification_id=verification.id))


def _own_verification(code, verification_id):
    """(record, verification) when this browser started the check for this record, else (record or None, None)."""
    record = _record(code)
    started = session.get(SESSION_FACE) or {}
    if record is None or started.get("consent") != record.id or started.get("verification") != verification_id:
        return record, None
    verification = db.session.get(IdentityVerification, verification_id)
    if verification is None or verification.customer_id != record.customer_id:
        return record, None
    return record, verification


_failure_message = face_check.failure_message


def _settle(record, verification):
    """A passed check of this record's insured: remembered for this record in this browser."""
    if consent.passed_face(record, verification.id) is None:
        return False
    passed = dict(session.get(SESSION_PASSED) or {})
    passed[str(record.id)] = verification.id
    session[SESSION_PASSED] = passed
    session.pop(SESSION_FACE, None)
    return True


@bp.route("/c/<code>/face/<int:verification_id>")
@link_limit
def face_progress(code, verification_id):
    record, verification = _own_verification(code, verification_id)
    if verification is None:
        return _invalid() if record is None else redirect(url_for(".open_link", code=code))
    if verification.status == "PENDING":
        return render_template("h5/face_progress.html",
                               status_url=url_for(".face_status", code=code, verification_id=verification_id))
    if _settle(record, verification):
        return redirect(url_for(".open_link", code=code))
    return _face_page(record, error=_failure_message(verification))


@bp.route("/c/<code>/face/<int:verification_id>/status")
@link_limit
def face_status(code, verification_id):
    record, verification = _own_verification(code, verification_id)
    if verification is None:
        return jsonify({"error": "not_found"}), 404
    db.session.refresh(verification)
    return face_check.status_reply(verification, lambda v: _settle(record, v), url_for(".open_link", code=code),
                                   url_for(".face_progress", code=code, verification_id=verification_id))


@bp.route("/c/<code>", methods=["POST"])
@link_limit
def answer(code):
    record = _record(code)
    if record is None:
        return _invalid()
    if consent.state(record) != "OPEN":
        return _closed(record)
    verification = _passed_verification(record)
    if verification is None:
        return redirect(url_for(".open_link", code=code))
    form = ConsentForm()
    if not form.validate_on_submit():
        return _ask_page(record, form, error=_("页面已过期,请重新提交。"), status=400)
    operation = consent.decline if form.decline.data and not form.confirm.data else consent.confirm
    # the key screen (issue 15): the page as served, and the insured's choice on it
    shown = "\n".join((screens.page_text(_ask_page(record)), _("【本人选择】%(choice)s",
                        choice=_("本人同意") if operation is consent.confirm else _("本人不同意"))))
    try:
        with unit.work():
            record = operation(code, verification.id, **_client())
            screens.record("CONSENT", _("被保险人同意确认"), shown, customer_id=record.customer_id,
                           policy_id=record.policy_id, application_id=record.application_id, consent_id=record.id,
                           shown_at=served.shown_at(f"consent:{record.id}"), **_client())
    except DomainError as error:
        record = _record(code)
        if record is not None and consent.state(record) != "OPEN":
            return _closed(record)
        return _ask_page(record, form, error=error.message, status=error.status)
    if record.status == "CONFIRMED":
        return render_template("h5/message.html", title=_("确认成功"), status="info",
                               message=_("您已确认同意,感谢您的配合。"))
    return render_template("h5/message.html", title=_("已提交"), status="info",
                           message=_("您已选择不同意,该申请已终止。"))
