"""Intake of issued policies from the core system: REST API and operators' file import share it.

Idempotent on the policy number: a policy already on file with the same data is `unchanged`,
with different data `updated`, otherwise `created` (and its revisit task is created). Every
field is validated here; one bad row rejects the whole batch and nothing is written.
"""
import contextlib
import csv
import io
import re
import uuid
import zipfile
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.customer import GENDERS, ID_TYPES, Customer
from app.models.policy import (BENEFICIARY_KINDS, CHANNELS, PAYMENT_FREQUENCIES, PAYMENT_MODES,
                               POLICY_STATUSES, RELATIONSHIPS, Beneficiary, Policy)
from app.models.product import Product
from app.services import audit, clock, revisit, unit, validation
from app.services.errors import DomainError

MAX_ROWS = 5000
MAX_FILE_BYTES = 10 * 2 ** 20
MAX_UNPACKED_BYTES = 64 * 2 ** 20  # an .xlsx's parts, unzipped (5,000 full rows take about 10 MB)
MAX_COLUMNS = 200
MAX_BLANK_ROWS = 1000  # empty lines Excel keeps below the data
POLICY_NO = re.compile(r"^[0-9A-Za-z]{8,32}$", re.ASCII)
CUSTOMER_NO = re.compile(r"^[0-9A-Za-z-]{1,32}$", re.ASCII)  # customer.customer_no is VARCHAR(32)
EARLIEST_ISSUE_DATE = date(1990, 1, 1)  # no policy on file predates the company's records

LABELS = {
    "policy_no": _l("保险单号"), "product_code": _l("产品代码"), "issue_date": _l("承保日期"),
    "receipt_signed_date": _l("回执签收日"), "effective_date": _l("生效日期"), "status": _l("保单状态"),
    "channel": _l("销售渠道"), "premium": _l("保费"), "payment_mode": _l("缴费方式"),
    "payment_frequency": _l("缴费频率"), "payment_years": _l("缴费年期"), "next_due_date": _l("下次缴费日"),
    "sum_assured": _l("保额"), "cash_value": _l("现金价值"),
    "holder": _l("投保人"), "insured": _l("被保险人"), "beneficiary": _l("受益人"),
    "name": _l("姓名"), "gender": _l("性别"), "birth_date": _l("出生日期"), "id_type": _l("证件类型"),
    "id_number": _l("证件号码"), "mobile": _l("手机号"), "kind": _l("受益人类型"),
    "relationship": _l("与被保险人关系"), "order": _l("受益顺序"), "share": _l("受益比例"),
    "id_valid_until": _l("证件有效期"), "customer_no": _l("客户号"), "customer": _l("客户"),
}

# File columns: English keys or the Chinese headers operators use.
FILE_COLUMNS = {
    "policy_no": "保险单号", "product_code": "产品代码", "issue_date": "承保日期",
    "receipt_signed_date": "回执签收日", "effective_date": "生效日期", "status": "保单状态",
    "channel": "销售渠道", "premium": "保费", "payment_mode": "缴费方式", "payment_frequency": "缴费频率",
    "payment_years": "缴费年期", "next_due_date": "下次缴费日", "sum_assured": "保额", "cash_value": "现金价值",
    "holder_name": "投保人姓名", "holder_gender": "投保人性别", "holder_birth_date": "投保人出生日期",
    "holder_id_type": "投保人证件类型", "holder_id_number": "投保人证件号码", "holder_mobile": "投保人手机号",
    "insured_name": "被保险人姓名", "insured_gender": "被保险人性别", "insured_birth_date": "被保险人出生日期",
    "insured_id_type": "被保险人证件类型", "insured_id_number": "被保险人证件号码",
    "insured_mobile": "被保险人手机号",
}
# Beneficiaries: up to FILE_BENEFICIARIES of them a row, each in the columns 受益人<n>类型,
# 受益人<n>姓名, ... (beneficiary<n>_kind, beneficiary<n>_name, ...). No beneficiary columns, or
# all of them empty, leaves a policy's beneficiaries as they are (法定 for a new policy).
FILE_BENEFICIARIES = 5
BENEFICIARY_COLUMNS = {
    "kind": "类型", "name": "姓名", "gender": "性别", "birth_date": "出生日期", "id_type": "证件类型",
    "id_number": "证件号码", "id_valid_until": "证件有效期", "relationship": "与被保险人关系",
    "order": "受益顺序", "share": "受益比例",
}
# the import page lists these and says beneficiaries 2 to FILE_BENEFICIARIES repeat beneficiary 1's
LISTED_COLUMNS = {**FILE_COLUMNS, **{f"beneficiary1_{key}": f"受益人1{label}" for key, label in BENEFICIARY_COLUMNS.items()}}
for _n in range(1, FILE_BENEFICIARIES + 1):
    FILE_COLUMNS.update({f"beneficiary{_n}_{key}": f"受益人{_n}{label}" for key, label in BENEFICIARY_COLUMNS.items()})
