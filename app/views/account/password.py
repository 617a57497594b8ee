"""服务密码: set after a passed face check, or reset with a code to the 预留手机号 and a new face check."""
from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.forms.account import PasswordForm, ResetCodeForm
from app.services import account, clock, unit
from app.services.errors import DomainError
from app.views.account.base import (SESSION_RESET_AT, SESSION_VERIFICATION, _form_error, _reset_code_fresh,
                                    bp, customer_required, signin_limit)


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
