"""The endorsement slip (批单, issue 12 point 5): a PDF for every completed servicing application (the loan,
the repayment, the annuity method, the beneficiaries) with the insurer's name, the application number,
the policies, the customer, what changed (before → after), the effective date, the completion time and
the slip's verification code (set by servicing/application.complete) with how to check it.

What changed comes from the item's own module: annuity.changes / beneficiary.changes (rows of
{"policy_no", "label", "before", "after"}), and for the loan and the repayment from their rows here. An
application whose module gives no rows falls back on its policies' stored before/after
(servicing_application_policy). Every value is Chinese text: codes through their labels, never None.
"""
import io
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer

from app.extensions import db
from app.models.customer import GENDERS, ID_TYPES
from app.models.policy import BENEFICIARY_KINDS, RELATIONSHIPS
from app.models.product import ANNUITY_METHODS
from app.models.servicing import (APPLICATION_STATUSES, LOAN_STATUSES, SERVICING_KINDS, LoanRepayment,
                                  PolicyLoan)
from app.services import annuity, beneficiary, pdf
from app.services.errors import DomainError
from app.services.servicing import application as servicing

NONE = "—"
# the items whose own module says what changed (the loan and the repayment are read here)
CHANGES_OF = {"ANNUITY_METHOD": annuity, "BENEFICIARY": beneficiary}
# the keys of a stored before/after, in Chinese (the fallback when a module gives no rows)
FIELD_LABELS = {
    "annuity_method": _l("年金领取方式"), "method": _l("年金领取方式"), "universal_account_no": _l("万能账户"),
    "effective_on": _l("生效日期"), "DEATH": _l("身故受益人"), "SURVIVAL": _l("生存受益人"),
    "death": _l("身故受益人"), "survival": _l("生存受益人"), "beneficiaries": _l("受益人"),
    "name": _l("姓名"), "relationship_to_insured": _l("与被保险人关系"), "relationship": _l("与被保险人关系"),
    "order": _l("受益顺序"), "share": _l("受益比例"), "id_type": _l("证件类型"), "gender": _l("性别"),
}
CODE_LABELS = {**ANNUITY_METHODS, **RELATIONSHIPS, **BENEFICIARY_KINDS}


class SlipNotReady(DomainError):
    """The application is not completed: it has no slip yet (a 409 with a Chinese message)."""

    def __init__(self, state):
        super().__init__("slip_not_ready", state=state)

    @property
    def status(self):
        return 409

    @property
    def message(self):
        return str(_l("该申请尚未办结(当前状态:%(state)s),办结后即可下载批单。", state=self.params["state"]))


def ready(application):
    return application is not None and application.status == "COMPLETED"


# --- what changed --------------------------------------------------------------------------------

def _money(value):
    if value is None or value == "":
        return NONE
    try:
        return f"{Decimal(str(value)):.2f} 元"
    except (InvalidOperation, ValueError):
        return str(value)


def _rate(value):
    if value is None or value == "":
        return NONE
    try:
        return f"{Decimal(str(value)) * 100:.2f}%"
    except (InvalidOperation, ValueError):
        return str(value)


def _day(value):
    if value is None or value == "":
        return NONE
    if isinstance(value, (date, datetime)):
        return f"{value:%Y-%m-%d}"
    return str(value)[:10]


def policy_nos(application):
    """The policy numbers the application changed: its policies' links, else its one policy."""
    links = sorted(getattr(application, "policy_links", None) or [], key=lambda link: link.id or 0)
    found = [link.policy.policy_no for link in links if link.policy is not None]
    if not found and application.policy is not None:
        found = [application.policy.policy_no]
    return found


def _loan_of(application):
    return db.session.query(PolicyLoan).filter_by(application_id=application.id).one_or_none()


def _loan_rows(application):
    payload, loan = application.payload or {}, _loan_of(application)
    policy_no = application.policy.policy_no if application.policy else NONE
    principal = loan.principal if loan else payload.get("amount")
    duty = loan.stamp_duty if loan else payload.get("stamp_duty")
    credited = loan.credited_amount if loan else payload.get("credited_amount")
    rate = loan.annual_rate if loan else payload.get("annual_rate")
    account = payload.get("account") if isinstance(payload.get("account"), dict) else {}
    payee = " ".join(str(account[k]) for k in ("bank_name", "card_masked") if account.get(k)) or NONE
    rows = [(_l("贷款本金"), NONE, _money(principal)), (_l("印花税"), NONE, _money(duty)),
            (_l("实际入账金额"), NONE, _money(credited)), (_l("贷款年利率"), NONE, _rate(rate)),
            (_l("收款账户"), NONE, payee)]
    if loan is not None:
        rows += [(_l("到账日"), NONE, _day(loan.disbursed_on)), (_l("到期日"), NONE, _day(loan.due_on)),
                 (_l("贷款状态"), NONE, str(LOAN_STATUSES.get(loan.status, loan.status)))]
    return [{"policy_no": policy_no, "label": str(label), "before": before, "after": after}
            for label, before, after in rows]