REQUIRED_COLUMNS = ("policy_no", "product_code", "issue_date", "premium", "payment_mode", "sum_assured",
                    "holder_name", "holder_id_number", "holder_mobile")


class IntakeRejected(DomainError):
    """The batch was refused; `errors` lists each bad row: {"line", "policy_no", "errors": [...]}."""

    def __init__(self, errors):
        super().__init__("intake_rejected", count=len(errors))
        self.errors = errors


class RowErrors(Exception):
    pass


# --- parsing one field --------------------------------------------------------------------------

def _text(value):
    """Every field passes here first: NFKC-folded (full-width digits become ASCII), stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return validation.normalize_text(value)


def _chinese(label):
    """A lazy label as written in files (Chinese), whatever language the operator's page is in."""
    from flask_babel import force_locale

    with force_locale("zh"):
        return str(label)


def _choice(value, mapping, field, errors, required=True, default=None):
    """Accept the code (IN_FORCE) or its Chinese label (保单有效)."""
    text = _text(value)
    if not text:
        if required and default is None:
            errors.append(DomainError("field_required", field=LABELS[field]).message)
        return default
    if text.upper() in mapping:
        return text.upper()
    for code, label in mapping.items():
        if text == _chinese(label) or text == str(label):
            return code
    errors.append(DomainError("field_bad_choice", field=LABELS[field], value=text).message)
    return None


def _date(value, field, errors, required=True):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        if required:
            errors.append(DomainError("field_required", field=LABELS[field]).message)
        return None
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    errors.append(DomainError("field_bad_date", field=LABELS[field], value=text).message)
    return None


def _money(value, field, errors, required=True, positive=True):
    text = _text(value)
    if not text:
        if required:
            errors.append(DomainError("field_required", field=LABELS[field]).message)
        return None
    amount = validation.parse_amount(text)  # digits and up to 2 decimals: no 1e30, 1,2,3, NaN
    if amount is None or (positive and amount == 0):
        errors.append(DomainError("field_bad_money", field=LABELS[field], value=text).message)
        return None
    return amount


def _int(value, field, errors, required=True, low=1, high=100):
    text = _text(value)
    if not text:
        if required:
            errors.append(DomainError("field_required", field=LABELS[field]).message)
        return None
    if not re.fullmatch(r"[0-9]{1,4}", text, re.ASCII) or not low <= int(text) <= high:
        errors.append(DomainError("field_bad_int", field=LABELS[field], value=text).message)
        return None
    return int(text)


