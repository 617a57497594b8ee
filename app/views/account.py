"""The customer's official-account pages (/my/): sign-in (WeChat OAuth2 or mobile + SMS code),
个人中心, binding, face + video liveness, servicing password. DOMAIN.md section 3; the seed's words.

Customers are not staff: their identity lives under its own session keys (customer_id, and before
binding the proven mobile or WeChat openid), set only here and never read by Flask-Login, whose
staff user sits under "_user_id". g.customer is set on every request of this blueprint so the audit
trail names the customer as the actor.
"""
from functools import wraps

from flask import (Blueprint, abort, current_app, flash, g, jsonify, redirect,
                   render_template, request, session, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db, limiter
from app.forms.account import (BindForm, ChallengeForm, PasswordForm, ResetCodeForm, SignInForm, SignOutForm,
                               VideoForm)
from app.models.customer import AUTH_STATUSES, ID_TYPES
from app.models.policy import PAYMENT_MODES, POLICY_STATUSES
from app.models.servicing import APPLICATION_STATUSES, SERVICING_KINDS
from app.services import account, clock, codes, errors, unit, urls, wechat
from app.services.errors import DomainError
from app.services.validation import normalize_text
from app.services import settings as business_settings

bp = Blueprint("account", __name__, url_prefix="/my")

SESSION_CUSTOMER = "customer_id"
SESSION_PHONE = "account_phone"  # the mobile proven by a sign-in code
SESSION_OPENID = "account_openid"  # the WeChat openid of this browser
SESSION_WECHAT_STATE = "account_wechat_state"
SESSION_CHALLENGE = "account_challenge"  # {"digits", "purpose"}: the 4 digits to read aloud
SESSION_VERIFICATION = "account_verification"  # {"id", "purpose"} of the video check started here
SESSION_RESET_AT = "account_reset_code_at"  # when the password-reset code was entered right
SESSION_MOBILE_HINT = "account_code_mobile"  # {purpose: mobile} the last code was sent to
CUSTOMER_KEYS = (SESSION_CUSTOMER, SESSION_PHONE, SESSION_OPENID, SESSION_WECHAT_STATE, SESSION_CHALLENGE,
                 SESSION_VERIFICATION, SESSION_RESET_AT, SESSION_MOBILE_HINT)
RESET_CODE_VALID_SECONDS = 15 * 60

FACE_PURPOSES = {"ACCOUNT_AUTH": _l("账户认证"), "PASSWORD_RESET": _l("重置服务密码")}
# 保全项目 of the seed; the items themselves arrive with the servicing issue.
SERVICE_ITEMS = ("POLICY_LOAN", "LOAN_REPAYMENT", "ANNUITY_METHOD", "BENEFICIARY")


def _too_many(request_limit):
    return _message(_("操作过于频繁"), _("操作过于频繁,请稍后再试。"), status="warn", code=429)


code_limit = limiter.limit(lambda: current_app.config["CODE_REQUEST_RATE_LIMIT"], methods=["POST"],
                           on_breach=_too_many)
signin_limit = limiter.limit(lambda: current_app.config["CUSTOMER_SIGNIN_RATE_LIMIT"], methods=["POST"],
                             on_breach=_too_many)
callback_limit = limiter.limit(lambda: current_app.config["CUSTOMER_SIGNIN_RATE_LIMIT"], on_breach=_too_many)


# --- who is asking ----------------------------------------------------------------------------

@bp.before_request
def _load_customer():
    g.customer = None
    customer_id = session.get(SESSION_CUSTOMER)
    if customer_id:
        g.customer = account.customer(customer_id)
        if g.customer is None:
            _forget_customer()


def _forget_customer():
    for key in CUSTOMER_KEYS:
        session.pop(key, None)


def _signed_in():
    return bool(g.customer or session.get(SESSION_PHONE) or session.get(SESSION_OPENID))


def _safe_next(target):
    return urls.safe_next(target, fallback=url_for(".center"), prefix="/my/")


def account_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not _signed_in():
            return redirect(url_for(".signin", next=request.full_path if request.method == "GET" else None))
        return view(*args, **kwargs)
    return wrapper


def customer_required(view):
    """A bound customer; before binding the visitor goes to 账户认证 (binding) first."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not _signed_in():
            return redirect(url_for(".signin", next=request.full_path if request.method == "GET" else None))
        if g.customer is None:
            flash(_("请先完成保单绑定"), "info")
            return redirect(url_for(".authenticate"))
        return view(*args, **kwargs)
    return wrapper


def _client():
    return {"ip": request.remote_addr, "user_agent": (request.user_agent.string or "")[:255]}


def _message(title, message, status="info", code=200, actions=()):
    return render_template("account/message.html", title=title, message=message, status=status,
                           actions=actions), code


def _not_found():
    return _message(_("内容不存在"), _("您要查看的内容不存在或不属于您。"), status="error", code=404,
                    actions=[(url_for(".center"), _("返回个人中心"))])


def _start_session(result):
    """A successful sign-in: forget any earlier customer of this browser, remember this one."""
    _forget_customer()
    session.permanent = True
    if result.phone:
        session[SESSION_PHONE] = result.phone
    if result.openid:
        session[SESSION_OPENID] = result.openid
    if result.customer_id:
        session[SESSION_CUSTOMER] = result.customer_id


@bp.app_template_filter("mask_mobile")
def mask_mobile(value):
    value = value or ""
    return value[:3] + "****" + value[-4:] if len(value) == 11 else value


@bp.app_template_filter("mask_id")
def mask_id(value):
    value = value or ""
    return value[:4] + "*" * max(len(value) - 8, 0) + value[-4:] if len(value) > 8 else "****"


# --- sign-in ------------------------------------------------------------------------------------

def _signin_page(form, error=None, status=200):
    return render_template("account/signin.html", form=form, error=error, wechat=wechat.enabled(),
                           next=request.values.get("next", "")), status


@bp.route("/signin", methods=["GET", "POST"])
@signin_limit
def signin():
    if request.method == "GET" and _signed_in():
        return redirect(_safe_next(request.args.get("next")))
    form = SignInForm()
    if request.method == "GET":
        form.mobile.data = (session.get(SESSION_MOBILE_HINT) or {}).get("SIGN_IN", "")
        return _signin_page(form)
    if not form.validate_on_submit():
        return _signin_page(form, _form_error(form), 400)
    if not (form.code.data or "").strip():
        return _signin_page(form, _("请输入短信验证码"), 400)
    try:
        with unit.work():
            result = account.sign_in_with_mobile(form.mobile.data, form.code.data)
    except DomainError as error:
        return _signin_page(form, error.message, 400)
    _start_session(result)
    return redirect(_safe_next(request.values.get("next")))


def _form_error(form):
    if form.csrf_token.errors:
        return _("页面已过期,请重新提交。")
    errors = [e for field in form for e in field.errors]
    return errors[0] if errors else _("请检查填写的内容")


@bp.route("/code", methods=["POST"])
@code_limit
def send_code():
    """获取验证码 on the sign-in, binding and password-reset pages (a formaction of their form)."""
    purpose = request.form.get("purpose", "SIGN_IN")
    back = {"SIGN_IN": ".signin", "BIND": ".authenticate", "PASSWORD_RESET": ".reset_password"}.get(purpose)
    if back is None:
        abort(400)
    form = ResetCodeForm()  # only its CSRF token counts here
    if not form.validate_on_submit() and form.csrf_token.errors:
        flash(_("页面已过期,请重新提交。"), "error")
        return redirect(url_for(back))
    customer_id = None
    if purpose == "PASSWORD_RESET":
        if g.customer is None:
            return redirect(url_for(".signin"))
        mobile, customer_id = g.customer.mobile, g.customer.id
    else:
        mobile = normalize_text(request.form.get("mobile", ""))  # the edge: full-width digits fold
        if purpose == "BIND" and not _signed_in():
            return redirect(url_for(".signin"))
    hints = dict(session.get(SESSION_MOBILE_HINT) or {})
    hints[purpose] = mobile.strip()[:16]
    session[SESSION_MOBILE_HINT] = hints
    try:
        with unit.work():
            phone = codes.send(mobile, purpose, customer_id=customer_id)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("验证码已发送至 %(mobile)s,%(minutes)s分钟内有效", mobile=mask_mobile(phone),
                minutes=business_settings.get("CODE_VALID_MINUTES")), "success")
    if purpose == "BIND":
        session["account_bind_draft"] = {k: request.form.get(k, "")[:64] for k in ("name", "id_type", "id_number")}
    next_url = request.form.get("next")
    return redirect(url_for(back, next=next_url) if next_url else url_for(back))


@bp.route("/wechat")
def wechat_start():
    if not wechat.enabled():
        return _message(_("微信登录"), DomainError("wechat_not_configured").message, status="warn",
                        actions=[(url_for(".signin"), _("手机号验证码登录"))])
    state = wechat.new_state()
    session[SESSION_WECHAT_STATE] = state
    return redirect(wechat.authorize_url(url_for(".wechat_callback", _external=True), state))


@bp.route("/wechat/callback")
@callback_limit
def wechat_callback():
    expected = session.pop(SESSION_WECHAT_STATE, None)
    if not expected or request.args.get("state") != expected:
        return _message(_("微信授权失败"), DomainError("wechat_failed").message, status="error", code=400,
                        actions=[(url_for(".signin"), _("手机号验证码登录"))])
    openid = wechat.openid_for_code(request.args.get("code", ""))  # a refusal: views/errors.py's page
    _start_session(account.sign_in_with_openid(openid))
    return redirect(url_for(".center"))


@bp.route("/signout", methods=["POST"])
def signout():
    form = SignOutForm()
    if not form.validate_on_submit():
        abort(400)
    _forget_customer()
    return redirect(url_for(".signin"))


# --- 个人中心 ------------------------------------------------------------------------------------

@bp.route("/")
@account_required
def center():
    customer = g.customer
    data = {"customer": customer, "steps": account.auth_steps(customer.id if customer else None),
            "service_items": [(kind, SERVICING_KINDS[kind]) for kind in SERVICE_ITEMS],
            "auth_statuses": AUTH_STATUSES, "policy_statuses": POLICY_STATUSES,
            "application_statuses": APPLICATION_STATUSES, "servicing_kinds": SERVICING_KINDS,
            "signout_form": SignOutForm(), "phone": session.get(SESSION_PHONE)}
    if customer is not None:
        data.update(policies=account.policies_of(customer.id),
                    applications=account.applications_of(customer.id),
                    revisits=account.pending_revisits(customer.id))
    return render_template("account/center.html", **data)


@bp.route("/policy/<int:policy_id>")
@customer_required
def policy_detail(policy_id):
    policy = account.policy_of(g.customer.id, policy_id)
    if policy is None:
        return _not_found()
    return render_template("account/policy.html", policy=policy, policy_statuses=POLICY_STATUSES,
                           payment_modes=PAYMENT_MODES)


@bp.route("/application/<int:application_id>")
@customer_required
def application_detail(application_id):
    application = account.application_of(g.customer.id, application_id)
    if application is None:
        return _not_found()
    return render_template("account/application.html", application=application,
                           application_statuses=APPLICATION_STATUSES, servicing_kinds=SERVICING_KINDS)


@bp.route("/service/<kind>")
@account_required
def service_item(kind):
    if kind not in SERVICE_ITEMS:
        return _not_found()
    if g.customer is None or g.customer.auth_status != "VERIFIED":
        return _message(SERVICING_KINDS[kind], _("办理保全项目前,需要先完成账户认证(保单绑定、人脸识别、设置服务密码)。"),
                        status="warn", code=403, actions=[(url_for(".authenticate"), _("请认证"))])
    return _message(SERVICING_KINDS[kind], _("该项目即将开放,敬请期待。如需办理请致电客服%(hotline)s。",
                                             hotline=current_app.config["HOTLINE"]),
                    actions=[(url_for(".center"), _("返回个人中心"))])


# --- 账户认证: binding --------------------------------------------------------------------------

@bp.route("/auth", methods=["GET", "POST"])
@account_required
@signin_limit
def authenticate():
    """请认证: a bound customer (openid bound, or just bound) sees 开始认证; others bind first."""
    if g.customer is not None:
        if g.customer.auth_status == "VERIFIED":
            flash(_("您的账户已认证"), "success")
            return redirect(url_for(".center"))
        return render_template("account/auth.html", customer=g.customer, id_types=ID_TYPES)
    phone = session.get(SESSION_PHONE)
    form = BindForm()
    if request.method == "GET":
        draft = session.pop("account_bind_draft", None) or {}
        form.name.data = draft.get("name", "")
        form.id_type.data = draft.get("id_type") if draft.get("id_type") in ID_TYPES else "RESIDENT_ID"
        form.id_number.data = draft.get("id_number", "")
        form.mobile.data = (session.get(SESSION_MOBILE_HINT) or {}).get("BIND") or phone or ""
        return _bind_page(form, phone)
    if not form.validate_on_submit():
        return _bind_page(form, phone, _form_error(form), 400)
    try:
        with unit.work():
            customer = account.bind(form.name.data, form.id_type.data, form.id_number.data, form.mobile.data,
                                    code=form.code.data, signed_in_phone=phone,
                                    openid=session.get(SESSION_OPENID), ip=request.remote_addr)
    except DomainError as error:
        return _bind_page(form, phone, error.message, 400 if error.key != "bind_locked" else 429)
    session[SESSION_CUSTOMER] = customer.id
    g.customer = customer
    flash(_("保单绑定成功"), "success")
    return redirect(url_for(".authenticate"))


def _bind_page(form, phone, error=None, status=200):
    return render_template("account/bind.html", form=form, error=error, phone=phone), status


# --- 人脸验证 + liveness -------------------------------------------------------------------------

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


@bp.route("/face")
@customer_required
def face():
    purpose = _purpose()
    blocked = _face_gate(purpose)
    if blocked is not None:
        return blocked
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
    """The reasons of a failed check are keys of the one error map (app/services/errors.py)."""
    for key in (verification.details or {}).get("reasons") or []:
        message = errors.message_for(key)
        if message:
            return message
    if verification.status == "UNUSABLE":
        return _("视频无法识别,请在光线充足环境下,确保正脸对准屏幕框,重新录制。")
    return _("人脸识别未通过,请本人在光线充足环境下重新录制。")


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
                           purpose=verification.purpose), 200


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


# --- 服务密码 ------------------------------------------------------------------------------------

def _reset_code_fresh():
    at = session.get(SESSION_RESET_AT)
    return bool(at) and 0 <= clock.now().timestamp() - at <= RESET_CODE_VALID_SECONDS


@bp.route("/password", methods=["GET", "POST"])
@customer_required
def password():
    """Entered twice, checked, saved hashed; needs a fresh passed video check started here."""
    started = session.get(SESSION_VERIFICATION) or {}
    purpose = started.get("purpose")
    if purpose == "PASSWORD_RESET" and not _reset_code_fresh():
        return redirect(url_for(".reset_password"))
    if not started or (purpose == "ACCOUNT_AUTH" and g.customer.auth_status == "VERIFIED"
                       and g.customer.servicing_password_hash):
        flash(DomainError("face_not_passed").message, "info")
        return redirect(url_for(".authenticate") if purpose != "PASSWORD_RESET" else url_for(".reset_password"))
    try:
        account.fresh_pass(g.customer.id, started.get("id"))
    except DomainError as failure:
        session.pop(SESSION_VERIFICATION, None)
        flash(failure.message, "error")
        return redirect(url_for(".face", purpose=purpose or "ACCOUNT_AUTH"))
    form = PasswordForm()
    error, status = None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            error, status = _form_error(form), 400
        else:
            try:
                with unit.work():
                    account.set_servicing_password(g.customer.id, form.password.data, form.repeated.data,
                                                   started.get("id"))
            except DomainError as failure:
                error, status = failure.message, 400
                if failure.key in ("face_not_passed", "face_auth_expired"):
                    session.pop(SESSION_VERIFICATION, None)
                    flash(failure.message, "error")
                    return redirect(url_for(".face", purpose=purpose or "ACCOUNT_AUTH"))
            else:
                session.pop(SESSION_VERIFICATION, None)
                session.pop(SESSION_RESET_AT, None)
                flash(_("服务密码设置成功") if purpose != "PASSWORD_RESET" else _("服务密码已重置"), "success")
                return redirect(url_for(".center"))
    return render_template("account/password.html", form=form, error=error, purpose=purpose), status


@bp.route("/password/reset", methods=["GET", "POST"])
@customer_required
@signin_limit
def reset_password():
    """Forgot the servicing password: a code to the 预留手机号, then the face video, then a new one."""
    if not g.customer.servicing_password_hash:
        return redirect(url_for(".authenticate"))
    form = ResetCodeForm()
    error, status = None, 200
    if request.method == "POST":
        if not form.validate_on_submit() or not (form.code.data or "").strip():
            error, status = (_form_error(form) if form.errors else _("请输入短信验证码")), 400
        else:
            try:
                with unit.work():
                    account.verify_reset_code(g.customer.id, form.code.data)
            except DomainError as failure:
                error, status = failure.message, 400
            else:
                session[SESSION_RESET_AT] = clock.now().timestamp()
                return redirect(url_for(".face", purpose="PASSWORD_RESET"))
    return render_template("account/reset.html", form=form, error=error, customer=g.customer), status


@bp.errorhandler(413)
def _too_large(error):
    message = _("文件过大,请录制10秒以内的视频后重新上传。")
    if _wants_json():
        return jsonify({"error": message}), 413
    return _message(_("文件过大"), message, status="warn", code=413,
                    actions=[(url_for(".face"), _("重新录制"))])


def register_account():
    current_app.register_blueprint(bp)
