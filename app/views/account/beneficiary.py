"""受益人变更 (DOMAIN.md section 7, the seed's screens in order): the policies to change together
(请选择同时变更的保单, 全选), the tabs 身故受益人 / 生存受益人 pre-filled with the current lists, "+" to add a
beneficiary, 平均分配, 提交 → the confirmation that no more beneficiaries will be added (YES, with the code
sent to the reserved mobile, as for the loan) → 本次业务受理成功. The rules are in services/beneficiary.py.

Every step works without JavaScript: the rows are posted back and rendered by the server ("+", 删除 and
平均分配 are submit buttons); static/js/beneficiary.js does the same in the page and fills the birth date
and gender from a resident ID. What was typed always comes back with an error.
"""
from flask import g, render_template, request, url_for
from flask_babel import gettext as _

from app.forms.beneficiary import BeneficiaryForm
from app.models.customer import ID_TYPES
from app.models.policy import BENEFICIARY_KINDS, POLICY_STATUSES, RELATIONSHIPS
from app.services import beneficiary as service
from app.services import privacy, screens, unit
from app.services import settings as business_settings
from app.services.errors import DomainError
from app.services.servicing.application import new_request_key
from app.views.account.base import _message, _not_found, bp, code_limit, signin_limit
from app.views.account.center import OPEN_ITEMS
from app.views.account.loan import _keep_screen, verified_required
from app.views import shown as served

OPEN_ITEMS["BENEFICIARY"] = ".beneficiary_list"
FIELDS = {"DEATH": "death", "SURVIVAL": "survival"}


@bp.route("/beneficiary")
@verified_required
def beneficiary_list():
    """请选择同时变更的保单: the customer's policies; those that cannot change now say why."""
    return render_template("account/beneficiary_list.html", candidates=service.candidates(g.customer.id),
                           policy_statuses=POLICY_STATUSES)


def _policy_ids():
    values = request.values.getlist("policy")
    if request.values.get("all") and request.method == "GET":  # 全选 without JavaScript
        values = [str(c.policy.id) for c in service.candidates(g.customer.id) if not c.reasons]
    return values[:20]


def _policies():
    """The chosen policies, or the page that says why not (another's: not found)."""
    try:
        return service.chosen_policies(g.customer.id, _policy_ids()), None
    except DomainError as error:
        if error.key == "servicing_policy_not_found":
            return None, _not_found()
        return None, _message(_("受益人变更"), error.message, status="warn", code=error.status,
                              actions=[(url_for(".beneficiary_list"), _("返回"))])


def _typed(form, policies):
    """The rows typed, by kind; the survival list only when its tab was offered."""
    lists = {"DEATH": [entry.form.as_dict() for entry in form.death]}
    if service.survival_changeable(policies) and form.survival_shown.data == "1":
        lists["SURVIVAL"] = [entry.form.as_dict() for entry in form.survival]
    return lists


def _render(template, form, policies, error=None, status=200, notice=None):
    if not form.request_key.data:
        form.request_key.data = new_request_key()
    if error:
        form.code.data = ""  # the code is never rendered back
    survival = service.survival_changeable(policies)
    preview = None
    if template == "confirm":
        try:
            preview = {kind: service.new_list(kind, rows) for kind, rows in _typed(form, policies).items()}
        except DomainError as problem:
            template, error, status = "edit", problem.message, problem.status
    form.survival_shown.data = "1" if survival else ""
    if template == "confirm":
        served.mark_shown(form.request_key.data)
    return render_template(
        f"account/beneficiary_{template}.html", form=form, policies=policies, survival=survival, error=error,
        notice=notice, kinds=BENEFICIARY_KINDS, id_types=ID_TYPES, relationships=RELATIONSHIPS,
        orders=service.ORDERS, genders=service.GENDERS, preview=preview, describe=service.describe_list,
        max_rows=service.MAX_ROWS, mobile=privacy.mask_mobile(g.customer.mobile),
        differ={kind: service.lists_differ(policies, kind) for kind in FIELDS}), status


def _prefill(form, policies):
    for kind, field in FIELDS.items():
        rows = service.current_rows(policies, kind)
        for row in rows or [{}]:
            getattr(form, field).append_entry(row)


def _split(form, kind):
    """平均分配: each order's shares split equally (the service's largest-remainder rule)."""
    entries = list(getattr(form, FIELDS[kind]))
    by_order = {}
    for entry in entries:
        by_order.setdefault(entry.form.order.data or "1", []).append(entry)
    for group in by_order.values():
        for entry, share in zip(group, service.equal_split(len(group))):
            entry.form.share.data = f"{share:.2f}"


