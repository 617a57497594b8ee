"""Security: each role's explicit permissions, the staff sign-in rules, and the security manager.

Roles are allow-lists of exact (view, permission) pairs, written to the database by
`flask portal init` (sync_roles); nothing here is a pattern, so a new view grants nothing to
anyone but Admin until it is listed. README.md ("Role permissions") documents the same lists and
tests/views/test_permissions.py compares the two with what the database holds.
"""
import hashlib
import hmac
import logging

from flask import current_app, flash, g, has_request_context, request, session
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import ResetMyPasswordView
from flask_appbuilder.validators import PasswordComplexityValidator
from flask_babel import lazy_gettext as _l
from flask_login import user_logged_in
from werkzeug.security import check_password_hash
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo

from app import table_versions

log = logging.getLogger(__name__)

STAFF_ROLES = ("Admin", "Supervisor", "Agent", "Operator", "Auditor", "Integration")
# Roles that see every revisit task; a user with none of them sees only their own.
ALL_TASK_ROLES = {"Admin", "Supervisor", "Auditor", "Operator"}
# Roles that may obtain a JWT at /api/v1/security/login (the core and call-centre systems).
API_ROLES = {"Integration"}
# Roles that sign in to the web pages (Integration is API-only).
WEB_ROLES = {"Admin", "Supervisor", "Agent", "Operator", "Auditor"}

_LIST = ("can_list", "can_show")
# Every web user: their own details page, edit their own name, change their own password.
OWN_ACCOUNT = {
    "UserDBModelView": ("can_userinfo", "resetmypassword", "userinfoedit"),
    "UserInfoEditView": ("can_this_form_get", "can_this_form_post"),
    "ResetMyPasswordView": ("can_this_form_get", "can_this_form_post"),
}

def _menus(*names):
    """Menu entries (menu_access): only for what the role may open."""
    return {name: ("menu_access",) for name in names}


# What a Supervisor and an Auditor both read: every business record and its evidence.
READ_EVERYTHING = {
    "PolicyView": _LIST, "CustomerView": _LIST, "ProductView": _LIST, "BeneficiaryView": _LIST,
    "RevisitTaskView": _LIST, "QuestionnaireTemplateView": _LIST, "QuestionView": _LIST,
    "QuestionnaireEditorView": ("can_list",),  # reads the versions; Admin edits
    "RevisitLinkView": _LIST, "RevisitEvidenceView": _LIST, "CallAttemptView": _LIST,
    "RevisitAnswerView": _LIST, "RevisitDashboardView": ("can_dashboard", "can_download"),
    "ReviewQueueView": _LIST,  # reads the queue; operators decide
    "ServicingApplicationView": _LIST, "PolicyLoanView": _LIST, "LoanRepaymentView": _LIST,
    "AnnuityChangeView": _LIST, "BeneficiaryChangeView": _LIST,  # the changes made (issue 12)
    "EvidencePackView": ("can_download",),  # the signed evidence packs (issue 15); each download audited
    "LoanLedgerView": ("can_list", "can_show", "can_download"),  # the ledgers and the loans' xlsx
    "LoanRateView": ("can_list",),  # the declared rates; Admin declares
    "SmsMessageView": _LIST, "SmsTemplateView": _LIST,
    "AuditEventView": _LIST, "IdentityVerificationView": _LIST, "SettingView": _LIST,
    **_menus("PolicyAdmin", "Policies", "Customers", "Products", "Beneficiaries",
             "Revisits", "RevisitTasks", "Questionnaires", "QuestionnaireEditor", "RevisitLinks",
             "RevisitEvidence", "CallAttempts", "RevisitAnswers", "RevisitDashboard",
             "Servicing", "ReviewQueue", "Applications", "Loans", "Repayments", "LoanLedger", "LoanRates",
             "AnnuityChanges", "BeneficiaryChanges", "Sms", "SmsMessages", "SmsTemplates", "System", "AuditEvents", "IdentityChecks", "Settings"),
}