def _repayments_of(application):
    return db.session.query(LoanRepayment).filter_by(application_id=application.id, result="PAID") \
        .order_by(LoanRepayment.paid_at, LoanRepayment.id).all()


def _repayment_rows(application):
    payload = application.payload or {}
    policy_no = application.policy.policy_no if application.policy else NONE
    paid = _repayments_of(application)
    if paid:
        amount = sum((r.amount for r in paid), Decimal("0"))
        interest = sum((r.interest_part for r in paid), Decimal("0"))
        principal = sum((r.principal_part for r in paid), Decimal("0"))
        loans = {r.loan_id: r.loan for r in paid}
        after = sum((loan.outstanding_principal for loan in loans.values()), Decimal("0"))
        before = after + principal
    else:
        amount, interest, principal = payload.get("amount"), payload.get("interest_part"), payload.get("principal_part")
        after = payload.get("principal_after")
        try:
            before = Decimal(str(after)) + Decimal(str(principal))
        except (InvalidOperation, ValueError, TypeError):
            before = None
    rows = [(_l("还款金额"), NONE, _money(amount)), (_l("利息部分"), NONE, _money(interest)),
            (_l("本金部分"), NONE, _money(principal)), (_l("剩余本金"), _money(before), _money(after))]
    return [{"policy_no": policy_no, "label": str(label), "before": b, "after": a} for label, b, a in rows]


def _text(value, key=None):
    """A stored before/after value as Chinese text: codes through their labels, never None or a repr."""
    if value is None or value == "" or value == [] or value == {}:
        return NONE
    if isinstance(value, bool):
        return str(_l("是") if value else _l("否"))
    if isinstance(value, (int, float, Decimal)) and key == "share":
        return f"{Decimal(str(value)):.2f}%"
    if isinstance(value, list):
        return ";".join(_text(item, key) for item in value)
    if isinstance(value, dict):
        if "name" in value:  # a beneficiary
            parts = [str(value["name"])]
            if value.get("relationship_to_insured") or value.get("relationship"):
                code = value.get("relationship_to_insured") or value.get("relationship")
                parts.append(str(RELATIONSHIPS.get(code, code)))
            if value.get("id_type"):
                parts.append(str(ID_TYPES.get(value["id_type"], value["id_type"])))
            if value.get("gender"):
                parts.append(str(GENDERS.get(value["gender"], value["gender"])))
            if value.get("order") not in (None, ""):
                parts.append(str(_l("第%(order)s顺序", order=value["order"])))
            if value.get("share") not in (None, ""):
                parts.append(_text(str(value["share"]).rstrip("%") + "%"))
            return " ".join(parts)
        return ";".join(f"{FIELD_LABELS.get(k, k)} {_text(v, k)}" for k, v in value.items())
    if key == "share":
        return str(value) if str(value).endswith("%") else f"{value}%"
    text = str(value)
    return str(CODE_LABELS.get(text, text))


def _link_rows(application):
    """The stored before/after of each policy: one row a key when both are dicts, else one row."""
    rows, item = [], str(SERVICING_KINDS.get(application.kind, application.kind))
    for link in sorted(getattr(application, "policy_links", None) or [], key=lambda link: link.id or 0):
        policy_no = link.policy.policy_no if link.policy else NONE
        before, after = link.before, link.after
        if isinstance(before, dict) and isinstance(after, dict) and "name" not in after:
            for key in list(dict.fromkeys([*before, *after])):
                rows.append({"policy_no": policy_no, "label": str(FIELD_LABELS.get(key, key)),
                             "before": _text(before.get(key), key), "after": _text(after.get(key), key)})
        else:
            rows.append({"policy_no": policy_no, "label": item, "before": _text(before), "after": _text(after)})
    return rows


def _clean(row):
    return {"policy_no": str(row.get("policy_no") or NONE), "label": str(row.get("label") or NONE),
            "before": _text(row.get("before")), "after": _text(row.get("after"))}


