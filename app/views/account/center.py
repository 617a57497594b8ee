"""个人中心: the customer's policies, applications, pending e-revisits and servicing items."""
from flask import current_app, g, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.forms.account import SignOutForm
from app.models.customer import AUTH_STATUSES
from app.models.policy import (BENEFICIARY_KINDS, PAYMENT_FREQUENCIES, PAYMENT_MODES, POLICY_STATUSES,
                               RELATIONSHIPS)
from app.models.servicing import APPLICATION_STATUSES, LOAN_STATUSES, SERVICING_KINDS
from app.services import account, annuity, beneficiary, clock, loan, privacy
from app.services.money import to_money
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
    """保单详情: the policy's figures, its beneficiaries (names masked), its loans and the 保全项目 it can take."""
    policy = account.policy_of(g.customer.id, policy_id)
    if policy is None:
        return _not_found()
    return render_template("account/policy.html", policy=policy, rows=_policy_rows(policy),
                           beneficiaries=_beneficiary_groups(policy), loans=_loan_rows(policy),
                           items=_policy_items(policy, g.customer))


def _money(value):
    return _("%(amount)s 元", amount=f"{to_money(value or 0):,.2f}")


def _day(value):
    return value.isoformat() if value else ""


def _payment(policy):
    """期交 · 年交 · 10年, or 趸交."""
    parts = [str(PAYMENT_MODES.get(policy.payment_mode, policy.payment_mode or ""))]
    if policy.payment_mode == "REGULAR":
        if policy.payment_frequency:
            parts.append(str(PAYMENT_FREQUENCIES.get(policy.payment_frequency, policy.payment_frequency)))
        if policy.payment_years:
            parts.append(_("%(years)s年", years=policy.payment_years))
    return " · ".join(part for part in parts if part)


def _payment_status(policy):
    """已缴清 (single premium, or no premium due any more), or the next due date."""
    if policy.payment_mode == "REGULAR" and policy.next_due_date:
        return _("待缴费,下次缴费日 %(day)s", day=_day(policy.next_due_date))
    return _("已缴清")


def _policy_rows(policy):
    """(label, value, key) of the policy's figures, every code through its Chinese label."""
    rows = [
        (_("保险单号"), policy.policy_no, "policy_no"),
        (_("产品"), policy.product.name if policy.product else "", "product"),
        (_("投保人姓名"), policy.holder.name, "holder"),
        (_("被保险人姓名"), policy.insured.name, "insured"),
        (_("保单状态"), str(POLICY_STATUSES.get(policy.status, policy.status)), "status"),
        (_("承保日期"), _day(policy.issue_date), "issue_date"),
    ]
    if policy.effective_date:
        rows.append((_("保单生效日"), _day(policy.effective_date), "effective_date"))
    rows += [
        (_("保费"), _money(policy.premium), "premium"),
        (_("基本保额"), _money(policy.sum_assured), "sum_assured"),
        (_("缴费方式"), _payment(policy), "payment"),
        (_("缴费状态"), _payment_status(policy), "payment_status"),
        (_("现金价值"), _money(policy.cash_value), "cash_value"),
    ]
    if policy.cash_value_date:
        rows.append((_("现金价值计算日"), _day(policy.cash_value_date), "cash_value_date"))
    if annuity.is_annuity(policy):
        method = annuity.method_label(policy.annuity_method)
        if policy.annuity_method_from:
            method = _("%(method)s(自 %(day)s 起)", method=method, day=_day(policy.annuity_method_from))
        rows.append((_("年金领取方式"), method, "annuity_method"))
    return rows


ORDER_NAMES = {1: _l("第一顺序"), 2: _l("第二顺序"), 3: _l("第三顺序")}


def _beneficiary_groups(policy):
    """[(kind label, [{name, relationship, order, share}])] of the current lists; no death beneficiary
    named: 法定继承人."""
    groups = []
    for kind, label in BENEFICIARY_KINDS.items():
        people = sorted(policy.current_beneficiaries(kind), key=lambda b: (b.order, b.id))
        if not people and kind != "DEATH":
            continue
        groups.append((label, [{
            "name": _("法定继承人") if person.is_legal_heirs else privacy.mask_name(person.name),
            "relationship": str(RELATIONSHIPS.get(person.relationship_to_insured,
                                                  person.relationship_to_insured or "")),
            "order": str(ORDER_NAMES.get(person.order) or _("第%(n)s顺序", n=person.order)),
            "share": f"{to_money(person.share):.2f}%",
        } for person in people]))
    return groups


def _loan_rows(policy):
    """The policy's unpaid loans (services/loan.py balances, read-only): status, unpaid principal,
    interest to today, due date."""
    rows = []
    for balance in loan.balances(policy.id, clock.today()):
        rows.append({
            "status": str(LOAN_STATUSES.get(balance.status, balance.status)),
            "principal": _money(balance.principal),
            "interest": _money(balance.interest) if balance.interest_from else "",
            "due_on": _day(balance.due_on) if balance.due_on else _("放款到账后确定"),
            "arrived": balance.interest_from is not None,
        })
    return rows


def _item_applies(kind, policy):
    if kind == "POLICY_LOAN":
        return not loan.refusals(policy)
    if kind == "LOAN_REPAYMENT":
        return any(b.interest_from is not None for b in loan.balances(policy.id, clock.today()))
    if kind == "ANNUITY_METHOD":
        return annuity.is_annuity(policy) and not annuity.refusals(policy)
    if kind == "BENEFICIARY":
        return not beneficiary.refusals(policy)
    return False


def _policy_items(policy, customer):
    """The open 保全项目 (OPEN_ITEMS) this policy can take now, each linking to the item's first page
    (before 已认证: the page that asks to authenticate first)."""
    verified = customer.auth_status == "VERIFIED"
    items = []
    for kind in SERVICE_ITEMS:
        if kind in OPEN_ITEMS and _item_applies(kind, policy):
            url = url_for("account" + OPEN_ITEMS[kind]) if verified else url_for(".service_item", kind=kind)
            items.append((kind, SERVICING_KINDS[kind], url))
    return items


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