def _person(data, role, errors, need_mobile):
    """Validate a holder / insured / beneficiary's identity fields; returns a clean dict."""
    who = LABELS[role]
    data = data if isinstance(data, dict) else {}
    local = []
    name = _text(data.get("name"))
    problem = validation.name_problem(name)
    if problem:
        local.append(DomainError(problem, field=f"{who}{LABELS['name']}").message)
    customer_no = _text(data.get("customer_no")) or None
    if customer_no and not CUSTOMER_NO.match(customer_no):
        local.append(DomainError("field_too_long" if len(customer_no) > 32 else "field_bad_chars",
                                 field=f"{who}{LABELS['customer_no']}").message)
    id_type = _choice(data.get("id_type"), ID_TYPES, "id_type", local, default="RESIDENT_ID")
    id_number = _text(data.get("id_number")).upper()
    if not id_number:
        local.append(DomainError("field_required", field=f"{who}{LABELS['id_number']}").message)
    elif id_type and not validation.id_document_valid(id_type, id_number):
        local.append(DomainError("field_bad_id", field=f"{who}{LABELS['id_number']}", value=id_number).message)
    resident = id_type in ("RESIDENT_ID", "HOUSEHOLD", "HMT_PERMIT") and validation.resident_id_valid(id_number)
    birth = _date(data.get("birth_date"), "birth_date", local, required=not resident)
    gender = _choice(data.get("gender"), GENDERS, "gender", local, required=not resident)
    if resident:
        id_birth, id_gender = validation.resident_id_birth_date(id_number), validation.resident_id_gender(id_number)
        if birth and birth != id_birth:
            local.append(DomainError("id_birth_mismatch", field=who).message)
        if gender and gender != id_gender:
            local.append(DomainError("id_gender_mismatch", field=who).message)
        birth, gender = birth or id_birth, gender or id_gender
    mobile = None
    if need_mobile or _text(data.get("mobile")):
        mobile = validation.normalize_mobile(_text(data.get("mobile")))
        if mobile is None:
            local.append(DomainError("field_bad_mobile", field=f"{who}{LABELS['mobile']}",
                                     value=_text(data.get("mobile"))).message)
    errors.extend(f"{who}:{m}" if not m.startswith(str(who)) else m for m in local)
    return dict(name=name, id_type=id_type, id_number=id_number, birth_date=birth, gender=gender,
                mobile=mobile, customer_no=customer_no)


def check_customer(fields, customer_id=None):
    """An operator's add or edit of a customer in the admin, by the same rules as intake (NFKC,
    ID check digit, birth date and gender from a resident ID, mobile format, name characters) and
    never a second customer for one ID document or one customer number. Returns the clean fields;
    DomainError naming every problem."""
    errors = []
    clean = _person(fields, "customer", errors, need_mobile=True)  # 预留手机号 is required
    # the edited row is already changed in the session: look at the others without flushing it
    with db.session.no_autoflush:
        return _unique_customer(clean, errors, customer_id)


def _unique_customer(clean, errors, customer_id):
    others = db.session.query(Customer).filter(Customer.id != (customer_id or 0))
    if clean["id_type"] and clean["id_number"]:
        same = others.filter(Customer.id_type == clean["id_type"], Customer.id_number == clean["id_number"]).first()
        if same is not None:
            errors.append(DomainError("customer_id_taken", value=clean["id_number"],
                                      customer_no=same.customer_no).message)
    if clean["customer_no"] and others.filter(Customer.customer_no == clean["customer_no"]).first() is not None:
        errors.append(DomainError("customer_no_taken", field=LABELS["customer_no"], value=clean["customer_no"]).message)
    if errors:
        raise DomainError("customer_invalid", problems=";".join(errors))
    return clean