# role -> {view or menu name: permissions}
ROLE_PERMISSIONS = {
    "Supervisor": {
        **OWN_ACCOUNT, **READ_EVERYTHING,
        "RevisitSupervisionView": ("can_list", "can_assign", "can_release"),
        "SmsMessageView": ("can_list", "can_show", "can_resend"),
        # business settings other than the security ones (services/settings.py refuses those)
        "SettingView": ("can_list", "can_show", "can_add", "can_edit"),
        **_menus("RevisitSupervision"),
    },
    "Agent": {
        **OWN_ACCOUNT,
        "AgentWorkbenchView": ("can_list", "can_show", "can_claim", "can_record", "can_reveal"),
        "RevisitTaskView": _LIST,  # only their own (OwnTasksUnlessSupervisor)
        **_menus("Revisits", "Workbench", "RevisitTasks"),
    },
    "Operator": {
        **OWN_ACCOUNT,
        "PolicyView": ("can_list", "can_show", "can_edit"),
        "PolicyImportView": ("can_add",),
        "CustomerView": ("can_list", "can_show", "can_add", "can_edit"),
        "ProductView": ("can_list", "can_show", "can_add", "can_edit"),
        "BeneficiaryView": _LIST,
        "RevisitTaskView": _LIST, "QuestionnaireTemplateView": _LIST, "QuestionView": _LIST,
        "ReviewQueueView": ("can_list", "can_show", "can_approve", "can_reject"),  # services decide who
        "ServicingApplicationView": _LIST,
        "PolicyLoanView": _LIST, "LoanRepaymentView": _LIST,
        "AnnuityChangeView": _LIST, "BeneficiaryChangeView": _LIST,
        # money in and out (the service checks); the loans' xlsx
        "LoanLedgerView": ("can_list", "can_show", "can_disburse", "can_repay", "can_download"),
        "SmsMessageView": _LIST,  # a message whose result is unknown is resent by a supervisor
        **_menus("PolicyAdmin", "Policies", "PolicyImport", "Customers", "Products", "Beneficiaries",
                 "Revisits", "RevisitTasks", "Questionnaires", "Servicing", "ReviewQueue", "Applications",
                 "Loans", "Repayments", "LoanLedger", "AnnuityChanges", "BeneficiaryChanges", "Sms", "SmsMessages"),
    },
    # and the xlsx of the policies past their retention end (issue 15 point 5), for the archive
    "Auditor": {**OWN_ACCOUNT, **READ_EVERYTHING, "PolicyView": ("can_list", "can_show", "can_download")},
    "Integration": {
        "PolicyApi": ("can_get",),
        "RevisitTaskApi": ("can_get",),
        "PolicyIntakeApi": ("can_post",),
        "PhoneRevisitApi": ("can_get",),
        "LoanApi": ("can_get", "can_post"),  # the trial calculation (保全试算); the money's arrival, payment results
        "OpenApi": ("can_get",),  # the served spec, for the systems' client generators
    },
}


class RoleDefinitionError(RuntimeError):
    pass


def role_names(user):
    return {r.name for r in getattr(user, "roles", []) or []}


def sync_roles(appbuilder):
    """Write every registered view's permissions and each role's allow-list to the database.

    Admin holds every permission; Public none; the other roles exactly ROLE_PERMISSIONS. A listed
    pair that no view offers is an error (a typo would otherwise grant nothing, silently).
    """
    sm = appbuilder.sm
    sm.add_role(sm.auth_role_admin)
    sm.add_role(sm.auth_role_public)
    appbuilder.add_permissions(update_perms=True)
    sm.security_cleanup(appbuilder.baseviews, appbuilder.menu)
    every = sm.session.query(sm.permissionview_model).all()
    by_pair = {(pv.view_menu.name, pv.permission.name): pv for pv in every}
    wanted = {sm.auth_role_admin: every, sm.auth_role_public: []}
    for role_name, grants in ROLE_PERMISSIONS.items():
        missing = [(view, perm) for view, perms in grants.items() for perm in perms
                   if (view, perm) not in by_pair]
        if missing:
            raise RoleDefinitionError(f"role {role_name}: no such permission {missing}")
        wanted[role_name] = [by_pair[(view, perm)] for view, perms in grants.items() for perm in perms]
    for role_name, pvs in wanted.items():
        role = sm.find_role(role_name) or sm.add_role(role_name)
        role.permissions = list(pvs)
    sm.session.commit()


