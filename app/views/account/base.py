"""The /my/ blueprint and what its pages share: who the visitor is (session keys, g.customer), the
sign-in gates, rate limits, messages and the masking filters."""
from functools import wraps

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import limiter
from app.services import account, clock, privacy, urls
from app.services import settings as business_settings
from app.services.errors import DomainError

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


def policy_owned(check):
    """The page of one of the signed-in customer's own policies: `check(customer_id, policy_id)` raises
    DomainError for any other, which is then not found (404). Goes below the sign-in gate and limits."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, policy_id, **kwargs):
            try:
                check(g.customer.id, policy_id)
            except DomainError:
                return _not_found()
            return view(*args, policy_id=policy_id, **kwargs)
        return wrapper
    return decorate


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


# the one masking rule (app/services/privacy.py) for the customer's own pages too
bp.add_app_template_filter(privacy.mask_mobile, "mask_mobile")
bp.add_app_template_filter(privacy.mask_id_number, "mask_id")


def _form_error(form):
    if form.csrf_token.errors:
        return _("页面已过期,请重新提交。")
    errors = [e for field in form for e in field.errors]
    return errors[0] if errors else _("请检查填写的内容")


def _reset_code_fresh():
    at = session.get(SESSION_RESET_AT)
    window = business_settings.get("RESET_CODE_VALID_MINUTES") * 60
    return bool(at) and 0 <= clock.now().timestamp() - at <= window
