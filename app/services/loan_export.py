"""The back office's read-outs of loans (保全管理, issue 11 point 7): the xlsx of the loans granted in a date
range, and what the application page shows of a loan application (what the customer entered, readable;
the face check; the ID images; the SMS around the submission, masked). Nothing here changes a row except
the export's audit event."""
import os
import re
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models.customer import ID_TYPES
from app.models.identity import IdentityVerification
from app.models.policy import BENEFICIARY_KINDS, RELATIONSHIPS, Policy
from app.models.product import ANNUITY_METHODS
from app.models.servicing import LOAN_STATUSES, PolicyLoan
from app.models.sms import SmsMessage
from app.services import ledger
from app.services.export import parse_range, workbook
from app.services.money import to_money
from app.services.privacy import mask_id_number, mask_mobile

COLUMNS = [
    ("保险单号", 18), ("投保人", 10), ("投保人证件号码", 20), ("贷款本金(元)", 14), ("印花税(元)", 10),
    ("实际入账金额(元)", 16), ("年利率", 10), ("发放日", 12), ("到账日", 12), ("到期日", 12),
    ("未还本金(元)", 14), ("截至结束日利息(元)", 18), ("状态", 10),
]


def _granted(loan):
    """A loan is granted when its row is made: at the approval, or at a roll-over."""
    return loan.created_at.date()


def loans_granted(start, end):
    start, end = parse_range(start, end)
    return (db.session.query(PolicyLoan)
            .filter(PolicyLoan.created_at >= start, PolicyLoan.created_at < end + timedelta(days=1))
            .options(selectinload(PolicyLoan.policy).selectinload(Policy.holder))
            .order_by(PolicyLoan.created_at, PolicyLoan.id).all())


def interest_to(loan, day):
    """Interest owed on `day` as the ledger's figures say (none before the money arrived or once closed)."""
    if loan.status != "ACTIVE" or loan.interest_paid_to is None or day < loan.interest_paid_to:
        return Decimal("0.00")
    return ledger.owed_on(loan, day) - to_money(loan.outstanding_principal)


def row_values(loan, end):
    holder = loan.policy.holder
    return [loan.policy.policy_no, holder.name, mask_id_number(holder.id_number), loan.principal,
            loan.stamp_duty, loan.credited_amount, f"{Decimal(loan.annual_rate) * 100:.2f}%", _granted(loan),
            loan.disbursed_on, loan.due_on, loan.outstanding_principal, interest_to(loan, end),
            str(LOAN_STATUSES.get(loan.status, loan.status))]


def loans_xlsx(start, end):
    """The loans granted in the range (export.workbook: safe cells, the export audited)."""
    start, end = parse_range(start, end)
    return workbook("保单贷款", COLUMNS, (row_values(loan, end) for loan in loans_granted(start, end)),
                    "policy_loan", start, end)


# --- the application page ----------------------------------------------------------------------

PAYLOAD_LABELS = {
    "amount": _l("申请金额(元)"), "stamp_duty": _l("印花税(元)"), "credited_amount": _l("实际入账金额(元)"),
    "loanable_amount": _l("可贷金额(元)"), "annual_rate": _l("贷款年利率"), "agreed_at": _l("同意协议时间"),
    "interest_part": _l("其中利息(元)"), "principal_part": _l("其中本金(元)"),
    "principal_after": _l("还款后未还本金(元)"), "total": _l("应还本息合计(元)"), "on": _l("计算日"),
    "loans": _l("贷款台账"), "bank_name": _l("开户行"), "card_masked": _l("账号"), "account_name": _l("户名"),
    # 年金领取方式变更 (services/annuity.py) and 受益人变更 (services/beneficiary.py)
    "policy_no": _l("保险单号"), "policies": _l("保险单号"), "before": _l("变更前"), "after": _l("变更后"),
    "before_from": _l("原方式起始日"), "effective_from": _l("生效日"), "applied_at": _l("变更时间"),
    "universal_account_no": _l("万能账户"), "universal_policy_no": _l("万能险保单号"),
    "lists": _l("受益人"), "confirmed_no_more": _l("已确认无其他受益人"), "confirmed_at": _l("确认时间"),
}
TIME_KEYS = {"agreed_at", "confirmed_at", "applied_at"}
METHOD_KEYS = {"before", "after"}  # an annuity change's collection methods
MONEY_KEYS = {"amount", "stamp_duty", "credited_amount", "loanable_amount", "interest_part", "principal_part",
              "principal_after", "total"}
# kept for the pages that show them in their own way, or not meant for reading
HIDDEN_KEYS = {"id_images", "face_verification_id", "bank", "card_last4"}
CARD_DIGITS = re.compile(r"\d{16,19}")  # a bank card; a policy number has 15 digits and stays whole


