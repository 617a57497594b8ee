"""受益人变更 (DOMAIN.md section 7; issue 12 points 2-4): which of the customer's policies may change their
beneficiaries, the checks of the new lists and the law's rules, the one application for several policies,
and its approval, which supersedes the old lists (kept, versioned) on every policy at once or on none.

The law (Insurance Law arts. 39-43; the third judicial interpretation arts. 9-11): the policyholder changes
the beneficiaries with the insured's consent (the application waits in CONSENT for each insured); the
insured or the insured's relatives may be named, and for a minor insured whose policyholder is not the
guardian only the guardian; shares not given are equal; a change after the insured event has no effect
(the core system reports a claim through the intake API: Policy.claim_reported_at).

Each operation takes the customer's id and plain values; the view runs it in unit.work(). A policy that is
not the customer's own (as policyholder) is "not found", whatever its id.
"""
import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.extensions import db
from app.models.customer import ID_TYPES
from app.models.policy import BENEFICIARY_KINDS, RELATIONSHIPS, Beneficiary, Policy
from app.models.servicing import ApplicationPolicy, ServicingApplication
from app.services import account, clock, codes, privacy
from app.services.errors import DomainError
from app.services.intake.fields import _person
from app.services.servicing import application as servicing
from app.services.servicing import states

KIND = "BENEFICIARY"
KINDS = ("DEATH", "SURVIVAL")
HUNDRED, CENT = Decimal("100"), Decimal("0.01")
SHARE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,2})?", re.ASCII)
MAX_ROWS = 10  # beneficiaries of one kind
ORDERS = {1: _l("第一顺序"), 2: _l("第二顺序"), 3: _l("第三顺序"), 4: _l("第四顺序"), 5: _l("第五顺序")}
GENDERS = {"M": _l("男"), "F": _l("女")}
ADULT_AGE = 18  # 民法典 art. 17
# a minor insured's guardian: the parents, or another guardian (民法典 arts. 27-28)
GUARDIANS = ("PARENT", "GUARDIAN")
RELATIVES = tuple(key for key in RELATIONSHIPS if key != "OTHER")




def _loans():
    """The loan item's shared pieces (the verified customer, own policy, the code, the trace's check).
    Imported when used: loan_application and consent import dispatch, which imports this module."""
    from app.services import loan_application

    return loan_application


def _verified(customer_id):
    return _loans()._verified(customer_id)


def _check(name, passed, figures):
    return _loans()._check(name, passed, figures)


def send_code(customer_id):
    """获取验证码: the code to the reserved mobile, as for the loan."""
    return _loans().send_code(customer_id)


REFUSALS = {
    "not_in_force": _l("保单不在有效状态"),
    "claim_reported": _l("该保单已报案,保险事故发生后变更受益人不发生效力"),
    "in_progress": _l("该保单有正在办理中的受益人变更申请"),
}


# --- which policies --------------------------------------------------------------------------

@dataclass
class Candidate:
    policy: Policy
    reasons: list  # Chinese reasons it cannot change now; empty when it can


def _in_progress(policy_id):
    """The BENEFICIARY application in progress on this policy (as its first policy or one of several)."""
    linked = select(ApplicationPolicy.application_id).where(ApplicationPolicy.policy_id == policy_id)
    return db.session.execute(select(ServicingApplication).where(
        ServicingApplication.kind == KIND, ServicingApplication.status.in_(states.IN_PROGRESS),
        or_(ServicingApplication.policy_id == policy_id, ServicingApplication.id.in_(linked)))
        .limit(1)).scalar_one_or_none()


def refusals(policy):
    """Why this policy cannot change its beneficiaries now: [Chinese reason]."""
    found = []
    if policy.status != "IN_FORCE":
        found.append(REFUSALS["not_in_force"])
    if policy.claim_reported_at is not None:
        found.append(REFUSALS["claim_reported"])
    if _in_progress(policy.id) is not None:
        found.append(REFUSALS["in_progress"])
    return found


