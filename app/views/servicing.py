"""Back-office views of servicing applications, loans and repayments (保全管理)."""
from app.models.servicing import (APPLICATION_STATUSES, LOAN_STATUSES, SERVICING_KINDS,
                                  LoanRepayment, PolicyLoan, ServicingApplication)
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
                     "account_no_masked": _l("收款账号")}
    choices = {"status": LOAN_STATUSES}
    list_columns = ["policy", "principal", "stamp_duty", "credited_amount", "outstanding_principal",
                    "status", "disbursed_on", "due_on"]
    search_columns = ["status", "disbursed_on"]
    related_views = [LoanRepaymentView]


class ServicingApplicationView(PortalModelView):
    entity_label = _l("保全申请")
    datamodel = datamodel(ServicingApplication)
    label_columns = {"application_no": _l("申请号"), "kind": _l("保全项目"), "customer": _l("客户"),
                     "policy": _l("保单"), "status": _l("状态"), "payload": _l("申请内容"),
                     "submitted_at": _l("提交时间"), "decided_at": _l("处理时间"),
                     "decided_by": _l("处理人"), "decision_note": _l("处理意见")}
    choices = {"kind": SERVICING_KINDS, "status": APPLICATION_STATUSES}
    list_columns = ["application_no", "kind", "customer", "policy", "status", "submitted_at"]
    search_columns = ["application_no", "kind", "status", "submitted_at"]
    # an application's status moves only through its workflow (review, decision), never a generic form
    base_permissions = READ_ONLY
    base_order = ("submitted_at", "desc")