def validate_row(raw, products):
    """One reported policy -> (clean dict, list of Chinese error messages)."""
    errors = []
    if not isinstance(raw, dict):
        return None, [DomainError("intake_bad_row").message]
    row = {}
    policy_no = _text(raw.get("policy_no"))
    if not policy_no:
        errors.append(DomainError("field_required", field=LABELS["policy_no"]).message)
    elif not POLICY_NO.match(policy_no):
        errors.append(DomainError("field_bad_policy_no", value=policy_no).message)
    row["policy_no"] = policy_no
    code = _text(raw.get("product_code")).upper()
    product = products.get(code)
    if not code:
        errors.append(DomainError("field_required", field=LABELS["product_code"]).message)
    elif product is None:
        errors.append(DomainError("product_unknown", code=code).message)
    row["product"] = product
    row["issue_date"] = _date(raw.get("issue_date"), "issue_date", errors)
    row["receipt_signed_date"] = _date(raw.get("receipt_signed_date"), "receipt_signed_date", errors, False)
    row["effective_date"] = _date(raw.get("effective_date"), "effective_date", errors, False)
    if row["issue_date"] and row["issue_date"] > clock.today():
        errors.append(DomainError("issue_date_future").message)
    if row["issue_date"] and row["issue_date"] < EARLIEST_ISSUE_DATE:
        errors.append(DomainError("issue_date_too_early", date=EARLIEST_ISSUE_DATE.isoformat()).message)
    if row["issue_date"] and row["receipt_signed_date"] and row["receipt_signed_date"] < row["issue_date"]:
        errors.append(DomainError("receipt_before_issue").message)
    row["status"] = _choice(raw.get("status"), POLICY_STATUSES, "status", errors, default="IN_FORCE")
    row["channel"] = _choice(raw.get("channel"), CHANNELS, "channel", errors, default="OFFLINE")
    row["premium"] = _money(raw.get("premium"), "premium", errors)
    row["sum_assured"] = _money(raw.get("sum_assured"), "sum_assured", errors)
    row["cash_value"] = _money(raw.get("cash_value"), "cash_value", errors, required=False, positive=False)
    mode = _choice(raw.get("payment_mode"), PAYMENT_MODES, "payment_mode", errors)
    row["payment_mode"] = mode
    regular = mode == "REGULAR"
    row["payment_frequency"] = _choice(raw.get("payment_frequency"), PAYMENT_FREQUENCIES, "payment_frequency",
                                       errors, required=regular) if regular or raw.get("payment_frequency") else None
    row["payment_years"] = _int(raw.get("payment_years"), "payment_years", errors, required=regular) \
        if regular or _text(raw.get("payment_years")) else None
    row["next_due_date"] = _date(raw.get("next_due_date"), "next_due_date", errors, required=regular) \
        if regular or _text(raw.get("next_due_date")) else None
    if not regular:
        row["payment_frequency"] = row["payment_years"] = row["next_due_date"] = None
    row["holder"] = _person(raw.get("holder"), "holder", errors, need_mobile=True)
    insured = raw.get("insured")
    row["insured"] = row["holder"] if not insured else _person(insured, "insured", errors, need_mobile=False)
    row["beneficiaries"] = _beneficiaries(raw.get("beneficiaries"), errors)
    return row, errors


def _beneficiaries(items, errors):
    if items in (None, ""):
        return None
    if not isinstance(items, list):
        errors.append(DomainError("field_bad_choice", field=LABELS["beneficiary"], value=str(items)[:40]).message)
        return None
    out, totals = [], {}
    for item in items:
        local = []
        item = item if isinstance(item, dict) else {}
        person = _person(item, "beneficiary", local, need_mobile=False)
        kind = _choice(item.get("kind"), BENEFICIARY_KINDS, "kind", local)
        relation = _choice(item.get("relationship"), RELATIONSHIPS, "relationship", local)
        order = _int(item.get("order"), "order", local, required=False, low=1, high=9) or 1
        share = _money(item.get("share"), "share", local)
        if share is not None and share > 100:
            local.append(DomainError("field_bad_money", field=LABELS["share"], value=str(share)).message)
        valid_until = _date(item.get("id_valid_until"), "id_valid_until", local, required=False)
        errors.extend(local)
        if not local:
            totals[(kind, order)] = totals.get((kind, order), 0) + share
            out.append(dict(kind=kind, name=person["name"], id_type=person["id_type"],
                            id_number=person["id_number"], gender=person["gender"],
                            birth_date=person["birth_date"], id_valid_until=valid_until,
                            relationship_to_insured=relation, order=order, share=share))
    for (kind, order), total in totals.items():
        if total != 100:
            errors.append(DomainError("beneficiary_shares", kind=BENEFICIARY_KINDS[kind], order=order,
                                      total=f"{total:.2f}").message)
    return out


# --- the batch ------------------------------------------------------------------------------------