def role_permissions(sm):
    """{role: {(view, permission), ...}} as the database holds them."""
    return {role.name: {(pv.view_menu.name, pv.permission.name) for pv in role.permissions}
            for role in sm.get_all_roles()}


# --- sign-in -------------------------------------------------------------------------------

def _account_limit():
    from limits import parse

    return parse(current_app.config["ACCOUNT_LOCK_LIMIT"])


def _limiter_storage():
    from app.extensions import limiter

    return limiter.limiter  # the `limits` strategy over the shared storage (Redis when configured)


def account_locked(username):
    """An account is locked after ACCOUNT_LOCK_LIMIT failed sign-ins, from any address."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    return not _limiter_storage().test(_account_limit(), "staff-login-failures", username.lower())


def _count_failure(username):
    if current_app.config.get("RATELIMIT_ENABLED", True):
        _limiter_storage().hit(_account_limit(), "staff-login-failures", username.lower())


def session_stamp(user):
    """A short digest of the password hash: a session signed in under an older password no longer
    matches it, so a password change ends every other session of that user."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, (user.password or "").encode(), hashlib.sha256).hexdigest()[:24]


def _remember_stamp(sender, user, **extra):
    session["auth_stamp"] = session_stamp(user)
    interface = current_app.session_interface
    if hasattr(interface, "regenerate"):  # a new server-side session id at sign-in (no fixation)
        interface.regenerate(session)


class CurrentPasswordForm(DynamicForm):
    """FAB's reset form plus the current password first: a session left open must not be enough
    to change it."""
    current_password = PasswordField(_l("当前密码"), validators=[DataRequired()],
                                     widget=BS3PasswordFieldWidget())
    password = PasswordField(_l("新密码"), validators=[DataRequired(), PasswordComplexityValidator()],
                             widget=BS3PasswordFieldWidget())
    conf_password = PasswordField(_l("确认新密码"), widget=BS3PasswordFieldWidget(), validators=[
        EqualTo("password", message=_l("两次输入的新密码不一致"))])


class PortalResetMyPasswordView(ResetMyPasswordView):
    class_permission_name = "ResetMyPasswordView"
    form = CurrentPasswordForm
    form_title = _l("修改我的密码")
    message = _l("密码已修改,您在其他地方的登录已失效")

    def form_post(self, form):
        user = g.user
        if not check_password_hash(user.password or "", form.current_password.data or ""):
            form.current_password.errors = [str(_l("当前密码不正确,密码未修改"))]
            return self.render_template(self.form_template, title=self.form_title,
                                        widgets=self._get_edit_widget(form=form), appbuilder=self.appbuilder)
        self.appbuilder.sm.reset_password(user.id, form.password.data)
        # this session stays signed in; every other one ends (load_user compares the stamp)
        session["auth_stamp"] = session_stamp(self.appbuilder.sm.get_user_by_id(user.id))
        flash(str(self.message), "info")
        return None


_MENU_CACHE = {}  # PortalSecurityManager.menu_html, per process
# PortalSecurityManager.role_permissions across requests, per process: (role ids + the versions of the
# tables that grant permissions, app/table_versions.py) -> the (permission, view) pairs
_PERMISSIONS_CACHE = {}
PERMISSION_TABLES = ("ab_permission_view_role", "ab_permission_view", "ab_permission", "ab_view_menu",
                     table_versions.ANY, table_versions.EPOCH)


def _remember(cache, key, value, most=64):
    """Keep value under key in a small per-process cache, emptied when it is full (its keys are few: the
    role sets and languages in use)."""
    if len(cache) >= most:
        cache.clear()
    cache[key] = value
    return value


