"""Back-office views of servicing applications, loans and repayments (保全管理), and the operators'
review queue (保全审核)."""
from flask import Response, abort, flash, g, redirect, request, send_file, url_for
from markupsafe import Markup
from flask_appbuilder import BaseView, expose
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.forms.workbench import ExportForm  # the date range of a download
from app.models.identity import VERIFICATION_STATUSES
from app.models.servicing import (APPLICATION_STATUSES, LEDGER_KINDS, LOAN_STATUSES, REJECT_REASONS,
                                  SYSTEM_REJECT_REASONS, CONSENT_ACTIONS, CONSENT_STATUSES,
                                  SERVICING_KINDS, LoanRepayment, PolicyLoan, ServicingApplication)
from app.models.sms import SMS_STATUSES
from app.services import clock, ledger, loan, loan_export, slip, unit
from app.services.errors import DomainError
from app.services.ledger import RATE_MAX, RATE_MIN
from app.services.servicing import application, consent, dispatch
from app.services.servicing.application import NOTE_MAX
from app.services.servicing.states import can
from app.views.base import READ_ONLY, PortalModelView, _l, datamodel


class LoanRepaymentView(PortalModelView):
    entity_label = _l("还款记录")
    datamodel = datamodel(LoanRepayment)
    base_permissions = READ_ONLY
    label_columns = {"loan": _l("贷款"), "amount": _l("还款金额(元)"), "interest_part": _l("其中利息"),
                     "principal_part": _l("其中本金"), "paid_at": _l("还款时间")}
    list_columns = ["loan", "amount", "interest_part", "principal_part", "paid_at"]


class PolicyLoanView(PortalModelView):
    entity_label = _l("保单贷款")
    datamodel = datamodel(PolicyLoan)
    base_permissions = READ_ONLY
    label_columns = {"application": _l("申请"), "policy": _l("保单"), "principal": _l("贷款本金(元)"),
                     "stamp_duty": _l("印花税(元)"), "credited_amount": _l("实际入账金额(元)"),
                     "annual_rate": _l("年利率"), "outstanding_principal": _l("未还本金(元)"),
                     "status": _l("状态"), "disbursed_on": _l("到账日"), "due_on": _l("到期日"),
                     "bank_name": _l("开户行"), "account_name": _l("户名"),
                     "account_no_masked": _l("收款账号"), "id": _l("贷款台账"),
                     "interest_paid_to": _l("计息至"), "interest_carried": _l("未付利息(元)"),
                     "rolled_from": _l("续贷自"), "reminded_days": _l("已提醒(到期前天数)"),
                     "account_no": _l("银行卡号")}  # the audit trail's label (it shows the number masked)
    choices = {"status": LOAN_STATUSES}
    # the full card number (encrypted at rest) is for the payment system's instruction only (loan_api.py):
    # the show page has the masked one
    show_exclude_columns = ["account_no"]
    list_columns = ["id", "policy", "principal", "stamp_duty", "credited_amount", "outstanding_principal",
                    "status", "disbursed_on", "due_on"]
    # the loan's number opens its ledger (放款登记 / 贷款台账), where money is recorded
    formatters_columns = {"id": lambda loan_id: Markup('<a href="{}">#{}</a>').format(
        url_for("LoanLedgerView.show", loan_id=loan_id), loan_id)}
    search_columns = ["status", "disbursed_on"]
    related_views = [LoanRepaymentView]


