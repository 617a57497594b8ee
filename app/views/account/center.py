"""个人中心: the customer's policies, applications, pending e-revisits and servicing items."""
from flask import current_app, g, render_template, session, url_for
from flask_babel import gettext as _

from app.forms.account import SignOutForm
from app.models.customer import AUTH_STATUSES
from app.models.policy import PAYMENT_MODES, POLICY_STATUSES
from app.models.servicing import APPLICATION_STATUSES, SERVICING_KINDS
from app.services import account
from app.services import loan_application
from app.services.servicing.application import failed_checks
from app.views.account.base import (SERVICE_ITEMS, SESSION_PHONE, _message, _not_found, account_required, bp,
                                    customer_required)


# 保全项目 open today, and their first page
OPEN_ITEMS = {"POLICY_LOAN": ".loan_list", "LOAN_REPAYMENT": ".repayment_list"}


@bp.route("/")
@account_required
def center():
    customer = g.customer
    data = {"customer": customer, "steps": account.auth_steps(customer.id if customer else None),
            "service_items": [(kind, SERVICING_KINDS[kind]) for kind in SERVICE_ITEMS],
            "auth_statuses": AUTH_STATUSES, "policy_statuses": POLICY_STATUSES,
            "application_statuses": APPLICATION_STATUSES, "servicing_kinds": SERVICING_KINDS,
            "signout_form": SignOutForm(), "phone": session.get(SESSION_PHONE)}
    if customer is not None:
        applications = account.applications_of(customer.id)
        data.update(policies=account.policies_of(customer.id),
                    applications=applications,
                    application_steps={a.id: loan_application.steps(a) for a in applications},
                    application_to_do={a.id: loan_application.to_do(a) for a in applications},
                    revisits=account.pending_revisits(customer.id))
    return render_template("account/center.html", **data)


@bp.route("/policy/<int:policy_id>")
@customer_required
def policy_detail(policy_id):
    policy = account.policy_of(g.customer.id, policy_id)
    if policy is None:
        return _not_found()
    return render_template("account/policy.html", policy=policy, policy_statuses=POLICY_STATUSES,
                           payment_modes=PAYMENT_MODES)


@bp.route("/application/<int:application_id>")
@customer_required
def application_detail(application_id):
    application = account.application_of(g.customer.id, application_id)
    if application is None:
        return _not_found()
    return render_template("account/application.html", application=application,
                           application_statuses=APPLICATION_STATUSES, servicing_kinds=SERVICING_KINDS,
                           steps=loan_application.steps(application), to_do=loan_application.to_do(application),
                           failed=failed_checks(application))


@bp.route("/service/<kind>")
@account_required
def service_item(kind):
    if kind not in SERVICE_ITEMS:
        return _not_found()
    if g.customer is None or g.customer.auth_status != "VERIFIED":
        return _message(SERVICING_KINDS[kind], _("办理保全项目前,需要先完成账户认证(保单绑定、人脸识别、设置服务密码)。"),
                        status="warn", code=403, actions=[(url_for(".authenticate"), _("请认证"))])
    if kind in OPEN_ITEMS:  # the item's first page itself (views/account/loan.py)
        return current_app.view_functions["account" + OPEN_ITEMS[kind]]()
    return _message(SERVICING_KINDS[kind], _("该项目即将开放,敬请期待。如需办理请致电客服%(hotline)s。",
                                             hotline=current_app.config["HOTLINE"]),
                    actions=[(url_for(".center"), _("返回个人中心"))])
