"""The customer's e-revisit pages (phone H5, no login): /s/<code> → face check → pending list →
questionnaire → result. DOMAIN.md section 1; the screens' words are the seed's.

Who is who: the short link names the customer; a passed face check for that link puts the link's
id in the Flask session (session["revisit_link"]). Every later page re-checks that the link in the
URL is that one and that the link's face check passed, so a session never reaches another link.
"""
from flask import (Blueprint, current_app, jsonify, make_response, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import ValidationError

from app.extensions import db, limiter
from app.forms.revisit import FacePhotoForm, questionnaire_form
from app.models import IdentityVerification
from app.models.policy import POLICY_STATUSES
from app.services import biometric, clock, revisit, screens, unit
from app.views import face_check
from app.services.errors import DomainError
from app.services import settings as business_settings
from app.views import shown as served

bp = Blueprint("customer_revisit", __name__)

SESSION_LINK = "revisit_link"  # link id, set after a passed face check for that link
SESSION_FACE = "revisit_face"  # {"link": id, "verification": id} of the check this browser started
SESSION_RESULTS = "revisit_results"  # {task id: status} of the questionnaires answered here
# {task id: {"q_<question id>": "yes"/"no"}}: the answers chosen so far, kept on the server (the
# session store) so that a reloaded questionnaire shows them again; dropped once submitted
SESSION_DRAFTS = "revisit_drafts"

# Evidence steps (DOMAIN.md 1: the trail of operations can be retrieved); the revisit service
# records "answers_submitted" itself, with the answers.
STEP_LINK_OPENED = "link_opened"
STEP_FACE_SUBMITTED = "face_submitted"
STEP_FACE_RESULT = "face_result"
STEP_LIST_VIEWED = "list_viewed"
STEP_QUESTIONNAIRE_OPENED = "questionnaire_opened"


def _link_limit():
    return current_app.config["SHORT_LINK_PER_MINUTE"]


def _is_miss(response):
    return response.status_code == 404


def _too_many(request_limit):
    return make_response(render_template("h5/message.html", title=_("访问过于频繁"),
                                         message=_("访问过于频繁,请稍后再试。"), status="warn"), 429)


# Against guessing: every page that takes a code shares one per-IP budget, and only misses
# (unknown code or task, answered 404) spend it, so customers behind one carrier NAT who
# open their own links are not locked out while a guesser is.
link_limit = limiter.shared_limit(_link_limit, scope="revisit-link", deduct_when=_is_miss,
                                  on_breach=_too_many)


def _identity():
    # imported on first use: face_recognition loads its dlib models at import (about a second)
    from app.services import identity

    return identity


def _client():
    return {"ip": request.remote_addr, "user_agent": (request.user_agent.string or "")[:255]}


def _evidence(link, step, task_id=None, data=None):
    with unit.work():
        revisit.record_evidence(link.id, task_id, step, data=data, **_client())


def _invalid():
    """The same page for a wrong, guessed or foreign code or task: it reveals nothing."""
    return render_template("h5/message.html", title=_("链接无效"),
                           message=_("链接无效,请核对短信中的链接。"), status="error"), 404


def _load_link(code):
    try:
        return revisit.link_by_code(code)
    except DomainError:
        return None


def _expired(link):
    return revisit.link_state(link, clock.now()) == "EXPIRED"


def _expired_page(link):
    """The e-revisit window has passed: the policies whose visit is not done go to the phone (named
    here; the policy number in full only to the browser that passed this link's face check)."""
    remaining = revisit.link_progress(link)["remaining"]
    return render_template("h5/expired.html", hotline=current_app.config["HOTLINE"], remaining=remaining,
                           full_numbers=_is_verified(link))


def _finished_page():
    return render_template("h5/closing.html", finished=True, hotline=current_app.config["HOTLINE"])


def _closed_page(link):
    """The page of a link that can no longer be answered: every visit done (at any time, the window
    passed or not), else past its window; None while it may be answered."""
    if revisit.link_progress(link)["finished"]:
        return _finished_page()
    if _expired(link):
        return _expired_page(link)
    return None


def _answerable_link(code):
    """(link, None) while the link may still be answered, else (None, the page to show instead)."""
    link = _load_link(code)
    if link is None:
        return None, _invalid()
    closed = _closed_page(link)
    if closed is not None:
        return None, closed
    return link, None


def _is_verified(link):
    return session.get(SESSION_LINK) == link.id and link.face_verified_at is not None


def _verified_link(code):
    """(link, None) when this browser passed the face check for this very link, else (None, response)."""
    link = _load_link(code)
    if link is None:
        return None, _invalid()
    if _expired(link):
        return None, _closed_page(link)
    if not _is_verified(link):
        return None, redirect(url_for(".open_link", code=code))
    return link, None


def _too_many_tries(link):
    return link.face_attempts >= business_settings.get("FACE_MAX_TRIES") and link.face_verified_at is None


def _face_page(link, form=None, error=None, status=200):
    blocked = _too_many_tries(link)
    left = business_settings.get("FACE_MAX_TRIES") - link.face_attempts
    if error and not blocked and link.face_attempts:
        error = _("%(reason)s(还可尝试%(left)s次)", reason=error, left=left)
    if blocked:
        error = _("人脸识别失败次数过多,请勿再次尝试。我们的回访专员将与您电话联系,如有疑问请致电%(hotline)s。",
                  hotline=current_app.config["HOTLINE"])
    return render_template("h5/face.html", link=link, form=form or FacePhotoForm(), error=error,
                           blocked=blocked, hotline=current_app.config["HOTLINE"],
                           phone_url=url_for(".choose_phone", code=link.code), csrf=generate_csrf()), status


def _consented(link):
    """The link's customer agreed to the face notice (biometric consent, asked once per notice version)."""
    return biometric.has_agreed(link.customer_id, "EREVISIT")


def _notice_page(link, error=None, status=200):
    """Before the first face check: what is collected and why; 同意并继续 or 不同意 (the phone revisit)."""
    return face_check.notice_page("h5/biometric_notice.html", "EREVISIT",
                                  url_for(".biometric_answer", code=link.code), error, status,
                                  decline_label=_("不同意,改为电话回访"))


def _valid_csrf():
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


def _phone_page(link):
    session.pop(SESSION_FACE, None)
    return render_template("h5/message.html", title=_("已改为电话回访"), status="info",
                           message=_("已为您改为电话回访,我们的回访专员将致电您完成回访,本次未采集任何人脸信息。"),
                           hotline=current_app.config["HOTLINE"])


@bp.errorhandler(413)
def _too_large(error):
    return face_check.photo_too_large(".open_link")


@bp.route("/s/<code>")
@link_limit
def open_link(code):
    link, refusal = _answerable_link(code)
    if refusal is not None:
        return refusal
    _evidence(link, STEP_LINK_OPENED)
    if _is_verified(link):
        return redirect(url_for(".pending_list", code=code))
    if not _consented(link):
        return _notice_page(link)
    return _face_page(link)


@bp.route("/s/<code>/biometric", methods=["POST"])
@link_limit
def biometric_answer(code):
    """同意并继续 (stored, then the face check) or 不同意 (stored; the visits go to the phone queue now).
    The consent is the link's customer's: nothing in the form names a customer."""
    link, refusal = _answerable_link(code)
    if refusal is not None:
        return refusal
    choice = request.form.get("choice")
    if not _valid_csrf() or choice not in ("agree", "decline"):
        return _notice_page(link, error=_("页面已过期,请重新提交。"), status=400)
    if choice == "agree":
        with unit.work():
            biometric.agree(link.customer_id, "EREVISIT", **_client())
        return redirect(url_for(".open_link", code=code))
    biometric.decline_erevisit(link, **_client())
    return _phone_page(link)


@bp.route("/s/<code>/phone", methods=["POST"])
@link_limit
def choose_phone(code):
    """改为电话回访 from the face page: the visits go to the phone queue now, no face check."""
    link, refusal = _answerable_link(code)
    if refusal is not None:
        return refusal
    if not _valid_csrf():
        return _face_page(link, error=_("页面已过期,请重新提交。"), status=400)
    biometric.to_phone(link, **_client())
    return _phone_page(link)


@bp.route("/s/<code>/exit")
@link_limit
def exit_link(code):
    if _load_link(code) is None:
        return _invalid()
    session.pop(SESSION_LINK, None)
    session.pop(SESSION_FACE, None)
    return render_template("h5/message.html", title=_("已退出验证"),
                           message=_("您已退出验证。如需完成回访,请再次点击短信中的链接。"),
                           hotline=current_app.config["HOTLINE"], status="info")


@bp.route("/s/<code>/face", methods=["POST"])
@link_limit
def submit_face(code):
    link = _load_link(code)
    if link is None:
        return _invalid()
    if _expired(link):
        return _closed_page(link)
    if _too_many_tries(link):
        return _face_page(link, status=403)
    if not _consented(link):  # no face data before the separate consent
        return redirect(url_for(".open_link", code=code))
    form = FacePhotoForm()
    if not form.validate_on_submit():
        return _face_page(link, form, error=face_check.photo_form_error(form), status=400)
    image = form.photo.data.read()
    try:
        verification = _identity().start_photo_verification(
            link.customer_id, image, purpose="EREVISIT", link_id=link.id, **_client())
    except DomainError as error:  # its unit of work is rolled back
        db.session.refresh(link)
        _evidence(link, STEP_FACE_SUBMITTED, data={"error": error.key})
        return _face_page(link, form, error=error.message, status=400)
    _evidence(link, STEP_FACE_SUBMITTED, data={"verification_id": verification.id,
                                               "photo": verification.evidence_path})
    session[SESSION_FACE] = {"link": link.id, "verification": verification.id}
    return redirect(url_for(".face_progress", code=code, verification_id=verification.id))


def _own_verification(code, verification_id):
    """(link, verification) when this browser started the check for this link, else (link or None, None)."""
    link = _load_link(code)
    started = session.get(SESSION_FACE) or {}
    if link is None or started.get("link") != link.id or started.get("verification") != verification_id:
        return link, None
    verification = db.session.get(IdentityVerification, verification_id)
    if verification is None or verification.link_id != link.id or verification.customer_id != link.customer_id:
        return link, None
    return link, verification


_failure_message = face_check.failure_message


def _settle(link, verification):
    """After the check finished: bind the session on success; record the result once."""
    reported = session.get("revisit_face_reported") or []
    if verification.id not in reported:
        _evidence(link, STEP_FACE_RESULT, data={"verification_id": verification.id,
                                                "status": verification.status,
                                                "distance": verification.distance})
        session["revisit_face_reported"] = (reported + [verification.id])[-10:]
    if verification.status == "PASSED":
        db.session.refresh(link)
        if link.face_verified_at is not None:
            session[SESSION_LINK] = link.id
            session.pop(SESSION_FACE, None)
            return True
    return False


@bp.route("/s/<code>/face/<int:verification_id>")
@link_limit
def face_progress(code, verification_id):
    link, verification = _own_verification(code, verification_id)
    if verification is None:
        return _invalid() if link is None else redirect(url_for(".open_link", code=code))
    if verification.status == "PENDING":
        return render_template("h5/face_progress.html", link=link,
                               status_url=url_for(".face_status", code=code, verification_id=verification_id))
    if _settle(link, verification):
        return redirect(url_for(".pending_list", code=code))
    db.session.refresh(link)
    return _face_page(link, error=_failure_message(verification))


@bp.route("/s/<code>/face/<int:verification_id>/status")
@link_limit
def face_status(code, verification_id):
    link, verification = _own_verification(code, verification_id)
    if verification is None:
        return jsonify({"error": "not_found"}), 404
    db.session.refresh(verification)
    return face_check.status_reply(verification, lambda v: _settle(link, v), url_for(".pending_list", code=code),
                                   url_for(".face_progress", code=code, verification_id=verification_id))


@bp.route("/s/<code>/list")
@link_limit
def pending_list(code):
    link, response = _verified_link(code)
    if response is not None:
        return response
    tasks = revisit.pending_tasks(link)
    _evidence(link, STEP_LIST_VIEWED, data={"task_ids": [t.id for t in tasks]})
    progress = revisit.link_progress(link)
    if not tasks:
        return _closing(progress)
    return render_template("h5/list.html", link=link, tasks=tasks, policy_statuses=POLICY_STATUSES,
                           positions=_positions(progress), total=len(progress["tasks"]),
                           done=len(progress["tasks"]) - len(tasks))


def _closing(progress):
    """The closing words; "您的回访已完成" above them when every visit of the link is done."""
    return render_template("h5/closing.html", finished=progress["finished"], hotline=current_app.config["HOTLINE"])


def _positions(progress):
    """{task id: its place among the link's policies, from 1}: 第 x / n 份保单."""
    return {task.id: index for index, task in enumerate(progress["tasks"], start=1)}


def _draft(task, questions):
    """The answers this browser chose for the task before a reload: {field name: "yes"/"no"}."""
    names = {f"q_{q['question_id']}" for q in questions}
    draft = (session.get(SESSION_DRAFTS) or {}).get(str(task.id)) or {}
    return {name: value for name, value in draft.items() if name in names and value in ("yes", "no")}


def _keep_draft(task, questions, values):
    """Keep the chosen answers of the task's questions (unknown names and values are ignored)."""
    names = {f"q_{q['question_id']}" for q in questions}
    kept = {name: value for name, value in values.items() if name in names and value in ("yes", "no")}
    drafts = dict(session.get(SESSION_DRAFTS) or {})
    drafts[str(task.id)] = kept
    session[SESSION_DRAFTS] = dict(list(drafts.items())[-10:])
    return kept


def _drop_draft(task):
    drafts = dict(session.get(SESSION_DRAFTS) or {})
    if drafts.pop(str(task.id), None) is not None:
        session[SESSION_DRAFTS] = drafts


def _own_task(link, task_id):
    try:
        return revisit.task_for_link(link, task_id)
    except DomainError:
        return None


@bp.route("/s/<code>/task/<int:task_id>", methods=["GET", "POST"])
@link_limit
def questionnaire(code, task_id):
    link, response = _verified_link(code)
    if response is not None:
        return response
    task = _own_task(link, task_id)
    if task is None:
        return _invalid()
    if not revisit.can(task, "all_yes") and request.method == "GET":  # the state table decides
        key = "task_already_answered" if task.status in revisit.states.ANSWERED else "task_not_online"
        return render_template("h5/message.html", title=_("温馨提示"), status="info",
                               message=DomainError(key).message,
                               back_url=url_for(".pending_list", code=code)), 409
    questions = revisit.render_questions(task)
    kept = _draft(task, questions) if request.method == "GET" else {}
    form = questionnaire_form(questions, task_id=str(task.id), **kept)
    error = None
    status = 200
    if request.method == "GET":
        _evidence(link, STEP_QUESTIONNAIRE_OPENED, task_id=task.id)
        served.mark_shown(f"task:{task.id}")
    elif form.task_id.data != str(task.id):
        return _invalid()  # a task id changed in the form: not this page's task
    elif not form.validate_on_submit():
        error = _("页面已过期,请重新提交。") if form.csrf_token.errors else _("请回答全部问题后再提交。")
        status = 400
        if not form.csrf_token.errors:
            _keep_draft(task, questions, request.form.to_dict())
    else:
        # the key screen (issue 15): this page as served, with the policy's values and the answers ticked
        shown = screens.page_text(_questionnaire_page(link, task, form, questions))
        try:
            with unit.work():
                task = revisit.submit_online_answers(link.id, task.id, form.answers(), **_client())
                screens.record("QUESTIONNAIRE", _("在线回访"), shown, customer_id=link.customer_id,
                               policy_id=task.policy_id, revisit_task_id=task.id,
                               shown_at=served.shown_at(f"task:{task.id}"), **_client())
        except DomainError as failure:
            error, status = failure.message, 409
        else:
            results = dict(session.get(SESSION_RESULTS) or {})
            results[str(task.id)] = task.status
            session[SESSION_RESULTS] = results
            _drop_draft(task)
            served.forget_shown(f"task:{task.id}")
            return redirect(url_for(".result", code=code, task_id=task.id))
    return _questionnaire_page(link, task, form, questions, error), status


def _questionnaire_page(link, task, form, questions, error=None):
    progress = revisit.link_progress(link)
    return render_template("h5/questionnaire.html", link=link, task=task, form=form, questions=questions,
                           error=error, position=_positions(progress).get(task.id),
                           total=len(progress["tasks"]),
                           draft_url=url_for(".save_draft", code=link.code, task_id=task.id))


@bp.route("/s/<code>/task/<int:task_id>/draft", methods=["POST"])
@link_limit
def save_draft(code, task_id):
    """The questionnaire's answers so far (h5.js posts them on each choice): a reload shows them again.
    JSON {"saved": count}; nothing is recorded as an answer until the questionnaire is submitted."""
    if _load_link(code) is None:
        return jsonify({"error": "not_found"}), 404  # a miss: it spends the guessing budget
    link, response = _verified_link(code)
    if response is not None:
        return jsonify({"error": "not_allowed"}), 403
    task = _own_task(link, task_id)
    if task is None:
        return jsonify({"error": "not_found"}), 404
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return jsonify({"error": "csrf"}), 400
    if not revisit.can(task, "all_yes"):
        return jsonify({"error": "closed"}), 409
    kept = _keep_draft(task, revisit.render_questions(task), request.form.to_dict())
    return jsonify({"saved": len(kept)})


@bp.route("/s/<code>/task/<int:task_id>/result")
@link_limit
def result(code, task_id):
    link, response = _verified_link(code)
    if response is not None:
        return response
    status = (session.get(SESSION_RESULTS) or {}).get(str(task_id))
    if status is None:
        return _invalid()
    return render_template("h5/result.html", problem=status != "SUCCESS",
                           next_url=url_for(".after_result", code=code))


@bp.route("/s/<code>/next")
@link_limit
def after_result(code):
    """好的: back to the list while policies are pending, else the closing words."""
    link, response = _verified_link(code)
    if response is not None:
        return response
    if revisit.pending_tasks(link):
        return redirect(url_for(".pending_list", code=code))
    return _closing(revisit.link_progress(link))