class ServicingApplicationView(PortalModelView):
    entity_label = _l("保全申请")
    datamodel = datamodel(ServicingApplication)
    label_columns = {"application_no": _l("申请号"), "kind": _l("保全项目"), "customer": _l("客户"),
                     "policy": _l("保单"), "status": _l("状态"), "payload": _l("申请内容"),
                     "submitted_at": _l("提交时间"), "decided_at": _l("处理时间"),
                     "decided_by": _l("处理人"), "decision_note": _l("处理意见"), "amount": _l("金额(元)"),
                     "rule_trace": _l("规则校验"), "submitted_by": _l("代客提交人"),
                     "decided_by_system": _l("系统自动审核"), "sampled_for_review": _l("抽检复核"),
                     "approvals_needed": _l("须审核人数"), "reject_reason": _l("拒绝原因"),
                     "due_decision_at": _l("审核时限"), "due_completion_at": _l("办结时限"),
                     "completed_at": _l("办结时间"), "cancelled_at": _l("撤销时间"),
                     "account_no": _l("银行卡号")}  # the audit trail's label (masked there; never shown whole)
    choices = {"kind": SERVICING_KINDS, "status": APPLICATION_STATUSES, "reject_reason": REJECT_REASONS}
    list_columns = ["application_no", "kind", "customer", "policy", "amount", "status", "submitted_at",
                    "due_decision_at"]
    show_columns = ["application_no", "kind", "customer", "policy", "amount", "status", "payload", "rule_trace",
                    "submitted_at", "submitted_by", "due_decision_at", "due_completion_at", "decided_at",
                    "decided_by", "decided_by_system", "sampled_for_review", "approvals_needed", "reject_reason",
                    "decision_note", "completed_at", "cancelled_at"]
    search_columns = ["application_no", "kind", "status", "submitted_at", "sampled_for_review"]
    # what the customer entered and the rule trace as the review page shows them: labelled rows, personal
    # numbers masked (the payload of a beneficiary change holds every beneficiary's ID number)
    formatters_columns = {"payload": lambda payload: _rows_table(loan_export.payload_rows(payload)),
                          "rule_trace": lambda trace: _rows_table(
                              (check.get("name"), f"{_('通过') if check.get('passed') else _('未通过')}:"
                                                  f"{check.get('figures') or ''}")
                              for check in trace or () if isinstance(check, dict))}
    # an application's status moves only through its workflow (review, decision), never a generic form
    base_permissions = READ_ONLY
    base_order = ("submitted_at", "desc")


def _rows_table(rows):
    """(label, text) pairs as a small table, or — when there are none."""
    cells = Markup("").join(Markup("<tr><th>{}</th><td>{}</td></tr>").format(label, text) for label, text in rows)
    return Markup('<table class="table table-condensed">{}</table>').format(cells) if cells else "—"


def _changes_cell(application_id):
    """The list's 变更内容 cell: each policy's before → after, linked to the application's page."""
    found = application.get(application_id)
    rows = slip.changes(found)
    lines = Markup("<br>").join(Markup("{} {}:{} → {}").format(r["policy_no"], r["label"], r["before"], r["after"])
                                for r in rows) or Markup("—")
    return Markup('{}<br><a href="{}">{}</a>').format(lines, url_for("ReviewQueueView.show",
                                                                       application_id=application_id), _("查看申请"))


class _ChangeListView(PortalModelView):
    """A read-only list of one kind of change (Auditors read, nobody edits here)."""
    datamodel = datamodel(ServicingApplication)
    base_permissions = READ_ONLY
    label_columns = {"application_no": _l("申请号"), "customer": _l("客户"), "policy": _l("保单"),
                     "status": _l("状态"), "submitted_at": _l("提交时间"), "decided_at": _l("处理时间"),
                     "completed_at": _l("办结时间"), "id": _l("变更内容(变更前 → 变更后)"),
                     "decided_by": _l("处理人"), "slip_code": _l("批单验证码")}
    choices = {"status": APPLICATION_STATUSES}
    list_columns = ["application_no", "customer", "status", "id", "submitted_at", "completed_at"]
    show_columns = ["application_no", "customer", "policy", "status", "id", "submitted_at", "decided_at",
                    "decided_by", "completed_at", "slip_code"]
    search_columns = ["application_no", "status", "submitted_at"]
    formatters_columns = {"id": _changes_cell}
    base_order = ("submitted_at", "desc")


class AnnuityChangeView(_ChangeListView):
    """年金领取方式变更: every application of the kind with what it changed."""
    entity_label = _l("年金领取方式变更")
    base_filters = [["kind", FilterEqual, "ANNUITY_METHOD"]]


class BeneficiaryChangeView(_ChangeListView):
    """受益人变更: every application of the kind with each policy's list before and after (the versions
    themselves: 保单管理 → 受益人, and each policy's page)."""
    entity_label = _l("受益人变更")
    base_filters = [["kind", FilterEqual, "BENEFICIARY"]]


