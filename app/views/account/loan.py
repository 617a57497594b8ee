"""保单贷款 and 保单还款 (DOMAIN.md sections 4 and 5, the seed's screens in order): the list of the
customer's policies, the policy page with the figures and the form, the face check of large loans,
the code to the reserved mobile, and 保全申请操作完毕. The rules are in services/loan_application.py.

What was typed is kept in the session between the form and its side trips (获取验证码, 人脸识别), the
secrets (servicing password, code) and the ID images excepted.
"""
from functools import wraps

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.forms.account import LoanFaceForm, LoanForm, RepaymentForm
from app.models.policy import POLICY_STATUSES
from app.services import biometric, privacy, screens, unit
from app.services import loan_application as service
from app.services import settings as business_settings
from app.services.errors import DomainError
from app.services.servicing.application import new_request_key
from app.views.account.base import (_client, _form_error, _message, _not_found, bp, code_limit,
                                    customer_required, policy_owned, signin_limit)
from app.views import shown as served

# the 《保单贷款协议》 shown on the loan page (templates/account/loan.html): a change of its wording there
# takes a new version here; the version is shown with it and kept with the customer's key screen
LOAN_AGREEMENT_VERSION = "2026-11"

DRAFT_FIELDS = ("amount", "bank", "card_no", "account_name", "agreed")
SESSION_DRAFTS = "account_servicing_drafts"  # {"loan:<policy_id>": {field: value}}


def verified_required(view):
    """A bound customer whose account is 已认证; others are told to authenticate first."""
    @wraps(view)
    @customer_required
    def wrapper(*args, **kwargs):
        if g.customer.auth_status != "VERIFIED":
            return _message(_("请认证"), DomainError("servicing_not_verified").message, status="warn", code=403,
                            actions=[(url_for(".authenticate"), _("请认证"))])
        return view(*args, **kwargs)
    return wrapper


def _draft_key(kind, policy_id):
    return f"{kind}:{policy_id}"


def _save_draft(kind, policy_id):
    drafts = dict(session.get(SESSION_DRAFTS) or {})
    drafts[_draft_key(kind, policy_id)] = {name: (request.form.get(name) or "")[:64] for name in DRAFT_FIELDS}
    session[SESSION_DRAFTS] = drafts


def _load_draft(form, kind, policy_id):
    draft = (session.get(SESSION_DRAFTS) or {}).get(_draft_key(kind, policy_id)) or {}
    for name in DRAFT_FIELDS:
        if name in draft and hasattr(form, name):
            getattr(form, name).data = (draft[name] == "y") if name == "agreed" else draft[name]


def _forget_draft(kind, policy_id):
    drafts = dict(session.get(SESSION_DRAFTS) or {})
    drafts.pop(_draft_key(kind, policy_id), None)
    session[SESSION_DRAFTS] = drafts


def _valid_csrf(form):
    form.validate_on_submit()
    return not form.csrf_token.errors


def _done(application, text):
    return _message(_("保全申请操作完毕"), text, status="ok",
                    actions=[(url_for(".application_detail", application_id=application.id), _("查看申请进度")),
                             (url_for(".center"), _("返回个人中心"))])


def _file(field):
    data = field.data
    return data.read() if data and hasattr(data, "read") else None


# --- 保单贷款 ----------------------------------------------------------------------------------

@bp.route("/loan")
@verified_required
def loan_list():
    """列表显示目前可操作"保单贷款"的保单清单 (and why the others cannot)."""
    return render_template("account/loan_list.html", candidates=service.loan_candidates(g.customer.id),
                           policy_statuses=POLICY_STATUSES)


def _loan_page(policy_id, form, error=None, status=200):
    amount = form.amount.data if form.amount.data else None
    policy, quote = service.loan_page(g.customer.id, policy_id, amount)
    if error:
        form.code.data = ""  # secrets are never rendered back (the password field never is)
    if not form.request_key.data:
        form.request_key.data = new_request_key()
    return render_template(
        "account/loan.html", policy=policy, quote=quote, form=form, error=error, banks=service.BANKS,
        id_threshold=business_settings.get("ID_UPLOAD_THRESHOLD"), face_amount=service.face_amount(),
        duty_threshold=business_settings.get("STAMP_DUTY_THRESHOLD"),
        face_passed=service.face_passed(g.customer.id), mobile=privacy.mask_mobile(g.customer.mobile),
        agreement_version=LOAN_AGREEMENT_VERSION), status