def import_rows(rows, first_line=1, source="api"):
    """Validate every row, then write all or nothing.

    rows: reported policies (nested dicts). first_line: the number of the first row in the
    caller's terms (API: 1; file: 2, after the header). Returns {"created": [...],
    "updated": [...], "unchanged": [...], "tasks_created": n}; raises IntakeRejected.
    """
    if not rows:
        raise DomainError("intake_empty")
    if len(rows) > MAX_ROWS:
        raise DomainError("import_too_many_rows", limit=MAX_ROWS)
    products = {p.code: p for p in db.session.query(Product)}
    taken = _customer_numbers_on_file(rows)
    clean, problems, seen, people, numbers = [], [], {}, {}, {}
    for offset, raw in enumerate(rows):
        line = first_line + offset
        row, errors = validate_row(raw, products)
        if row and row["policy_no"]:
            if row["policy_no"] in seen:
                errors.append(DomainError("duplicate_in_batch", policy_no=row["policy_no"],
                                          first=seen[row["policy_no"]]).message)
            seen.setdefault(row["policy_no"], line)
            for role in ("holder", "insured"):
                person = row[role]
                key = (person["id_type"], person["id_number"])
                if person["id_number"] and people.setdefault(key, person["name"]) != person["name"]:
                    errors.append(DomainError("customer_conflict", id_number=person["id_number"]).message)
                # a customer number names one person: on file and within the batch
                number = person["customer_no"]
                if number and (taken.get(number, key) != key or numbers.setdefault(number, key) != key):
                    errors.append(DomainError("customer_no_taken", field=f"{LABELS[role]}{LABELS['customer_no']}",
                                              value=number).message)
        if errors:
            problems.append({"line": line, "policy_no": (row or {}).get("policy_no"), "errors": errors})
        else:
            clean.append(row)
    if problems:
        raise IntakeRejected(problems)
    return unit.retry_on_lock(_write_once, clean, source)


def _write_once(rows, source, tries=3):
    """One unit of work; validated rows are safe to redo, so a lock wait or deadlock (retry_on_lock)
    or a concurrent batch that inserted the same policy or customer first (the retry finds it) runs
    it again."""
    for attempt in range(1, tries + 1):
        try:
            with unit.work():
                return _write(rows, source)
        except IntegrityError:
            if attempt == tries:
                raise


def _customer_numbers_on_file(rows):
    """{customer_no: (id_type, id_number)} of the customers on file with a number these rows give."""
    wanted = {_text(row[role].get("customer_no")) for row in rows if isinstance(row, dict)
              for role in ("holder", "insured") if isinstance(row.get(role), dict)} - {""}
    if not wanted:
        return {}
    return {c.customer_no: (c.id_type, c.id_number) for c in db.session.query(
        Customer.customer_no, Customer.id_type, Customer.id_number).filter(Customer.customer_no.in_(wanted))}


def _write(rows, source):
    """New customers, policies and beneficiaries go in with multi-row INSERTs (one audit event
    for the batch lists them); policies already on file are compared and updated through the
    ORM, so each real change is audited field by field."""
    now = clock.now()
    customers, new_customer_ids = _customers(rows, now)
    existing = {p.policy_no: p for p in db.session.query(Policy).filter(
        Policy.policy_no.in_([r["policy_no"] for r in rows]))}
    result = {"created": [], "updated": [], "unchanged": []}
    new_rows, today = [], clock.today()
    for row in rows:
        fields = dict(
            product_id=row["product"].id, holder_id=customers[_key(row["holder"])],
            insured_id=customers[_key(row["insured"])], issue_date=row["issue_date"],
            receipt_signed_date=row["receipt_signed_date"] or row["issue_date"],
            effective_date=row["effective_date"], status=row["status"], channel=row["channel"],
            premium=row["premium"], payment_mode=row["payment_mode"],
            payment_frequency=row["payment_frequency"], payment_years=row["payment_years"],
            next_due_date=row["next_due_date"], sum_assured=row["sum_assured"])
        if row["cash_value"] is not None:
            fields["cash_value"] = row["cash_value"]
        policy = existing.get(row["policy_no"])
        if policy is None:
            new_rows.append((row, dict(policy_no=row["policy_no"], cash_value=fields.pop("cash_value", 0),
                                       cash_value_date=today, created_at=now, updated_at=now, **fields)))
            result["created"].append(row["policy_no"])
            continue
        changed = False
        for key, value in fields.items():
            if getattr(policy, key) != value:
                setattr(policy, key, value)
                changed = True
        if row["beneficiaries"] is not None and _beneficiaries_changed(policy, row["beneficiaries"]):
            _supersede_beneficiaries(policy, row["beneficiaries"], now)
            changed = True
        result["updated" if changed else "unchanged"].append(row["policy_no"])
    db.session.flush()
    new_ids = []
    if new_rows:
        db.session.execute(insert(Policy.__table__), [values for _, values in new_rows])
        ids = dict(db.session.execute(select(Policy.policy_no, Policy.id).where(
            Policy.policy_no.in_(result["created"]))).all())
        new_ids = [ids[no] for no in result["created"]]
        beneficiaries = [dict(policy_id=ids[row["policy_no"]], version=1, created_at=now, is_legal_heirs=False, **b)
                         for row, _ in new_rows for b in row["beneficiaries"] or []]
        if beneficiaries:
            db.session.execute(insert(Beneficiary.__table__), beneficiaries)
    result["tasks_created"] = revisit.create_tasks_for_policies(new_ids)
    audit.record(db.session, "intake", "policy", None, None,
                 {"source": source, **{k: len(v) for k, v in result.items() if isinstance(v, list)},
                  "tasks_created": result["tasks_created"], "created_policies": result["created"],
                  "created_customers": new_customer_ids})
    return result