def _readable(key, value):
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return str(_l("是") if value else _l("否"))
    if key in MONEY_KEYS:
        try:
            return f"{Decimal(str(value)):.2f}"
        except ArithmeticError:
            return str(value)
    if key == "annual_rate":
        return f"{Decimal(str(value)) * 100:.2f}%"
    if key in TIME_KEYS:
        try:
            return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return str(value)
    if key == "loans" and isinstance(value, list):
        return "、".join(f"#{item}" for item in value)
    if key in METHOD_KEYS and isinstance(value, str):
        return str(ANNUITY_METHODS.get(value, value))
    if key == "lists" and isinstance(value, dict):
        return ";".join(f"{BENEFICIARY_KINDS.get(kind, kind)}:{'、'.join(_person(p) for p in people)}"
                        for kind, people in value.items())
    if isinstance(value, (list, tuple)):
        return "、".join(_readable(key, item) for item in value)
    if isinstance(value, dict):
        return ";".join(f"{PAYLOAD_LABELS.get(k, k)} {_readable(k, v)}" for k, v in value.items()
                        if k not in HIDDEN_KEYS)
    # a card number never shows whole, whatever key it came under
    return CARD_DIGITS.sub(lambda m: f"{m.group()[:4]} **** **** {m.group()[-4:]}", str(value))


def _person(person):
    """A beneficiary as the application named them: 王一(配偶,第1顺序,60.00%,居民身份证 110***********023X)."""
    if not isinstance(person, dict):
        return str(person)
    parts = [str(RELATIONSHIPS.get(person.get("relationship"), person.get("relationship") or "")),
             str(_l("第%(n)s顺序", n=person.get("order") or 1)), f"{person.get('share') or ''}%",
             f"{ID_TYPES.get(person.get('id_type'), person.get('id_type') or '')} "
             f"{mask_id_number(person.get('id_number') or '')}"]
    return f"{person.get('name') or ''}({','.join(part for part in parts if part.strip(' %'))})"


def payload_rows(payload):
    """(label, text) pairs of what the customer entered; the account's parts each on a row."""
    rows = []
    for key, value in (payload or {}).items():
        if key in HIDDEN_KEYS:
            continue
        if key == "account" and isinstance(value, dict):
            rows.extend((str(PAYLOAD_LABELS.get(k, k)), _readable(k, v)) for k, v in value.items()
                        if k not in HIDDEN_KEYS)
            continue
        rows.append((str(PAYLOAD_LABELS.get(key, key)), _readable(key, value)))
    return rows


def face_check(application):
    """The face check the application relied on (its decision, distance and time), or None."""
    verification_id = application.identity_verification_id or (application.payload or {}).get(
        "face_verification_id")
    return db.session.get(IdentityVerification, verification_id) if verification_id else None


def _file_under_uploads(relative):
    """The absolute path of a stored file when it is inside UPLOAD_DIR and exists, else None."""
    if not relative or not isinstance(relative, str):
        return None
    root = os.path.realpath(current_app.config["UPLOAD_DIR"])
    path = os.path.realpath(os.path.join(root, relative))
    return path if path.startswith(root + os.sep) and os.path.isfile(path) else None


def face_image_path(application):
    found = face_check(application)
    return _file_under_uploads(found.evidence_path) if found is not None and found.kind == "PHOTO" else None


def id_images(application):
    images = (application.payload or {}).get("id_images") or []
    return images if isinstance(images, list) else []


def id_image_path(application, index):
    images = id_images(application)
    return _file_under_uploads(images[index]) if 0 <= index < len(images) else None


SMS_BEFORE = timedelta(minutes=30)
SMS_AFTER = timedelta(minutes=10)


def messages_around(application):
    """The customer's SMS from 30 minutes before the submission to 10 after, phone and codes masked."""
    customer = application.customer
    at = application.submitted_at
    rows = (db.session.query(SmsMessage)
            .filter(or_(SmsMessage.customer_id == customer.id, SmsMessage.phone_hash == customer.mobile_hash),
                    SmsMessage.created_at >= at - SMS_BEFORE, SmsMessage.created_at <= at + SMS_AFTER)
            .order_by(SmsMessage.created_at, SmsMessage.id).all())
    return [{"at": row.created_at, "phone": mask_mobile(row.phone), "purpose": row.purpose or "",
             "status": row.status, "content": _mask_code(row)} for row in rows]


def _mask_code(message):
    content = message.content or ""
    code = (message.params or {}).get("code") if isinstance(message.params, dict) else None
    if code:
        content = content.replace(str(code), "*" * len(str(code)))
    return content