def candidates(customer_id):
    """The customer's policies as policyholder, each with why it cannot change now (if so)."""
    _verified(customer_id)
    return [Candidate(policy, refusals(policy)) for policy in account.policies_of(customer_id)]


def chosen_policies(customer_id, policy_ids):
    """The chosen policies (each the customer's own, or not found), in the order of the list; a policy
    that cannot change now is refused with its reason."""
    _verified(customer_id)
    ids = []
    for value in policy_ids or ():
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise DomainError("servicing_policy_not_found") from None
        if number not in ids:
            ids.append(number)
    if not ids:
        raise DomainError("beneficiary_no_policy")
    policies = [_loans().own_policy(customer_id, number) for number in ids[:20]]
    for policy in policies:
        reasons = refusals(policy)
        if reasons:
            raise DomainError("beneficiary_policy_refused", policy_no=policy.policy_no, reason=str(reasons[0]))
    return policies


def survival_changeable(policies):
    """The 生存受益人 tab: only when every chosen policy's product allows changing it."""
    return bool(policies) and all(p.product.survival_beneficiary_changeable for p in policies)


def current_rows(policies, kind):
    """The first chosen policy's current list of `kind`, as form rows: the customer edits it."""
    if not policies:
        return []
    return [{"name": b.name, "id_type": b.id_type, "id_number": b.id_number, "gender": b.gender,
             "birth_date": b.birth_date.isoformat(), "long_term": b.id_valid_until is None,
             "id_valid_until": b.id_valid_until.isoformat() if b.id_valid_until else "",
             "relationship": b.relationship_to_insured, "order": str(b.order), "share": f"{b.share:.2f}"}
            for b in sorted(policies[0].current_beneficiaries(kind), key=lambda b: (b.order, b.id))]


def lists_differ(policies, kind):
    """Whether the chosen policies hold different current lists of `kind` (the form starts from the first
    policy's, and the page says so: the change makes them all the same)."""
    def key(policy):
        return sorted((b.name, b.id_type, b.id_number, b.relationship_to_insured, b.order, b.share)
                      for b in policy.current_beneficiaries(kind))
    return len({repr(key(policy)) for policy in policies}) > 1


# --- the shares --------------------------------------------------------------------------------

def equal_split(count):
    """受益比例 split equally to the fen, the remainder by the largest-remainder rule: 3 -> 33.34, 33.33,
    33.33 (every exact share is the same, so the first ones get the extra fen)."""
    if count <= 0:
        return []
    base = (HUNDRED / count).quantize(CENT, rounding=ROUND_DOWN)
    extra = int((HUNDRED - base * count) / CENT)
    return [base + CENT if index < extra else base for index in range(count)]


def parse_share(text):
    """A share as typed ("60", "33.34", "60%"), as Decimal with 2 places, or None when empty; raises
    ValueError unless it is a plain number in (0, 100] with at most two decimals (no sign, exponent, NaN)."""
    text = (text or "").strip().rstrip("%").strip()
    if not text:
        return None
    if not SHARE.fullmatch(text):
        raise ValueError(text)
    value = Decimal(text).quantize(CENT)
    if value <= 0 or value > HUNDRED:
        raise ValueError(text)
    return value


# --- the rows ------------------------------------------------------------------------------------

def _label(mapping, key):
    with force_locale("zh"):
        return str(mapping.get(key, key))


def _who(kind, index, name):
    with force_locale("zh"):
        return str(_l("第%(n)s位%(kind)s%(name)s", n=index + 1, kind=BENEFICIARY_KINDS[kind],
                      name=f"({name})" if name else ""))


def _valid_until(row, who, today):
    if row.get("long_term"):
        return None
    text = (row.get("id_valid_until") or "").strip()
    try:
        until = date.fromisoformat(text) if text else None
    except ValueError:
        until = None
    if until is None:
        raise DomainError("beneficiary_id_validity", who=who)
    if until < today:
        raise DomainError("beneficiary_id_expired", who=who, until=until.isoformat())
    return until