def _key(person):
    return (person["id_type"], person["id_number"])


def _customers(rows, now):
    """Find or create every holder and insured; returns ({(id_type, id_number): id}, new ids).

    The core system's newer name and mobile win over what is on file."""
    people = {}
    for row in rows:
        for role in ("holder", "insured"):
            person = row[role]
            current = people.get(_key(person))
            if current is None or (person["mobile"] and not current["mobile"]):
                people[_key(person)] = person
    found = {(c.id_type, c.id_number): c for c in db.session.query(Customer).filter(
        tuple_(Customer.id_type, Customer.id_number).in_(list(people)))} if people else {}
    new = []
    for key, person in people.items():
        customer = found.get(key)
        if customer is None:
            new.append(dict(customer_no=person["customer_no"] or "K" + uuid.uuid4().hex[:15].upper(),
                            name=person["name"], gender=person["gender"], birth_date=person["birth_date"],
                            id_type=person["id_type"], id_number=person["id_number"],
                            mobile=person["mobile"] or _holder_mobile(rows, key),
                            auth_status="UNVERIFIED", created_at=now, updated_at=now))
            continue
        if customer.name != person["name"]:
            customer.name = person["name"]
        if person["mobile"] and customer.mobile != person["mobile"]:
            customer.mobile = person["mobile"]  # an insured without a mobile keeps the one on file
    db.session.flush()
    ids = {key: c.id for key, c in found.items()}
    new_ids = []
    if new:
        db.session.execute(insert(Customer.__table__), new)
        created = db.session.execute(select(Customer.id, Customer.id_type, Customer.id_number).where(
            Customer.customer_no.in_([c["customer_no"] for c in new]))).all()
        for c in created:
            ids[(c.id_type, c.id_number)] = c.id
            new_ids.append(c.id)
    return ids, new_ids


def _holder_mobile(rows, insured_key):
    for row in rows:
        if _key(row["insured"]) == insured_key:
            return row["holder"]["mobile"]
    return ""


def _beneficiaries_changed(policy, items):
    def sig(b):
        return (b["kind"], b["name"], b["id_type"], b["id_number"], b["relationship_to_insured"],
                b["order"], f"{b['share']:.2f}")
    current = [dict(kind=b.kind, name=b.name, id_type=b.id_type, id_number=b.id_number,
                    relationship_to_insured=b.relationship_to_insured, order=b.order, share=b.share)
               for b in policy.current_beneficiaries()]
    return sorted(map(sig, current)) != sorted(map(sig, items))


def _supersede_beneficiaries(policy, items, now):
    version = max([b.version for b in policy.beneficiaries] or [0]) + 1
    for b in policy.current_beneficiaries():
        b.superseded_at = now
    for b in items:
        db.session.add(Beneficiary(policy_id=policy.id, version=version, created_at=now, **b))


# --- files ----------------------------------------------------------------------------------------

