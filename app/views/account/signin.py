"""Sign-in: mobile + SMS code, or WeChat OAuth2; the codes for sign-in, binding and password reset; sign-out."""
from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.forms.account import ResetCodeForm, SignInForm, SignOutForm
from app.services import account, codes, privacy, unit, wechat
from app.services.errors import DomainError
from app.services.validation import normalize_text
from app.services import settings as business_settings
from app.views.account.base import (SESSION_MOBILE_HINT, SESSION_WECHAT_STATE, _forget_customer, _form_error,
                                    _message, _safe_next, _signed_in, _start_session, bp, callback_limit,
                                    code_limit, signin_limit)


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
    if result.face_next and _face_tries_left(result.customer_id):
        # bought on the official account: nothing to fill in, 账户认证 goes on with the face check
        flash(_("您的保单在官微承保,无需填写个人信息,请直接进行人脸识别。"), "info")
        return redirect(url_for(".face"))
    return redirect(_safe_next(request.values.get("next")))


def _face_tries_left(customer_id):
    try:
        account.check_face_tries(customer_id)
    except DomainError:
        return False  # none left today: 个人中心 (the face page would only refuse)
    return True


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
        flash(_("验证码已发送至 %(mobile)s,%(minutes)s分钟内有效", mobile=privacy.mask_mobile(phone),
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