def clean_rows(kind, rows, today=None):
    """The typed rows of one kind checked, as the list to store: identity (a resident ID fixes the birth
    date and the gender, which must agree with it), the ID's validity, relationship, order and share;
    empty shares of an order split equally; each order's shares add up to exactly 100."""
    today = today or clock.today()
    rows = [row for row in rows if any(str(row.get(f) or "").strip() for f in ("name", "id_number", "share"))]
    if not rows:
        raise DomainError("beneficiary_none", kind=_label(BENEFICIARY_KINDS, kind))
    if len(rows) > MAX_ROWS:
        raise DomainError("beneficiary_too_many", kind=_label(BENEFICIARY_KINDS, kind), count=MAX_ROWS)
    clean = []
    for index, row in enumerate(rows):
        who = _who(kind, index, (row.get("name") or "").strip()[:20])
        problems = []
        person = _person({"name": row.get("name"), "id_type": row.get("id_type") or "RESIDENT_ID",
                          "id_number": row.get("id_number"), "gender": row.get("gender"),
                          "birth_date": row.get("birth_date")}, "beneficiary", problems, need_mobile=False)
        if problems:
            raise DomainError("beneficiary_row", who=who, problem=problems[0])
        until = _valid_until(row, who, today)
        relationship = row.get("relationship")
        if relationship not in RELATIONSHIPS:
            raise DomainError("beneficiary_relationship_bad", who=who)
        try:
            order = int(row.get("order") or 1)
        except (TypeError, ValueError):
            order = 0
        if order not in ORDERS:
            raise DomainError("beneficiary_order_bad", who=who)
        try:
            share = parse_share(row.get("share"))
        except ValueError:
            raise DomainError("beneficiary_share_bad", who=who) from None
        clean.append({"kind": kind, "name": person["name"], "id_type": person["id_type"],
                      "id_number": person["id_number"], "gender": person["gender"],
                      "birth_date": person["birth_date"], "id_valid_until": until,
                      "relationship_to_insured": relationship, "order": order, "share": share, "who": who})
    for order in sorted({row["order"] for row in clean}):
        group = [row for row in clean if row["order"] == order]
        given = [row["share"] for row in group if row["share"] is not None]
        if not given:  # Insurance Law art. 40: no shares given, equal shares
            for row, share in zip(group, equal_split(len(group))):
                row["share"] = share
        elif len(given) != len(group):
            raise DomainError("beneficiary_share_partly", kind=_label(BENEFICIARY_KINDS, kind),
                              order=_label(ORDERS, order))
        total = sum(row["share"] for row in group)
        if total != HUNDRED:
            raise DomainError("beneficiary_shares_total", kind=_label(BENEFICIARY_KINDS, kind),
                              order=_label(ORDERS, order), total=f"{total:.2f}")
    return sorted(clean, key=lambda row: row["order"])