def _row_action(form, action):
    """"+", 删除 and 平均分配 without JavaScript: the rows changed, the page shown again."""
    what, _sep, rest = action.partition("-")
    kind, _sep, index = rest.partition("-")
    if kind not in FIELDS:
        return False
    field = getattr(form, FIELDS[kind])
    if what == "add":
        if len(field.entries) < service.MAX_ROWS:
            field.append_entry({"order": "1"})
        return True
    if what == "split":
        _split(form, kind)
        return True
    if what == "remove" and index.isascii() and index.isdigit():
        kept = [entry.form.as_dict() for i, entry in enumerate(field.entries) if i != int(index)]
        while field.entries:
            field.pop_entry()
        for row in kept or [{}]:
            field.append_entry(row)
        return True
    return False


@bp.route("/beneficiary/edit", methods=["GET", "POST"])
@verified_required
@signin_limit
def beneficiary_edit():
    """The tabs, pre-filled with the current lists; 提交 checks everything and asks for the confirmation;
    确认 (YES) with the code submits the one application."""
    if request.method == "POST" and request.form.get("action") == "confirm":
        found = service.submitted(g.customer.id, request.form.get("request_key"))
        if found is not None:  # this form render was already submitted (a double click, a retry)
            return _accepted(found)
    policies, refused = _policies()
    if refused is not None:
        return refused
    form = BeneficiaryForm()
    if request.method == "GET":
        _prefill(form, policies)
        form.request_key.data = new_request_key()
        return _render("edit", form, policies)
    action = (request.form.get("action") or "submit")[:40]
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            return _render("edit", form, policies, _("页面已过期,请重新提交。"), 400)
        rows = [e for entry in list(form.death) + list(form.survival) for errs in entry.form.errors.values()
                for e in errs]
        if rows or action != "confirm":
            return _render("edit", form, policies, (rows or [_("请检查填写的内容")])[0], 400)
        return _render("confirm", form, policies, (form.code.errors or [_("请检查填写的内容")])[0], 400)
    if action == "back" or _row_action(form, action):
        return _render("edit", form, policies)
    try:
        service.check_change(g.customer.id, [p.id for p in policies], _typed(form, policies))
    except DomainError as error:
        return _render("edit", form, policies, error.message, error.status)
    if action != "confirm":  # 提交: the confirmation that no more beneficiaries will be added
        return _render("confirm", form, policies)
    # the key screen (issue 15): the confirmation as served, with the new lists and the policies
    shown = screens.page_text(_render("confirm", form, policies))
    try:
        with unit.work():
            application = service.apply_for_change(
                g.customer.id, [p.id for p in policies], form.request_key.data, _typed(form, policies),
                action == "confirm", form.code.data)
            _keep_screen(("BENEFICIARY_CONFIRM", _("受益人变更"), None), shown, application, form.request_key.data)
    except DomainError as error:
        return _render("confirm", form, policies, error.message, error.status)
    served.forget_shown(form.request_key.data)
    return _accepted(application)


def _accepted(application):
    """本次业务受理成功, with what happens next."""
    text = _("申请编号 %(no)s。", no=application.application_no)
    if application.status == "CONSENT":
        text += _("投保人与被保险人不是同一人,须经被保险人同意:已向被保险人发送确认短信,被保险人同意后生效。")
    elif application.status == "COMPLETED":
        text += _("受益人已变更,自%(day)s起生效。", day=service.effective_on(application).isoformat())
    else:
        text += _("办理进度请在“我的申请”中查看。")
    return _message(_("本次业务受理成功"), text, status="ok",
                    actions=[(url_for(".application_detail", application_id=application.id), _("查看申请进度")),
                             (url_for(".center"), _("返回个人中心"))])


@bp.route("/beneficiary/code", methods=["POST"])
@verified_required
@code_limit
def beneficiary_code():
    """获取验证码 on the confirmation: the code to the reserved mobile, the confirmation shown again."""
    policies, refused = _policies()
    if refused is not None:
        return refused
    form = BeneficiaryForm()
    form.validate_on_submit()
    if form.csrf_token.errors:
        return _render("edit", form, policies, _("页面已过期,请重新提交。"), 400)
    try:
        service.check_change(g.customer.id, [p.id for p in policies], _typed(form, policies))
    except DomainError as error:
        return _render("edit", form, policies, error.message, error.status)
    try:
        with unit.work():
            phone = service.send_code(g.customer.id)
    except DomainError as error:
        return _render("confirm", form, policies, error.message, error.status)
    form.code.data = ""
    return _render("confirm", form, policies, notice=_("验证码已发送至 %(mobile)s,%(minutes)s分钟内有效",
                                                       mobile=privacy.mask_mobile(phone),
                                                       minutes=business_settings.get("CODE_VALID_MINUTES")))
