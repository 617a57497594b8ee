"""Retention (issue 15 point 5): nothing is hard-deleted; a policy's records are kept ten years after the
contract ends (the Insurance Law keeps business records at least ten years from the contract's end; the
2020 e-revisit notice keeps the e-revisit's data with them), and the records past that day can be exported
for an archive. The export deletes nothing.

The contract's end: the day the core system reported a terminated policy ended (Policy.contract_ended_on,
status TERMINATED), else the end of the term (effective date, else issue date, + Product.term_years) for a
term product; a whole-life policy still in force has no end yet. Retention end = contract end + 10 years,
with dateutil's relativedelta (29 February + 10 years = 28 February).

What follows a policy's retention: the policy, its beneficiary versions, revisit tasks, answers, call
attempts, evidence, its revisit links (those of no other policy still kept) and their SMS and identity checks,
its servicing applications (those of no other policy still kept) with their approvals, policy links, SMS
around them and identity checks, consents, loans with ledgers and repayments, key screens, and the audit
events of every one of those rows."""
import hashlib
import io
import json
import zipfile
from base64 import b64encode
from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import and_, or_, select

from app.extensions import db
from app.services import audit, clock, unit

RETENTION_YEARS = 10
CHUNK = 500

BASES = {
    "TERMINATED": _l("合同终止日"),
    "TERM_END": _l("保险期间届满日"),
    "WHOLE_LIFE": _l("终身保单,合同尚未终止"),
    "UNREPORTED": _l("已终止,核心系统未报告终止日期"),
}


def contract_end(policy):
    """(the contract's end or None, basis): TERMINATED (the reported day), TERM_END (start + term years),
    WHOLE_LIFE (no end yet) or UNREPORTED (terminated without a reported day)."""
    if policy.status == "TERMINATED":
        if policy.contract_ended_on is not None:
            return policy.contract_ended_on, "TERMINATED"
        return None, "UNREPORTED"
    years = policy.product.term_years if policy.product is not None else None
    start = policy.effective_date or policy.issue_date
    if years and start:
        return start + relativedelta(years=years), "TERM_END"
    return None, "WHOLE_LIFE"


def retention_end_of(end):
    return None if end is None else end + relativedelta(years=RETENTION_YEARS)


def retention_end(policy):
    return retention_end_of(contract_end(policy)[0])


def describe(policy, today=None):
    """The retention end as a person reads it, never None: 2046-03-01(合同终止日 2036-03-01 起十年), or
    合同终止后十年(终身保单,合同尚未终止) while the end is not known."""
    end, basis = contract_end(policy)
    if end is None:
        return _("合同终止后十年(%(basis)s)", basis=BASES[basis])
    keep = retention_end_of(end)
    text = _("%(keep)s(%(basis)s %(end)s 起十年)", keep=keep.isoformat(), basis=BASES[basis], end=end.isoformat())
    if keep < (today or clock.today()):
        text += _(",已届满,可导出归档")
    return text


def contract_end_text(policy):
    end, basis = contract_end(policy)
    if end is None:
        return str(BASES[basis])
    if basis == "TERM_END" and end > clock.today():
        return _("%(day)s(保险期间届满日,尚未到期)", day=end.isoformat())
    return f"{end.isoformat()}({BASES[basis]})"


# --- which policies are past their retention -------------------------------------------------------------

def expired_policy_ids(before):
    """The ids of the policies whose retention ended before `before` (retention end < before)."""
    from app.models.policy import Policy
    from app.models.product import Product

    latest_end = before - relativedelta(years=RETENTION_YEARS)  # contract end < this (a superset, checked below)
    candidates = [Policy.status == "TERMINATED", Policy.contract_ended_on.isnot(None),
                  Policy.contract_ended_on < latest_end + timedelta(days=1)]
    where = [and_(*candidates)]
    for product in db.session.scalars(select(Product).where(Product.term_years.isnot(None))):
        latest_start = before - relativedelta(years=RETENTION_YEARS + product.term_years) + timedelta(days=2)
        start = db.func.coalesce(Policy.effective_date, Policy.issue_date)
        where.append(and_(Policy.status != "TERMINATED", Policy.product_id == product.id, start < latest_start))
    found = []
    for policy in db.session.scalars(select(Policy).where(or_(*where)).order_by(Policy.id)):
        keep = retention_end(policy)
        if keep is not None and keep < before:
            found.append(policy.id)
    return found


# --- the records that follow those policies --------------------------------------------------------------

def _rows(table, *conditions):
    """Every row of `table` matching any condition (the IN lists chunked), as plain dicts by id."""
    out = {}
    for condition in conditions:
        for row in db.session.execute(select(table).where(condition)).mappings():
            out[row["id"]] = dict(row)
    return out