# --- 保全审核: the operators' review queue ------------------------------------------------------

class ReviewActionForm(FlaskForm):
    """Approve: an optional note; the CSRF token is what matters."""
    note = TextAreaField(_l("审核意见"), validators=[Optional(), Length(max=NOTE_MAX)])


class RejectForm(FlaskForm):
    reason = SelectField(_l("拒绝原因"), choices=[("", _l("请选择"))] + [
        (code, label) for code, label in REJECT_REASONS.items() if code not in SYSTEM_REJECT_REASONS],
        validators=[DataRequired(message=_l("请选择拒绝原因"))])
    note = TextAreaField(_l("拒绝说明"), validators=[DataRequired(message=_l("请填写拒绝说明")),
                                                     Length(max=NOTE_MAX)])


class SampleReviewForm(FlaskForm):
    note = TextAreaField(_l("复核结论"), validators=[DataRequired(message=_l("请填写复核结论")),
                                                     Length(max=NOTE_MAX)])


OVERDUE_WORDS = {"decision": _l("已超过审核时限"), "completion": _l("已超过办结时限")}
LABELS = {"kinds": SERVICING_KINDS, "statuses": APPLICATION_STATUSES, "reasons": REJECT_REASONS,
          "overdue": OVERDUE_WORDS, "face": VERIFICATION_STATUSES, "sms": SMS_STATUSES}