def changes(application):
    """What the application changed: [{"policy_no", "label", "before", "after"}], Chinese text."""
    with force_locale("zh"):
        if application.kind == "POLICY_LOAN":
            return _loan_rows(application)
        if application.kind == "LOAN_REPAYMENT":
            return _repayment_rows(application)
        module = CHANGES_OF.get(application.kind)
        rows = module.changes(application) if module is not None else []
        return [_clean(row) for row in rows] if rows else _link_rows(application)


def effective_on(application):
    """The day the change applies from: the item's own answer, the loan's arrival, the repayment's day,
    else the completion day."""
    found = None
    module = CHANGES_OF.get(application.kind)
    if module is not None:
        found = module.effective_on(application)
    elif application.kind == "POLICY_LOAN":
        loan = _loan_of(application)
        found = loan.disbursed_on if loan is not None else None
    elif application.kind == "LOAN_REPAYMENT":
        paid = _repayments_of(application)
        found = paid[-1].paid_at.date() if paid else None
    if isinstance(found, datetime):
        found = found.date()
    if found is None and application.completed_at is not None:
        found = application.completed_at.date()
    return found


def by_policy(rows):
    """The rows grouped by policy number, in their order: [(policy_no, [row, ...])]."""
    grouped = {}
    for row in rows:
        grouped.setdefault(row["policy_no"], []).append(row)
    return list(grouped.items())


# --- the PDF -------------------------------------------------------------------------------------

def slip_pdf(application_id):
    """The slip of a COMPLETED application, as PDF bytes; SlipNotReady before that."""
    application = servicing.get(application_id)
    with force_locale("zh"):
        if not ready(application):
            raise SlipNotReady(str(APPLICATION_STATUSES.get(application.status, application.status)))
        return _build(application)


def file_name(application):
    return f"slip-{application.application_no}.pdf"


def _lines(style, text):
    """A cell with one line a person (a list's items are joined by ;)."""
    parts = [part for part in str(text).split(";") if part] or [NONE]
    return pdf.para(style, "<br/>".join("{p%d}" % i for i in range(len(parts))),
                    **{f"p{i}": part for i, part in enumerate(parts)})


def _build(application):
    st, company = pdf.styles(), pdf.company()
    hotline = current_app.config["HOTLINE"]
    item = str(SERVICING_KINDS.get(application.kind, application.kind))
    rows = changes(application)
    policies = policy_nos(application)
    effective = effective_on(application)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=f"批单 {application.application_no}", author=company)
    customer = application.customer
    head = [["申请编号", application.application_no], ["保险单号", "、".join(policies) or NONE],
            ["申请人", customer.name if customer else NONE], ["保全项目", item],
            ["生效日期", _day(effective)],
            ["办结时间", f"{application.completed_at:%Y-%m-%d %H:%M}" if application.completed_at else NONE]]
    story = [pdf.para(st["title"], "{company}<br/>批单", company=company),
             pdf.para(st["body"], "兹经{customer}申请,本公司已办结下列保全变更,特此批注。本批单为保险合同的组成部分。",
                      customer=customer.name if customer else ""),
             Spacer(1, 3 * mm),
             pdf.grid([[k, pdf.para(st["body"], "{v}", v=v)] for k, v in head], [30 * mm, 140 * mm], header=False),
             pdf.para(st["h2"], "变更内容")]
    table = [["保险单号", "变更项目", "变更前", "变更后"]]
    for row in rows:
        table.append([pdf.para(st["body"], "{v}", v=row["policy_no"]), pdf.para(st["body"], "{v}", v=row["label"]),
                      _lines(st["body"], row["before"]), _lines(st["body"], row["after"])])
    if not rows:
        table.append(["", item, NONE, NONE])
    story += [pdf.grid(table, [38 * mm, 30 * mm, 51 * mm, 51 * mm]), Spacer(1, 5 * mm),
              pdf.para(st["body"], "本批单所载变更自 {effective} 起生效。", effective=_day(effective)),
              pdf.para(st["body"], "批单验证码:{code}", code=application.slip_code or NONE),
              pdf.para(st["small"], "如需核验本批单的真伪,请致电客服热线 {hotline},提供申请编号 {no} 与批单验证码。",
                       hotline=hotline, no=application.application_no),
              Spacer(1, 3 * mm),
              pdf.para(st["small"], "{company}(电子批单,无需盖章)", company=company)]
    doc.build(story)
    return buf.getvalue()


__all__ = ["changes", "effective_on", "by_policy", "policy_nos", "slip_pdf", "file_name", "ready", "SlipNotReady"]
