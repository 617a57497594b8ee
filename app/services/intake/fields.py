"""Intake's fields: one reported policy (or an admin's customer) checked field by field, every problem
in Chinese; nothing is written here."""
import re
from datetime import date, datetime

from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models.customer import GENDERS, ID_TYPES, Customer
from app.models.policy import (BENEFICIARY_KINDS, CHANNELS, PAYMENT_FREQUENCIES, PAYMENT_MODES,
                               POLICY_STATUSES, RELATIONSHIPS)
from app.services import clock, validation
from app.services.crypto import lookup_hash
from app.services.errors import DomainError

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
    "terminated_on": _l("终止日期"),
}


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
        same = others.filter(Customer.id_type == clean["id_type"],
                             Customer.id_number_hash == lookup_hash(clean["id_number"], "id_number")).first()
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
    # the day a terminated contract ended (retention runs ten years from it: services/retention.py)
    ended = _date(raw.get("terminated_on"), "terminated_on", errors, False) if row["status"] == "TERMINATED" else None
    if ended and ended > clock.today():
        errors.append(DomainError("field_bad_date", field=LABELS["terminated_on"], value=ended.isoformat()).message)
    elif ended and row["issue_date"] and ended < row["issue_date"]:
        errors.append(DomainError("date_before_issue", field=LABELS["terminated_on"]).message)
    row["terminated_on"] = ended
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