def age_on(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _minor_without_guardian(policy, today):
    insured = policy.insured
    return (insured.birth_date is not None and age_on(insured.birth_date, today) < ADULT_AGE
            and policy.holder_relationship not in GUARDIANS)


def law_checks(policies, lists, today=None):
    """The law's rules on the new lists for every chosen policy; raises the first refusal (its reason in
    Chinese); returns the rule trace, each check with its figures."""
    today = today or clock.today()
    rows = [row for kind in lists for row in lists[kind]]
    for row in rows:
        if row["relationship_to_insured"] not in RELATIVES:
            raise DomainError("beneficiary_not_relative", who=row["who"])
    for policy in policies:
        for row in rows:
            if row["relationship_to_insured"] == "SELF" and (
                    row["id_number"] != (policy.insured.id_number or "").upper()
                    or row["name"] != policy.insured.name):
                raise DomainError("beneficiary_self_mismatch", who=row["who"], policy_no=policy.policy_no,
                                  insured=policy.insured.name)
        if _minor_without_guardian(policy, today):
            for row in rows:
                if row["relationship_to_insured"] not in GUARDIANS:
                    raise DomainError("beneficiary_minor", insured=policy.insured.name, who=row["who"])
    numbers = "、".join(p.policy_no for p in policies)
    minors = [p for p in policies if _minor_without_guardian(p, today)]
    consents = sorted({p.insured.name for p in policies if p.insured_id != p.holder_id})
    totals = ";".join(f"{_label(BENEFICIARY_KINDS, kind)}{_label(ORDERS, order)} "
                      f"{sum(r['share'] for r in lists[kind] if r['order'] == order):.2f}%"
                      for kind in lists for order in sorted({r["order"] for r in lists[kind]}))
    checks = [
        _check(_l("保单状态"), True, _l("保单 %(numbers)s 均为有效状态", numbers=numbers)),
        _check(_l("保险事故未报案"), True, _l("保单 %(numbers)s 均无报案记录(保险事故发生后变更受益人不发生效力)",
                                      numbers=numbers)),
        _check(_l("无办理中的受益人变更申请"), True, _l("办理中的申请 0 笔")),
        _check(_l("受益比例"), True, _l("同一顺序的受益比例合计 100%%:%(totals)s", totals=totals)),
        _check(_l("受益人与被保险人关系"), True,
               _l("受益人 %(count)s 位,均为被保险人本人或其亲属:%(list)s", count=len(rows),
                  list="、".join(f"{r['name']}({_label(RELATIONSHIPS, r['relationship_to_insured'])})"
                                for r in rows))),
    ]
    if minors:
        checks.append(_check(_l("未成年被保险人的受益人"), True,
                             _l("被保险人 %(names)s 未满18周岁,投保人非监护人:受益人均为其监护人",
                                names="、".join(sorted({p.insured.name for p in minors})))))
    checks.append(_check(
        _l("被保险人同意"), True,
        _l("投保人非被保险人,须经被保险人 %(names)s 书面同意(保险法第41条)", names="、".join(consents))
        if consents else _l("投保人即被保险人,无需另行同意")))
    return checks


# --- stored form ---------------------------------------------------------------------------------

def _as_json(row):
    return {"name": row["name"], "id_type": row["id_type"], "id_number": row["id_number"],
            "gender": row["gender"], "birth_date": row["birth_date"].isoformat(),
            "id_valid_until": row["id_valid_until"].isoformat() if row["id_valid_until"] else None,
            "relationship": row["relationship_to_insured"], "order": row["order"], "share": f"{row['share']:.2f}"}


def new_list(kind, rows, today=None):
    """The typed rows of one kind, checked, as stored and shown (shares filled in)."""
    return [_as_json(row) for row in clean_rows(kind, rows, today)]


def _stored_json(beneficiary):
    return {"name": beneficiary.name, "id_type": beneficiary.id_type, "id_number": beneficiary.id_number,
            "gender": beneficiary.gender, "birth_date": beneficiary.birth_date.isoformat(),
            "id_valid_until": beneficiary.id_valid_until.isoformat() if beneficiary.id_valid_until else None,
            "relationship": beneficiary.relationship_to_insured, "order": beneficiary.order,
            "share": f"{beneficiary.share:.2f}"}


def _signature(rows):
    return sorted((r["name"], r["id_type"], r["id_number"], r["relationship"], int(r["order"]), r["share"])
                  for r in rows)


def check_change(customer_id, policy_ids, lists_typed, today=None):
    """Every check of a change before it is confirmed: the chosen policies, the new lists (only the kinds
    typed; the survival list only when every product allows it) and the law's rules. Returns
    (policies, lists, checks)."""
    today = today or clock.today()
    policies = chosen_policies(customer_id, policy_ids)
    lists = {}
    for kind in KINDS:
        if kind not in lists_typed:
            continue
        if kind == "SURVIVAL" and not survival_changeable(policies):
            raise DomainError("beneficiary_survival_fixed")
        lists[kind] = clean_rows(kind, lists_typed[kind], today)
    checks = law_checks(policies, lists, today)
    if not _links(policies, lists):
        raise DomainError("beneficiary_unchanged")
    return policies, lists, checks


def _links(policies, lists):
    """Per policy, what it holds and what it will hold, for the kinds that change on it."""
    links = []
    for policy in policies:
        before, after = {}, {}
        for kind, rows in lists.items():
            new = [_as_json(row) for row in rows]
            old = [_stored_json(b) for b in sorted(policy.current_beneficiaries(kind), key=lambda b: (b.order, b.id))]
            if _signature(new) != _signature(old):
                before[kind], after[kind] = old, new
        if after:
            links.append((policy, before, after))
    return links


def submitted(customer_id, request_key):
    """This customer's application made by this form render, or None."""
    try:
        return _loans().existing(customer_id, (request_key or "")[:64])
    except DomainError:  # another's key: not this customer's
        return None


def apply_for_change(customer_id, policy_ids, request_key, lists_typed, confirmed, code):
    """Submit a beneficiary change on one or several policies: one application (its policy the first;
    a servicing_application_policy row per policy with before and after), waiting for each insured's
    consent when the policyholder is not the insured, else straight through when every check passes.
    Returns the application (the first one when this form render was already submitted)."""
    customer = _verified(customer_id)
    found = _loans().existing(customer_id, request_key)
    if found is not None:
        return found
    policies, lists, checks = check_change(customer_id, policy_ids, lists_typed)
    if not confirmed:
        raise DomainError("beneficiary_not_confirmed")
    if not (code or "").strip():
        raise DomainError("servicing_code_missing")
    codes.verify(customer.mobile, _loans().CODE_PURPOSE, code)  # consumed last: a refusal never spends it
    links = _links(policies, lists)
    payload = {"policies": [policy.policy_no for policy, _, _ in links],
               "lists": {kind: [_as_json(row) for row in rows] for kind, rows in lists.items()},
               "confirmed_no_more": True, "confirmed_at": clock.now().isoformat(timespec="seconds")}
    needs_consent = any(policy.insured_id != policy.holder_id for policy, _, _ in links)
    application = servicing.submit(KIND, customer.id, links[0][0].id, payload, checks, None, request_key,
                                   needs_consent=needs_consent)
    if application.request_key != request_key or links_of(application):
        return application  # the same render submitted at the same moment: the first one's
    for policy, before, after in links:
        db.session.add(ApplicationPolicy(application_id=application.id, policy_id=policy.id, before=before,
                                         after=after))
    db.session.flush()
    from app.services.servicing import consent  # consent imports dispatch, which imports this module

    if application.status == "CONSENT":
        consent.ask(application, details=consent_lines)  # each insured once (Insurance Law art. 41)
    on_approved(application)  # straight through: changed at once (dispatch's handler of this kind)
    return application


# --- approval ------------------------------------------------------------------------------------

def links_of(application):
    return db.session.execute(select(ApplicationPolicy).where(ApplicationPolicy.application_id == application.id)
                              .order_by(ApplicationPolicy.id)).scalars().all()


def _apply_to(policy, after, application, now):
    """One policy's new lists: the old rows of each kind superseded (kept), the new ones a version up."""
    if policy.claim_reported_at is not None:
        raise DomainError("beneficiary_policy_refused", policy_no=policy.policy_no,
                          reason=_label(REFUSALS, "claim_reported"))
    if policy.status != "IN_FORCE":
        raise DomainError("beneficiary_policy_refused", policy_no=policy.policy_no,
                          reason=_label(REFUSALS, "not_in_force"))
    for kind, rows in after.items():
        old = [b for b in policy.beneficiaries if b.kind == kind]
        version = max([b.version for b in old] or [0]) + 1
        for b in old:
            if b.superseded_at is None:
                b.superseded_at = now
        for row in rows:
            db.session.add(Beneficiary(
                policy_id=policy.id, kind=kind, version=version, name=row["name"], id_type=row["id_type"],
                id_number=row["id_number"], gender=row["gender"], birth_date=date.fromisoformat(row["birth_date"]),
                id_valid_until=date.fromisoformat(row["id_valid_until"]) if row["id_valid_until"] else None,
                relationship_to_insured=row["relationship"], order=int(row["order"]), share=Decimal(row["share"]),
                created_at=now, application_id=application.id))
        db.session.flush()


def on_approved(application):
    """Make the approved change and complete the application (services/servicing/dispatch.py): every
    policy's lists are superseded in one savepoint, so all change or none does (a claim reported since the
    submission refuses the whole application)."""
    if application is None or application.kind != KIND or application.status not in states.APPROVED:
        return None
    links = links_of(application)
    ids = [link.policy_id for link in links]
    # the policies locked in id order (two approvals touching the same policies cannot deadlock)
    locked = {p.id: p for p in db.session.execute(
        select(Policy).where(Policy.id.in_(ids)).order_by(Policy.id).with_for_update()).scalars()}
    now = clock.now()
    with db.session.begin_nested():
        for link in links:
            _apply_to(locked[link.policy_id], link.after or {}, application, now)
    return servicing.complete(application.id)


# --- the slip and the back office ----------------------------------------------------------------

def describe(row):
    """One beneficiary as the slip shows it: "第一顺序 王配偶(配偶) 100.00%"."""
    return (f"{_label(ORDERS, int(row['order']))} {row['name']}"
            f"({_label(RELATIONSHIPS, row['relationship'])}) {Decimal(row['share']):.2f}%")


def describe_list(rows):
    with force_locale("zh"):
        return ";".join(describe(row) for row in rows) if rows else str(_l("无"))


def changes(application):
    """The slip's rows: [{"policy_no", "label", "before", "after"}] (services/slip.py)."""
    found = []
    for link in links_of(application):
        for kind in KINDS:
            if kind in (link.after or {}):
                found.append({"policy_no": link.policy.policy_no, "label": _label(BENEFICIARY_KINDS, kind),
                              "before": describe_list((link.before or {}).get(kind) or []),
                              "after": describe_list(link.after[kind])})
    return found


def effective_on(application):
    """The date the change applies from (the slip states it): the approval day."""
    return application.decided_at.date() if application.decided_at else None


def consent_lines(application, insured_id):
    """What the insured is shown (services/servicing/consent.py): each of their policies in the application
    and its new lists in full."""
    lines = []
    with force_locale("zh"):
        for link in links_of(application):
            if link.policy.insured_id != insured_id:
                continue
            lines.append(str(_l("保单号:%(no)s(%(product)s)", no=link.policy.policy_no,
                                product=link.policy.product.name)))
            for kind in KINDS:
                if kind not in (link.after or {}):
                    continue
                lines.append(str(_l("变更前%(label)s:%(list)s", label=_label(BENEFICIARY_KINDS, kind),
                                    list=describe_list((link.before or {}).get(kind) or []))))
                lines.append(str(_l("变更后%(label)s(共%(count)s位):", label=_label(BENEFICIARY_KINDS, kind),
                                    count=len(link.after[kind]))))
                for row in link.after[kind]:
                    lines.append(str(_l("  %(row)s,%(gender)s,%(id_type)s %(id_no)s,出生日期 %(birth)s",
                                        row=describe(row), gender=_label(GENDERS, row["gender"]),
                                        id_type=_label(ID_TYPES, row["id_type"]),
                                        id_no=privacy.mask_id_number(row["id_number"]), birth=row["birth_date"])))
    return lines


__all__ = ["candidates", "chosen_policies", "survival_changeable", "current_rows", "equal_split", "clean_rows",
           "law_checks", "check_change", "apply_for_change", "on_approved", "changes", "effective_on",
           "consent_lines", "send_code", "new_list", "describe_list", "ORDERS", "GENDERS"]