@bp.route("/loan/<int:policy_id>", methods=["GET", "POST"])
@verified_required
@signin_limit
@policy_owned(service.own_policy)
def loan_policy(policy_id):
    """The policy page: 可贷金额, 贷款利率, unpaid loans; the amount, 收款账户, agreement, ID card,
    servicing password and code; submitted: 保全申请操作完毕."""
    return _form_flow("loan", policy_id, LoanForm(), _loan_page, lambda form: service.apply_for_loan(
        g.customer.id, policy_id, form.request_key.data, form.amount.data, form.bank.data, form.card_no.data,
        form.account_name.data, form.agreed.data, form.password.data, form.code.data,
        id_front=_file(form.id_front), id_back=_file(form.id_back)),
        lambda application: _("申请编号 %(no)s。自贷款金到账开始计息,办理进度请在“我的申请”中查看。",
                              no=application.application_no),
        screen=("LOAN_CONFIRM", _("保单贷款"), LOAN_AGREEMENT_VERSION))


def _form_flow(draft, policy_id, form, page, submit, done_text, screen=None):
    """The loan's and the repayment's form: GET shows it with the saved draft and a new submission
    key; POST validates, submits in one unit of work and shows 保全申请操作完毕, or the page again
    with a Chinese error and what was typed.

    screen: (kind, title, agreement version or None): the page as confirmed (rendered with the submitted
    values) is kept as the customer's key screen in the submission's unit of work (issue 15)."""
    if request.method == "GET":
        _load_draft(form, draft, policy_id)
        form.request_key.data = new_request_key()
        if screen:
            served.mark_shown(form.request_key.data)
        return page(policy_id, form)
    if not form.validate_on_submit():
        return page(policy_id, form, _form_error(form), 400)
    shown = screens.page_text(page(policy_id, form)) if screen else None
    try:
        with unit.work():
            application = submit(form)
            if screen:
                _keep_screen(screen, shown, application, form.request_key.data)
    except DomainError as error:
        return page(policy_id, form, error.message, error.status)
    _forget_draft(draft, policy_id)
    if screen:
        served.forget_shown(form.request_key.data)
    return _done(application, done_text(application))


def _keep_screen(screen, text, application, request_key):
    """The key screen of this submission, once (a resubmitted form returns the application already made)."""
    kind, title, version = screen
    if any(kept.kind == kind for kept in screens.for_application(application.id)):
        return
    screens.record(kind, title, text, customer_id=application.customer_id, policy_id=application.policy_id,
                   application_id=application.id, agreement_version=version,
                   shown_at=served.shown_at(request_key), **_client())


@bp.route("/loan/<int:policy_id>/code", methods=["POST"])
@verified_required
@code_limit
def loan_code(policy_id):
    """获取验证码 on the loan page: keep what was typed, send the code to the reserved mobile."""
    return _send_code("loan", policy_id, ".loan_policy")


@bp.route("/loan/<int:policy_id>/draft/<then>", methods=["POST"])
@verified_required
def loan_draft(policy_id, then):
    """计算 or 人脸识别 from the loan form: keep what was typed, then the page (with the figures of the
    amount) or the face check."""
    if then not in ("page", "face"):
        return _not_found()
    if _valid_csrf(LoanFaceForm()):
        _save_draft("loan", policy_id)
    else:
        flash(_("页面已过期,请重新提交。"), "error")
    return redirect(url_for(".loan_face" if then == "face" else ".loan_policy", policy_id=policy_id))