class PortalSecurityManager(SecurityManager):
    resetmypasswordview = PortalResetMyPasswordView

    def register_views(self):
        super().register_views()
        # FAB rate-limits only the login page; the API login gets the same per-address limit
        if self.is_auth_limited:
            api = self.appbuilder.sm.security_api
            blueprint = next((v.blueprint for v in self.appbuilder.baseviews if isinstance(v, api)), None)
            if blueprint is not None:
                self.limiter.limit(self.auth_rate_limit, methods=["POST"])(blueprint)
        user_logged_in.connect(_remember_stamp, weak=False)

    def auth_user_db(self, username, password):
        username = (username or "").strip()
        if not username:
            return None
        if account_locked(username):
            log.warning("sign-in refused: account %r locked after repeated failures", username)
            if not request.path.startswith("/api/"):
                flash(str(_l("该账号登录失败次数过多,已暂时锁定,请稍后再试或联系管理员")), "warning")
            return None
        user = super().auth_user_db(username, password)
        if user is None:
            _count_failure(username)
            return None
        roles = role_names(user)
        # Integration accounts use the REST API only; only the API roles get a token there.
        if request.path.startswith("/api/"):
            return user if roles & API_ROLES else None
        return user if roles & WEB_ROLES else None

    def role_permissions(self, role_ids):
        """The (permission, view) pairs the roles hold, read once a request (FAB asked the database once
        for every menu item and button it draws, some forty queries a list page, issue 14 point 6)."""
        from flask_appbuilder.security.sqla.models import assoc_permissionview_role as granted

        known = request.environ.setdefault("portal.role_permissions", {})
        key = tuple(sorted(role_ids))
        if key not in known:
            versions = table_versions.current()  # unchanged tables: the set this process read before
            kept = key + tuple(versions.get(t, 0) for t in PERMISSION_TABLES) if versions is not None else None
            if kept is not None and kept in _PERMISSIONS_CACHE:
                known[key] = _PERMISSIONS_CACHE[kept]
                return known[key]
            pv, permission, view = self.permissionview_model, self.permission_model, self.viewmenu_model
            known[key] = frozenset(
                self.session.query(permission.name, view.name).select_from(pv)
                .join(granted, pv.id == granted.c.permission_view_id)
                .join(permission, pv.permission_id == permission.id)
                .join(view, pv.view_menu_id == view.id)
                .filter(granted.c.role_id.in_(key)).distinct().all())
            if kept is not None:
                _remember(_PERMISSIONS_CACHE, kept, known[key])
        return known[key]

    def exist_permission_on_roles(self, view_name, permission_name, role_ids):
        if not has_request_context():
            return super().exist_permission_on_roles(view_name, permission_name, role_ids)
        return (permission_name, view_name) in self.role_permissions(role_ids)

    def has_access(self, permission_name, view_name):
        """FAB's, answered once a request for each (permission, view) and user: a list page asks it for
        every row's buttons and every menu item."""
        if not has_request_context():
            return super().has_access(permission_name, view_name)
        user = g.get("user")
        key = (getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None,
               permission_name, view_name)
        answers = request.environ.setdefault("portal.has_access", {})
        if key not in answers:
            answers[key] = super().has_access(permission_name, view_name)
        return answers[key]

    def menu_html(self, render):
        """The navbar's menu for this request's user: rendered once per set of roles, their permissions,
        language and script root in each process, then reused (the menu was a fifth of a list page's
        Python, issue 14 point 6). A change to a role's permissions changes the key, so it shows at once."""
        from flask_babel import get_locale

        roles = self.get_user_roles(g.user) if g.get("user") is not None else [self.get_public_role()]
        roles = [role for role in roles if role is not None]
        key = (tuple(sorted(role.name for role in roles)),
               self.role_permissions([role.id for role in roles if role.name not in self.builtin_roles]),
               str(get_locale()), request.script_root)
        html = _MENU_CACHE.get(key)
        return html if html is not None else _remember(_MENU_CACHE, key, render())

    def load_user(self, pk):
        user = super().load_user(pk)
        stamp = session.get("auth_stamp")
        if user is not None and stamp is not None and not hmac.compare_digest(stamp, session_stamp(user)):
            return None  # signed in under a password that has since changed
        return user