def _ids_in(column, ids):
    ids = sorted(set(i for i in ids if i is not None))
    return [column.in_(ids[i:i + CHUNK]) for i in range(0, len(ids), CHUNK)]


def collect(policy_ids):
    """{table name: [row dicts in id order]} of every record that follows the given policies' retention."""
    from app.models.audit import AuditEvent
    from app.models.identity import IdentityVerification
    from app.models.policy import Beneficiary, Policy
    from app.models.revisit import CallAttempt, RevisitAnswer, RevisitEvidence, RevisitLink, RevisitTask
    from app.models.screen import KeyScreen
    from app.models.servicing import (ApplicationApproval, ApplicationPolicy, Consent, LoanLedgerEntry,
                                      LoanRepayment, PolicyLoan, ServicingApplication)
    from app.models.sms import SmsMessage

    kept = set(policy_ids)
    t = {}
    t["policy"] = _rows(Policy.__table__, *_ids_in(Policy.id, kept))
    t["beneficiary"] = _rows(Beneficiary.__table__, *_ids_in(Beneficiary.policy_id, kept))
    t["revisit_task"] = _rows(RevisitTask.__table__, *_ids_in(RevisitTask.policy_id, kept))
    tasks = set(t["revisit_task"])
    t["revisit_answer"] = _rows(RevisitAnswer.__table__, *_ids_in(RevisitAnswer.task_id, tasks))
    t["call_attempt"] = _rows(CallAttempt.__table__, *_ids_in(CallAttempt.task_id, tasks))
    # a link (one SMS for several policies of a customer) goes only when none of its policies is still kept
    link_ids = {row["link_id"] for row in t["revisit_task"].values() if row["link_id"]}
    shared = {link for link, policy in db.session.execute(
        select(RevisitTask.link_id, RevisitTask.policy_id).where(or_(*_ids_in(RevisitTask.link_id, link_ids))))
        if policy not in kept} if link_ids else set()
    links = link_ids - shared
    t["revisit_link"] = _rows(RevisitLink.__table__, *_ids_in(RevisitLink.id, links))
    t["revisit_evidence"] = _rows(RevisitEvidence.__table__, *_ids_in(RevisitEvidence.task_id, tasks),
                                  *[and_(c, RevisitEvidence.task_id.is_(None))
                                    for c in _ids_in(RevisitEvidence.link_id, links)])
    # applications, likewise only when every policy they name has expired
    own = _rows(ServicingApplication.__table__, *_ids_in(ServicingApplication.policy_id, kept))
    linked = {a for (a,) in db.session.execute(select(ApplicationPolicy.application_id).where(
        or_(*_ids_in(ApplicationPolicy.policy_id, kept))))} if kept else set()
    candidates = set(own) | linked
    others = set()
    if candidates:
        for a, policy in db.session.execute(select(ApplicationPolicy.application_id, ApplicationPolicy.policy_id)
                                            .where(or_(*_ids_in(ApplicationPolicy.application_id, candidates)))):
            if policy not in kept:
                others.add(a)
        for a, policy in db.session.execute(select(ServicingApplication.id, ServicingApplication.policy_id)
                                            .where(or_(*_ids_in(ServicingApplication.id, candidates)))):
            if policy is not None and policy not in kept:
                others.add(a)
    apps = candidates - others
    t["servicing_application"] = _rows(ServicingApplication.__table__, *_ids_in(ServicingApplication.id, apps))
    t["servicing_application_policy"] = _rows(ApplicationPolicy.__table__,
                                              *_ids_in(ApplicationPolicy.application_id, apps))
    t["application_approval"] = _rows(ApplicationApproval.__table__,
                                      *_ids_in(ApplicationApproval.application_id, apps))
    t["consent"] = _rows(Consent.__table__, *_ids_in(Consent.policy_id, kept))
    t["policy_loan"] = _rows(PolicyLoan.__table__, *_ids_in(PolicyLoan.policy_id, kept))
    loans = set(t["policy_loan"])
    t["loan_ledger_entry"] = _rows(LoanLedgerEntry.__table__, *_ids_in(LoanLedgerEntry.loan_id, loans))
    t["loan_repayment"] = _rows(LoanRepayment.__table__, *_ids_in(LoanRepayment.loan_id, loans))
    t["key_screen"] = _rows(KeyScreen.__table__, *_ids_in(KeyScreen.policy_id, kept),
                            *_ids_in(KeyScreen.revisit_task_id, tasks), *_ids_in(KeyScreen.application_id, apps))
    # SMS: the links' messages and the customer's messages around each application (as the evidence pack)
    sms_conditions = _ids_in(SmsMessage.link_id, links)
    for row in t["servicing_application"].values():
        ends = [d for d in (row["submitted_at"], row.get("decided_at"), row.get("completed_at")) if d]
        if ends:
            sms_conditions.append(and_(SmsMessage.customer_id == row["customer_id"],
                                       SmsMessage.created_at >= min(ends) - timedelta(minutes=30),
                                       SmsMessage.created_at <= max(ends) + timedelta(minutes=10)))
    t["sms_message"] = _rows(SmsMessage.__table__, *sms_conditions)
    checks = {row.get("identity_verification_id") for name in ("servicing_application", "consent")
              for row in t[name].values()}
    t["identity_verification"] = _rows(IdentityVerification.__table__,
                                       *_ids_in(IdentityVerification.link_id, links),
                                       *_ids_in(IdentityVerification.id, checks))
    conditions = []
    for name, rows in t.items():
        for ids in range(0, len(rows), CHUNK):
            chunk = sorted(str(i) for i in rows)[ids:ids + CHUNK]
            conditions.append(and_(AuditEvent.entity == name, AuditEvent.entity_id.in_(chunk)))
    t["audit_event"] = _rows(AuditEvent.__table__, *conditions)
    return {name: [rows[i] for i in sorted(rows)] for name, rows in t.items()}