@bp.route("/loan/<int:policy_id>/face", methods=["GET", "POST"])
@verified_required
@signin_limit
@policy_owned(service.own_policy)
def loan_face(policy_id):
    """大额资金交易,须进行人脸识别: a selfie compared with the enrolled face."""
    if not biometric.has_agreed(g.customer.id, "SERVICING"):  # the notice first; no face data before consent
        from app.views.account.face import biometric_notice

        return biometric_notice("SERVICING", policy_id=policy_id)
    form = LoanFaceForm()
    error, status = None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            error, status = _form_error(form), 400
        else:
            try:
                verification = service.start_face_check(g.customer.id, form.photo.data.read(), **_client())
            except DomainError as failure:
                error, status = failure.message, failure.status
            else:
                return redirect(url_for(".loan_face_result", policy_id=policy_id,
                                        verification_id=verification.id))
    return render_template("account/loan_face.html", form=form, error=error, policy_id=policy_id), status


@bp.route("/loan/<int:policy_id>/face/<int:verification_id>")
@verified_required
def loan_face_result(policy_id, verification_id):
    from app.services import account

    verification = account.verification_of(g.customer.id, verification_id)
    if verification is None or verification.kind != "PHOTO" or verification.purpose != service.FACE_PURPOSE:
        return _not_found()
    if verification.status == "PENDING":
        return render_template("account/loan_face_wait.html")
    if verification.status == "PASSED":
        flash(_("人脸识别通过"), "success")
        return redirect(url_for(".loan_policy", policy_id=policy_id))
    return _message(_("人脸识别未通过"), _("人脸识别未通过,请本人在光线充足环境下正脸拍照后重试。"), status="error",
                    actions=[(url_for(".loan_face", policy_id=policy_id), _("重新验证")),
                             (url_for(".loan_policy", policy_id=policy_id), _("返回"))])


def _send_code(kind, policy_id, back):
    form = RepaymentForm()  # only its CSRF token counts here
    if not _valid_csrf(form):
        flash(_("页面已过期,请重新提交。"), "error")
        return redirect(url_for(back, policy_id=policy_id))
    try:
        service.own_policy(g.customer.id, policy_id)
    except DomainError:
        return _not_found()
    _save_draft(kind, policy_id)
    try:
        with unit.work():
            phone = service.send_code(g.customer.id)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("验证码已发送至 %(mobile)s,%(minutes)s分钟内有效", mobile=privacy.mask_mobile(phone),
                minutes=business_settings.get("CODE_VALID_MINUTES")), "success")
    return redirect(url_for(back, policy_id=policy_id))


# --- 保单还款 ----------------------------------------------------------------------------------

@bp.route("/repay")
@verified_required
def repayment_list():
    """列表显示目前存在未清偿贷款的保单信息."""
    return render_template("account/repayment_list.html", candidates=service.repayment_candidates(g.customer.id))


def _repayment_page(policy_id, form, error=None, status=200):
    policy, owed = service.repayment_page(g.customer.id, policy_id)
    if error:
        form.code.data = ""
    if not form.request_key.data:
        form.request_key.data = new_request_key()
    return render_template("account/repayment.html", policy=policy, owed=owed, form=form, error=error,
                           mobile=privacy.mask_mobile(g.customer.mobile)), status


@bp.route("/repay/<int:policy_id>", methods=["GET", "POST"])
@verified_required
@signin_limit
def repayment_policy(policy_id):
    try:
        service.repayment_page(g.customer.id, policy_id)
    except DomainError:
        return _not_found()
    return _form_flow("repay", policy_id, RepaymentForm(), _repayment_page, lambda form: service.apply_for_repayment(
        g.customer.id, policy_id, form.request_key.data, form.amount.data, form.bank.data, form.card_no.data,
        form.account_name.data, form.code.data),
        lambda application: _("申请编号 %(no)s。还款结果以支付机构的扣款结果为准,办理进度请在“我的申请”中查看。",
                              no=application.application_no),
        screen=("REPAYMENT_CONFIRM", _("保单还款"), None))


@bp.route("/repay/<int:policy_id>/code", methods=["POST"])
@verified_required
@code_limit
def repayment_code(policy_id):
    return _send_code("repay", policy_id, ".repayment_policy")
