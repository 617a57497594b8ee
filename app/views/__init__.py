"""Registers every view and API in one place, grouped into the back-office menus."""
from flask_appbuilder import IndexView
from flask_babel import lazy_gettext as _l

from app.views.policy import BeneficiaryView, CustomerView, PolicyView, ProductView
from app.views.revisit import (CallAttemptView, QuestionnaireTemplateView, QuestionView,
                               RevisitAnswerView, RevisitEvidenceView, RevisitLinkView,
                               RevisitTaskView)
from app.views.servicing import (AnnuityChangeView, BeneficiaryChangeView, LoanLedgerView, LoanRateView,
                                 LoanRepaymentView, PolicyLoanView, ReviewQueueView, ServicingApplicationView)
from app.views.sms import SmsMessageView, SmsTemplateView
from app.views.system import AuditEventView, IdentityVerificationView, SettingView


class PortalIndexView(IndexView):
    index_template = "index.html"


# (view, menu name, label, category, icon): the menu name is what a role's menu_access names (app/security.py).
MENU = [
    (PolicyView, "Policies", _l("保单"), "PolicyAdmin", "fa-file-text"),
    (CustomerView, "Customers", _l("客户"), "PolicyAdmin", "fa-user"),
    (ProductView, "Products", _l("产品"), "PolicyAdmin", "fa-cubes"),
    (BeneficiaryView, "Beneficiaries", _l("受益人"), "PolicyAdmin", "fa-users"),
    (RevisitTaskView, "RevisitTasks", _l("回访任务"), "Revisits", "fa-phone"),
    (QuestionnaireTemplateView, "Questionnaires", _l("回访问卷"), "Revisits", "fa-list-ol"),
    (RevisitLinkView, "RevisitLinks", _l("回访短链接"), "Revisits", "fa-link"),
    (RevisitEvidenceView, "RevisitEvidence", _l("回访证据"), "Revisits", "fa-camera"),
    (CallAttemptView, "CallAttempts", _l("电话记录"), "Revisits", "fa-headphones"),
    (RevisitAnswerView, "RevisitAnswers", _l("回访答案"), "Revisits", "fa-check-square"),
    (ReviewQueueView, "ReviewQueue", _l("保全审核"), "Servicing", "fa-gavel"),
    (ServicingApplicationView, "Applications", _l("保全申请"), "Servicing", "fa-inbox"),
    (AnnuityChangeView, "AnnuityChanges", _l("年金领取方式变更"), "Servicing", "fa-exchange"),
    (BeneficiaryChangeView, "BeneficiaryChanges", _l("受益人变更"), "Servicing", "fa-users"),
    (PolicyLoanView, "Loans", _l("保单贷款"), "Servicing", "fa-money"),
    (LoanRepaymentView, "Repayments", _l("贷款还款"), "Servicing", "fa-undo"),
    (LoanLedgerView, "LoanLedger", _l("放款登记"), "Servicing", "fa-bank"),
    (LoanRateView, "LoanRates", _l("贷款利率"), "Servicing", "fa-percent"),
    (SmsMessageView, "SmsMessages", _l("短信记录/发件箱"), "Sms", "fa-envelope"),
    (SmsTemplateView, "SmsTemplates", _l("短信模板"), "Sms", "fa-pencil"),
    (AuditEventView, "AuditEvents", _l("审计日志"), "System", "fa-history"),
    (IdentityVerificationView, "IdentityChecks", _l("身份核验记录"), "System", "fa-id-card"),
    (SettingView, "Settings", _l("业务参数"), "System", "fa-cog"),
    (QuestionView, None, None, None, None),
]
CATEGORY_LABELS = {"PolicyAdmin": _l("保单管理"), "Revisits": _l("回访管理"),
                   "Servicing": _l("保全管理"), "Sms": _l("短信管理"), "System": _l("系统管理")}


def register_views(appbuilder):
    for view, name, label, category, icon in MENU:
        if name is None:
            appbuilder.add_view_no_menu(view)
            continue
        appbuilder.add_view(view, name, label=label, icon=icon, category=category,
                            category_label=CATEGORY_LABELS[category])
    from app.views.api import register_apis

    register_apis(appbuilder)
    register_phone_revisit(appbuilder)
    from app.views.intake import register_intake  # policy intake API and file import

    register_intake(appbuilder)
    from app.views.loan_api import register_loan_api  # the loan trial calculation (保全试算) API
    register_loan_api(appbuilder)
    from app.views.questionnaire import register_questionnaire_editor  # versioned template editor

    register_questionnaire_editor(appbuilder)
    register_customer_pages()
    from app.views.sms_report import register_sms_report  # SmsReport receipts push
    register_sms_report()
    from app.views.account import register_account  # the customer's official-account pages (/my/)
    register_account()
    from app.views.health import register_health  # /health, /health/worker, /health/beat
    register_health()
    from app.views.evidence import register_evidence  # evidence pack downloads (/evidence/...)
    register_evidence(appbuilder)
    from flask import current_app

    from app.services import screens  # the back office's task and application pages list the key screens

    current_app.add_template_global(screens, "key_screens")  # (templates/screens/_list.html)
    current_app.add_template_global(_navbar_menu, "navbar_menu")  # (templates/appbuilder/navbar.html)


def _navbar_menu():
    """The navbar's menu items, rendered once per roles, permissions and language (security.menu_html)."""
    from flask import current_app, render_template
    from markupsafe import Markup

    appbuilder = current_app.appbuilder
    return Markup(appbuilder.sm.menu_html(
        lambda: render_template("appbuilder/navbar_menu.html", menu=appbuilder.menu)))


def register_customer_pages():
    """The customers' phone pages (no back-office login): Flask blueprints."""
    from flask import current_app

    from app.views.customer_revisit import bp as customer_revisit_bp

    current_app.register_blueprint(customer_revisit_bp)
    from app.views.consent import bp as consent_bp

    current_app.register_blueprint(consent_bp)
    from app.views.language import bp as language_bp

    current_app.register_blueprint(language_bp)


def register_phone_revisit(appbuilder):
    """The agents' workbench, the supervisors' board and dashboard, the call-centre API."""
    from app.views.dashboard import RevisitDashboardView
    from app.views.phone_api import PhoneRevisitApi
    from app.views.workbench import AgentWorkbenchView, RevisitSupervisionView

    for view, name, label, icon in (
            (AgentWorkbenchView, "Workbench", _l("回访工作台"), "fa-headphones"),
            (RevisitSupervisionView, "RevisitSupervision", _l("电话回访调度"), "fa-tasks"),
            (RevisitDashboardView, "RevisitDashboard", _l("回访看板"), "fa-bar-chart")):
        appbuilder.add_view(view, name, label=label, icon=icon, category="Revisits",
                            category_label=CATEGORY_LABELS["Revisits"])
    appbuilder.add_api(PhoneRevisitApi)
