"""账户认证, step 1: binding the signed-in visitor to a policyholder."""
from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.forms.account import BindForm
from app.models.customer import ID_TYPES
from app.services import account, unit
from app.services.errors import DomainError
from app.views.account.base import (SESSION_CUSTOMER, SESSION_MOBILE_HINT, SESSION_OPENID, SESSION_PHONE,
                                    _form_error, account_required, bp, signin_limit)


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
