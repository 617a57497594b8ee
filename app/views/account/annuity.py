"""年金领取方式变更 (DOMAIN.md section 6, the seed's screens in order): the list of the customer's annuity
policies with the current method, the policy page (险种名称, 保单号, 被保人, 当前年金领取方式, 变更后年金领取方式,
移动电话, 验证码, 确认) and 保全申请操作完毕. The rules are in services/annuity.py; the form flow, the code
to the reserved mobile and the done page are the loan's (views/account/loan.py).
"""
from flask import g, render_template, request, session
from flask_babel import gettext as _

from app.forms.annuity import AnnuityForm
from app.models.policy import POLICY_STATUSES
from app.models.product import ANNUITY_METHODS
from app.services import annuity as service
from app.services import privacy
from app.services.servicing.application import new_request_key
from app.views.account.base import bp, code_limit, policy_owned, signin_limit
from app.views.account.center import OPEN_ITEMS
from app.views.account.loan import SESSION_DRAFTS, _draft_key, _form_flow, _send_code, _valid_csrf, verified_required

DRAFT = "annuity"


@bp.route("/annuity")
@verified_required
def annuity_list():
    """The customer's annuity policies with the current method, and why a policy cannot be changed."""
    return render_template("account/annuity_list.html", candidates=service.candidates(g.customer.id),
                           policy_statuses=POLICY_STATUSES, method_label=service.method_label)


OPEN_ITEMS["ANNUITY_METHOD"] = ".annuity_list"  # 个人中心 → 保全项目 → 年金领取方式变更


def _chosen(policy_id):
    """The method chosen before 获取验证码 (kept in the session)."""
    draft = (session.get(SESSION_DRAFTS) or {}).get(_draft_key(DRAFT, policy_id)) or {}
    return draft.get("method") if draft.get("method") in ANNUITY_METHODS else None


def _annuity_page(policy_id, form, error=None, status=200):
    found = service.page(g.customer.id, policy_id)
    if request.method == "GET" and not form.method.data:
        form.method.data = _chosen(policy_id)
    if error:
        form.code.data = ""  # the code is never rendered back
    if not form.request_key.data:
        form.request_key.data = new_request_key()
    return render_template("account/annuity.html", page=found, form=form, error=error,
                           method_label=service.method_label, to_universal=service.TO_UNIVERSAL,
                           no_universal=service.no_universal_reason(),
                           mobile=privacy.mask_mobile(g.customer.mobile)), status


def _done_text(application):
    after = service.changes(application)[0]["after"] if service.changes(application) else ""
    effective = service.effective_on(application)
    return _("本次业务受理成功。申请编号 %(no)s。年金领取方式变更为“%(after)s”,自%(date)s(审核通过后的下一个年金领取日)起适用,"
             "办理进度请在“我的申请”中查看。", no=application.application_no, after=after,
             date=effective.isoformat() if effective else "-")


@bp.route("/annuity/<int:policy_id>", methods=["GET", "POST"])
@verified_required
@signin_limit
@policy_owned(service.own_annuity_policy)
def annuity_policy(policy_id):
    """The policy page: the current method, the new one, the code to the reserved mobile; 确认 →
    保全申请操作完毕 with the date the new method applies from."""
    return _form_flow(DRAFT, policy_id, AnnuityForm(), _annuity_page, lambda form: service.apply(
        g.customer.id, policy_id, form.request_key.data, form.method.data, form.code.data), _done_text,
        screen=("ANNUITY_CONFIRM", _("年金领取方式变更"), None))


@bp.route("/annuity/<int:policy_id>/code", methods=["POST"])
@verified_required
@code_limit
@policy_owned(service.own_annuity_policy)
def annuity_code(policy_id):
    """获取验证码 on the page: send the code to the reserved mobile, keeping the chosen method."""
    response = _send_code(DRAFT, policy_id, ".annuity_policy")
    method = request.form.get("method")
    if method in ANNUITY_METHODS and _valid_csrf(AnnuityForm()):
        drafts = dict(session.get(SESSION_DRAFTS) or {})
        drafts[_draft_key(DRAFT, policy_id)] = {"method": method}
        session[SESSION_DRAFTS] = drafts
    return response