# --- the archive -------------------------------------------------------------------------------------------

def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": b64encode(bytes(value)).decode("ascii")}
    return value


def _jsonl(rows):
    return "".join(json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False, sort_keys=True,
                              default=str) + "\n" for row in rows).encode("utf-8")


def export(before, out, now=None):
    """Write a ZIP to the path or file `out`: records/<table>.jsonl (one JSON object per row, the values as
    stored) for every record of the policies whose retention ended before `before`, and manifest.json (the
    policies, each file's rows, bytes and SHA-256). Deletes nothing; the export is itself an audit event.
    Returns the manifest."""
    from app.models.policy import Policy

    now = now or clock.now()
    ids = expired_policy_ids(before)
    tables = collect(ids)
    policies = db.session.scalars(select(Policy).where(Policy.id.in_(ids)).order_by(Policy.id)).all() if ids else []
    manifest = {
        "kind": "retention-archive", "before": before.isoformat(), "created_at": now.isoformat(timespec="seconds"),
        "retention_years": RETENTION_YEARS,
        "note": "records kept ten years after the contract's end, exported for an archive; nothing was deleted. "
                "Values as stored (personal data included): keep the archive as protected as the database.",
        "policies": [{"policy_no": p.policy_no, "contract_end": contract_end(p)[0].isoformat(),
                      "basis": contract_end(p)[1], "retention_end": retention_end(p).isoformat()} for p in policies],
        "files": {}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in tables.items():
            data = _jsonl(rows)
            path = f"records/{name}.jsonl"
            archive.writestr(path, data)
            manifest["files"][path] = {"rows": len(rows), "bytes": len(data),
                                       "sha256": hashlib.sha256(data).hexdigest()}
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    data = buffer.getvalue()
    if hasattr(out, "write"):
        out.write(data)
    else:
        with open(out, "wb") as handle:
            handle.write(data)
    with unit.work():  # who took which records out: an audit event, nothing else written
        audit.record(db.session, "export", "policy", None, None, {
            "retention_archive": True, "before": before.isoformat(), "policies": len(ids),
            "sha256": hashlib.sha256(data).hexdigest(), "rows": {name: len(rows) for name, rows in tables.items()}})
    return manifest


XLSX_COLUMNS = [("保险单号", 18), ("产品名称", 26), ("投保人", 10), ("保单状态", 8), ("合同终止日", 12),
                ("终止依据", 16), ("记录保存期限届满日", 14)]


def expired_xlsx(before=None):
    """The policies whose retention ended before `before` (default today) as an xlsx (export.workbook: the
    download is an audit event), for an archive's planning: what `flask retention export` would take."""
    from app.models.policy import POLICY_STATUSES, Policy
    from app.services.export import workbook
    from app.services.privacy import mask_name

    before = before or clock.today()
    ids = expired_policy_ids(before)
    rows = []
    for start in range(0, len(ids), CHUNK):
        for p in db.session.scalars(select(Policy).where(Policy.id.in_(ids[start:start + CHUNK])).order_by(Policy.id)):
            end, basis = contract_end(p)
            rows.append((p.policy_no, p.product.name, mask_name(p.holder.name), str(POLICY_STATUSES.get(p.status, p.status)),
                         end, str(BASES[basis]), retention_end_of(end)))
    return workbook("保存期限已届满", XLSX_COLUMNS, rows, "policy", before, before)


def summary(manifest):
    rows = sum(f["rows"] for f in manifest["files"].values())
    return _("已导出 %(policies)s 份保存期限于 %(before)s 前届满的保单及其记录,共 %(rows)s 条(%(tables)s 张表),"
             "未删除任何记录", policies=len(manifest["policies"]), before=manifest["before"], rows=rows,
             tables=sum(1 for f in manifest["files"].values() if f["rows"]))