def read_file(data: bytes):
    """CSV (UTF-8, or GB18030 as Excel on Chinese Windows saves it) or .xlsx, told apart by content.

    Returns the rows as nested dicts; the first data row is line 2. The file is read as a stream:
    the header is checked first and the file is refused as soon as it passes MAX_ROWS, so a small
    file of millions of rows neither holds a thread for minutes nor fills the memory.
    """
    if not data:
        raise DomainError("import_bad_file")
    if len(data) > MAX_FILE_BYTES:
        raise DomainError("import_file_too_large", mb=MAX_FILE_BYTES // 2 ** 20)
    if data[:4] == b"PK\x03\x04":
        lines = _xlsx_rows(data)
    elif b"\x00" in data[:4096]:
        raise DomainError("import_bad_file")
    else:
        lines = _csv_rows(data)
    with contextlib.closing(lines):
        first = next(lines, None)
        if first is None:
            raise DomainError("intake_empty")
        header = [_column(h) for h in first]
        missing = [FILE_COLUMNS[c] for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise DomainError("import_missing_columns", columns="、".join(missing))
        rows, filled, blank = [], 0, 0
        for values in lines:
            values = _cells(values)
            if any(_text(v) for v in values):
                filled += 1
            else:
                blank += 1
            if filled > MAX_ROWS or blank > MAX_BLANK_ROWS:
                raise DomainError("import_too_many_rows", limit=MAX_ROWS)
            flat = {header[i]: v for i, v in enumerate(values) if i < len(header) and header[i]}
            rows.append(_nest(flat))
    while rows and not any(_text(v) for v in _flat_values(rows[-1])):
        rows.pop()  # trailing empty lines
    return rows


def _cells(values):
    """One line's cells, at most MAX_COLUMNS of them (the file has about 80 columns)."""
    return list(values[:MAX_COLUMNS])


def _flat_values(row):
    for value in row.values():
        if isinstance(value, dict):
            yield from value.values()
        elif value is not None:
            yield value


def _column(header):
    text = _text(header).lstrip("\ufeff")
    if text in FILE_COLUMNS:
        return text
    for key, label in FILE_COLUMNS.items():
        if text == label:
            return key
    return None


def _nest(flat):
    row = {k: v for k, v in flat.items() if not k.startswith(("holder_", "insured_", "beneficiary"))}
    for role in ("holder", "insured"):
        person = {k[len(role) + 1:]: v for k, v in flat.items() if k.startswith(role + "_")}
        if role == "insured" and not any(_text(v) for v in person.values()):
            continue
        row[role] = person
    beneficiaries = []
    for n in range(1, FILE_BENEFICIARIES + 1):
        prefix = f"beneficiary{n}_"
        item = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        if any(_text(v) for v in item.values()):
            beneficiaries.append(item)
    if beneficiaries:
        row["beneficiaries"] = beneficiaries
    return row


def _csv_rows(data):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError("import_bad_file")
    try:
        yield from csv.reader(io.StringIO(text))
    except csv.Error:
        raise DomainError("import_bad_file") from None


def _xlsx_rows(data):
    """The first sheet's rows, streamed (openpyxl read-only mode), after checking what the archive
    unpacks to: openpyxl keeps a sheet's shared strings in memory, and 1 MB of zip can hold 1 GB."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    unreadable = (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, IndexError, OSError,
                  SyntaxError, InvalidFileException)  # SyntaxError: XML ParseError of a damaged part
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except unreadable:
        raise DomainError("import_bad_file") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise DomainError("import_unpacked_too_large", mb=MAX_UNPACKED_BYTES // 2 ** 20)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except unreadable:
        raise DomainError("import_bad_file") from None
    try:
        sheet = workbook.worksheets[0]
        # the sheet's own <dimension> header, when it has one, tells the size before any row is read
        if (sheet.max_row or 0) > MAX_ROWS + MAX_BLANK_ROWS + 1:
            raise DomainError("import_too_many_rows", limit=MAX_ROWS)
        yield from sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
    except unreadable:
        raise DomainError("import_bad_file") from None
    finally:
        workbook.close()


def import_file(data: bytes, source="file"):
    return import_rows(read_file(data), first_line=2, source=source)


__all__ = ["import_rows", "import_file", "read_file", "IntakeRejected", "validate_row"]