class ReviewQueueView(BaseView):
    """保全审核: the applications waiting for an operator, the earliest due first; the application with
    its rule trace in full; approve (four eyes above FOUR_EYES_AMOUNT) or reject with a reason. The
    decision is the signed-in user's (g.user.id); app/services/servicing/application.py holds the rules."""
    route_base = "/review-queue"
    default_view = "index"
    base_permissions = ["can_list", "can_show", "can_approve", "can_reject"]

    def _may(self, permission):
        return self.appbuilder.sm.has_access(permission, self.class_permission_name)

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        kind = request.args.get("kind", "")
        kind = kind if kind in SERVICING_KINDS else ""
        overdue_only = request.args.get("overdue") == "1"
        now = clock.now()
        return self.render_template("servicing/review_queue.html", kind=kind, overdue_only=overdue_only,
                                    queue=application.review_queue(kind=kind, overdue_only=overdue_only, now=now),
                                    sampled=application.sampled_approvals(limit=50), now=now,
                                    changes_of=slip.changes, policy_nos=slip.policy_nos,
                                    overdue=application.overdue, labels=LABELS)

    def _render(self, application_id, approve_form=None, reject_form=None, sample_form=None, error=None,
                status=200):
        try:
            found = application.get(application_id)
        except DomainError:
            abort(404)
        body = self.render_template(
            "servicing/review_application.html", application=found, trace=found.rule_trace or [],
            approvals=application.approvals_of(found.id), labels=LABELS, now=clock.now(),
            entered=loan_export.payload_rows(found.payload), face=loan_export.face_check(found),
            has_face_image=loan_export.face_image_path(found) is not None,
            id_images=loan_export.id_images(found), messages=loan_export.messages_around(found),
            changes=slip.by_policy(slip.changes(found)), policy_nos=slip.policy_nos(found),
            effective_on=slip.effective_on(found) if found.status == "COMPLETED" else None,
            may_slip=slip.ready(found),
            consents=consent.for_application(found.id), consent_statuses=CONSENT_STATUSES,
            consent_actions=CONSENT_ACTIONS,
            overdue=application.overdue(found), can=can, error=error,
            may_approve=self._may("can_approve") and can(found, "approve"),
            may_reject=self._may("can_reject") and can(found, "reject"),
            may_review_sample=self._may("can_approve") and found.sampled_for_review and not found.sample_reviewed_at,
            sample_form=sample_form or SampleReviewForm(formdata=None),
            approve_form=approve_form or ReviewActionForm(formdata=None),
            reject_form=reject_form or RejectForm(formdata=None))
        return body if status == 200 else (body, status)

    @expose("/<int:application_id>")
    @has_access
    @permission_name("show")
    def show(self, application_id):
        return self._render(application_id)

    def _application(self, application_id):
        try:
            return application.get(application_id)
        except DomainError:
            abort(404)

    @expose("/<int:application_id>/slip.pdf")
    @has_access
    @permission_name("show")
    def slip(self, application_id):
        """The 批单 of a completed application, to staff who may read the application."""
        found = self._application(application_id)
        if not slip.ready(found):
            return self._render(application_id, error=_("该申请尚未办结,办结后才有批单。"), status=409)
        return Response(slip.slip_pdf(found.id), mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{slip.file_name(found)}"', "Cache-Control": "no-store"})

    @expose("/<int:application_id>/face-image")
    @has_access
    @permission_name("show")
    def face_image(self, application_id):
        """The selfie of the application's face check, to staff who may read the application."""
        path = loan_export.face_image_path(self._application(application_id)) or abort(404)
        return send_file(path, max_age=0)

    @expose("/<int:application_id>/id-image/<int:index>")
    @has_access
    @permission_name("show")
    def id_image(self, application_id, index):
        """A side of the ID card the customer uploaded (0 front, 1 back), to staff only."""
        path = loan_export.id_image_path(self._application(application_id), index) or abort(404)
        return send_file(path, max_age=0)

    def _decide(self, application_id, form, call, done, kind):
        if not form.validate_on_submit():
            error = (_("页面已过期,请刷新后重试。") if form.csrf_token.errors
                     else ";".join(str(e) for errors in form.errors.values() for e in errors))
            return self._render(application_id, error=error, status=400, **{kind: form})
        try:
            with unit.work():
                call()
        except DomainError as exc:
            return self._render(application_id, error=exc.message, status=exc.status, **{kind: form})
        flash(done(), "success")
        return redirect(url_for(".show", application_id=application_id))

    @expose("/<int:application_id>/approve", methods=["POST"])
    @has_access
    @permission_name("approve")
    def approve(self, application_id):
        form = ReviewActionForm()
        result = {}

        def call():
            approved = application.approve(application_id, g.user.id, form.note.data)
            result["status"] = approved.status
            dispatch.on_approved(approved)  # a loan's PENDING row, a change made at once

        def done():
            return (_("已审核通过。") if result["status"] != "REVIEW"
                    else _("已记录您的审核通过,该申请金额较大,须由另一位审核人员复核。"))
        return self._decide(application_id, form, call, done, "approve_form")

    @expose("/<int:application_id>/reject", methods=["POST"])
    @has_access
    @permission_name("reject")
    def reject(self, application_id):
        form = RejectForm()

        def call():
            application.reject(application_id, g.user.id, form.reason.data, form.note.data)
        return self._decide(application_id, form, call, lambda: _("已拒绝该申请。"), "reject_form")

    @expose("/<int:application_id>/sample-review", methods=["POST"])
    @has_access
    @permission_name("approve")
    def sample_review(self, application_id):
        form = SampleReviewForm()

        def call():
            application.review_sample(application_id, g.user.id, form.note.data)
        return self._decide(application_id, form, call, lambda: _("已记录抽检复核结论。"), "sample_form")


# --- 放款登记 and the loan ledger (issue 11 point 4) -----------------------------------------------

class DisbursementForm(FlaskForm):
    arrived_on = DateField(_l("到账日期"), validators=[DataRequired(message=_l("请填写到账日期"))])


class RepaymentResultForm(FlaskForm):
    """An operator records a repayment that arrived (the payment system usually reports it)."""
    amount = StringField(_l("还款金额"), validators=[DataRequired(message=_l("请填写还款金额")), Length(max=20)])
    paid_on = DateField(_l("还款到账日期"), validators=[DataRequired(message=_l("请填写还款到账日期"))])
    payment_ref = StringField(_l("支付流水号"), validators=[DataRequired(message=_l("请填写支付流水号")),
                                                          Length(max=48)])
    application_no = StringField(_l("还款申请号"), validators=[Optional(), Length(max=32)])
    result = SelectField(_l("支付结果"), choices=[("PAID", _l("支付成功")), ("FAILED", _l("支付失败"))], default="PAID")


LEDGER_LABELS = {"kinds": LEDGER_KINDS, "statuses": LOAN_STATUSES}


class LoanLedgerView(BaseView):
    """放款登记: the loans of approved applications waiting for their money; a loan's ledger (append-only,
    nothing here edits or deletes a row); recording the day the money arrived (the service decides:
    app/services/ledger.py)."""
    route_base = "/loan-ledger"
    default_view = "index"
    base_permissions = ["can_list", "can_show", "can_disburse", "can_repay", "can_download"]

    def _index(self, export_form=None, error=None, status=200):
        today = clock.today()
        body = self.render_template(
            "servicing/loan_waiting.html", rows=ledger.waiting_for_money(), labels=LEDGER_LABELS,
            form=DisbursementForm(formdata=None), today=today, error=error,
            export_form=export_form or ExportForm(formdata=None, start=today.replace(day=1), end=today),
            may_download=self.appbuilder.sm.has_access("can_download", self.class_permission_name),
            may_disburse=self.appbuilder.sm.has_access("can_disburse", self.class_permission_name))
        return body if status == 200 else (body, status)

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        return self._index()

    @expose("/export")
    @has_access
    @permission_name("download")
    def export(self):
        """贷款导出: the loans granted between two days (at most 366 apart) as xlsx."""
        form = ExportForm(request.args)
        if not form.validate():
            error = ";".join(str(e) for errors in form.errors.values() for e in errors) or _("请填写正确的起止日期")
            return self._index(export_form=form, error=error, status=400)
        try:
            data = loan_export.loans_xlsx(form.start.data, form.end.data)
        except DomainError as exc:
            return self._index(export_form=form, error=exc.message, status=400)
        name = f"policy-loans-{form.start.data:%Y%m%d}-{form.end.data:%Y%m%d}.xlsx"
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    def _render(self, loan_id, form=None, error=None, status=200, repay_form=None):
        try:
            found = ledger.get_loan(loan_id)
        except DomainError:
            abort(404)
        may_disburse = (found.status == "PENDING"
                        and self.appbuilder.sm.has_access("can_disburse", self.class_permission_name))
        may_repay = found.status == "ACTIVE" and self.appbuilder.sm.has_access("can_repay", self.class_permission_name)
        body = self.render_template(
            "servicing/loan_ledger.html", loan=found, entries=ledger.entries_of(found.id), labels=LEDGER_LABELS,
            owed=ledger.owed_on(found, clock.today()) if found.status == "ACTIVE" else None, today=clock.today(),
            may_disburse=may_disburse, form=form or DisbursementForm(formdata=None), error=error,
            may_repay=may_repay, repay_form=repay_form or RepaymentResultForm(formdata=None),
            repayments=ledger.repayments_of(found.id))
        return body if status == 200 else (body, status)

    @expose("/<int:loan_id>")
    @has_access
    @permission_name("show")
    def show(self, loan_id):
        return self._render(loan_id)

    @expose("/<int:loan_id>/disbursement", methods=["POST"])
    @has_access
    @permission_name("disburse")
    def disburse(self, loan_id):
        form = DisbursementForm()
        if not form.validate_on_submit():
            error = (_("页面已过期,请刷新后重试。") if form.csrf_token.errors
                     else ";".join(str(e) for errors in form.errors.values() for e in errors))
            return self._render(loan_id, form=form, error=error, status=400)
        try:
            unit.retry_on_lock(self._disburse, loan_id, form.arrived_on.data)
        except DomainError as exc:
            return self._render(loan_id, form=form, error=exc.message, status=exc.status)
        flash(_("已登记放款到账,自到账日起计息。"), "success")
        return redirect(url_for(".show", loan_id=loan_id))

    @staticmethod
    def _disburse(loan_id, arrived_on):
        with unit.work():
            ledger.disburse(loan_id, arrived_on, actor=f"user:{g.user.username}", user_id=g.user.id)

    @expose("/<int:loan_id>/repayment", methods=["POST"])
    @has_access
    @permission_name("repay")
    def repay(self, loan_id):
        form = RepaymentResultForm()
        if not form.validate_on_submit():
            error = (_("页面已过期,请刷新后重试。") if form.csrf_token.errors
                     else ";".join(str(e) for errors in form.errors.values() for e in errors))
            return self._render(loan_id, repay_form=form, error=error, status=400)

        def attempt():
            with unit.work():
                ledger.record_repayment(loan_id, form.amount.data, form.paid_on.data, form.payment_ref.data,
                                        actor=f"user:{g.user.username}", user_id=g.user.id,
                                        application_no=(form.application_no.data or "").strip() or None,
                                        result=form.result.data or "PAID")
        try:
            unit.retry_on_lock(attempt)
        except DomainError as exc:
            return self._render(loan_id, repay_form=form, error=exc.message, status=exc.status)
        flash(_("已登记支付失败,未记入贷款台账。") if form.result.data == "FAILED" else _("已登记还款,先还利息后还本金。"),
              "success")
        return redirect(url_for(".show", loan_id=loan_id))

    @expose("/application/<int:application_id>/disbursement", methods=["POST"])
    @has_access
    @permission_name("disburse")
    def disburse_application(self, application_id):
        """From the list: the approved application's loan (made now if need be) and its money's arrival."""
        form = DisbursementForm()
        if not form.validate_on_submit():
            flash(_("页面已过期,请刷新后重试。") if form.csrf_token.errors
                  else ";".join(str(e) for errors in form.errors.values() for e in errors), "danger")
            return redirect(url_for(".index"))
        result = {}

        def attempt():
            with unit.work():
                result["loan_id"] = ledger.disburse_application(
                    application_id, form.arrived_on.data, actor=f"user:{g.user.username}", user_id=g.user.id).id
        try:
            unit.retry_on_lock(attempt)
        except DomainError as exc:
            flash(exc.message, "danger")
            return redirect(url_for(".index"))
        flash(_("已登记放款到账,自到账日起计息。"), "success")
        return redirect(url_for(".show", loan_id=result["loan_id"]))


# --- 贷款利率: the rate table the company declares (Admin) ---------------------------------------

class LoanRateForm(FlaskForm):
    annual_rate = DecimalField(_l("贷款年利率"), places=None, validators=[
        DataRequired(message=_l("请填写贷款年利率")),
        NumberRange(min=RATE_MIN, max=RATE_MAX, message=_l("贷款年利率须在 0 至 0.24 之间(如 0.05 表示 5%%)"))])
    effective_from = DateField(_l("生效日期"), validators=[DataRequired(message=_l("请填写生效日期"))])
    note = StringField(_l("说明"), validators=[Optional(), Length(max=200)])


class LoanRateView(BaseView):
    """贷款利率: the declared rates (never edited; a new row supersedes from its day) and a form to add one.
    Admin only: no other role lists it (app/security.py)."""
    route_base = "/loan-rates"
    default_view = "index"
    base_permissions = ["can_list", "can_add"]

    def _render(self, form=None, error=None, status=200):
        today = clock.today()
        body = self.render_template("servicing/loan_rates.html", rates=ledger.rates(), form=form or LoanRateForm(
            formdata=None), error=error, in_force=loan.rate_on(today), today=today,
            may_add=self.appbuilder.sm.has_access("can_add", self.class_permission_name))
        return body if status == 200 else (body, status)

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        return self._render()

    @expose("/add", methods=["POST"])
    @has_access
    @permission_name("add")
    def add(self):
        form = LoanRateForm()
        if not form.validate_on_submit():
            error = (_("页面已过期,请刷新后重试。") if form.csrf_token.errors
                     else ";".join(str(e) for errors in form.errors.values() for e in errors))
            return self._render(form=form, error=error, status=400)
        try:
            with unit.work():
                ledger.add_rate(form.annual_rate.data, form.effective_from.data, g.user.id, form.note.data)
        except DomainError as exc:
            return self._render(form=form, error=exc.message, status=exc.status)
        flash(_("已添加贷款利率,自生效日期起适用于新发放的贷款。"), "success")
        return redirect(url_for(".index"))
