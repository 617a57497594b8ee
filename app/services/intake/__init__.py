"""Intake of issued policies from the core system: REST API and operators' file import share it.

Idempotent on the policy number: a policy already on file with the same data is `unchanged`,
with different data `updated`, otherwise `created` (and its revisit task is created). Every
field is validated (fields.py); one bad row rejects the whole batch and nothing is written.
Files are read into the same rows (files.py).
"""
import uuid

from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.customer import Customer
from app.models.policy import Beneficiary, Policy
from app.models.product import Product
from app.services import audit, clock, revisit, unit
from app.services import policy as policy_service
from app.services.crypto import lookup_hash
from app.services.errors import DomainError
from app.services.intake.fields import LABELS, _text, check_customer, validate_row
from app.services.intake.files import (FILE_BENEFICIARIES, LISTED_COLUMNS, MAX_FILE_BYTES, MAX_ROWS,
                                       REQUIRED_COLUMNS, read_file)


class IntakeRejected(DomainError):
    """The batch was refused; `errors` lists each bad row: {"line", "policy_no", "errors": [...]}."""

    def __init__(self, errors):
        super().__init__("intake_rejected", count=len(errors))
        self.errors = errors


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
            next_due_date=row["next_due_date"], sum_assured=row["sum_assured"],
            contract_ended_on=row.get("terminated_on"))
        if row["cash_value"] is not None:
            fields["cash_value"] = row["cash_value"]
        policy = existing.get(row["policy_no"])
        if policy is None:
            new_rows.append((row, dict(policy_no=row["policy_no"], cash_value=fields.pop("cash_value", 0),
                                       cash_value_date=today, created_at=now, updated_at=now, **fields)))
            result["created"].append(row["policy_no"])
            continue
        changed = False
        receipt_before = policy.receipt_signed_date
        for key, value in fields.items():
            if key == "contract_ended_on" and value is None and row["status"] == "TERMINATED":
                continue  # a terminated policy reported again without its day keeps the day on file
            if getattr(policy, key) != value:
                setattr(policy, key, value)
                changed = True
        if policy.receipt_signed_date != receipt_before:  # the hesitation period runs from it
            policy_service.refresh_hesitation_deadlines(policy)
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
    hashed = {(id_type, lookup_hash(number, "id_number")): (id_type, number) for id_type, number in people}
    found = {hashed[(c.id_type, c.id_number_hash)]: c for c in db.session.query(Customer).filter(
        tuple_(Customer.id_type, Customer.id_number_hash).in_(list(hashed)))} if people else {}
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


def report_claim(policy_no, reported_at=None):
    """The core system reports an insured event (报案) on a policy: from then on the policy takes no
    beneficiary change (a change after the insured event has no effect: the third judicial interpretation
    art. 11; services/beneficiary.py). `reported_at`: an ISO date-time (Asia/Shanghai when it has no
    zone), else now. Idempotent: a second report keeps the first time. Returns the policy."""
    from datetime import datetime

    number = _text(policy_no)
    if not number:
        raise DomainError("field_required", field=LABELS["policy_no"])
    when = clock.now()
    if reported_at not in (None, ""):
        try:
            when = datetime.fromisoformat(_text(reported_at))
        except ValueError:
            raise DomainError("field_bad_date", field="reported_at", value=_text(reported_at)[:40]) from None
        if when.tzinfo is not None:
            when = when.astimezone(clock.ZONE).replace(tzinfo=None)
        when = when.replace(microsecond=0)
    with unit.work():
        policy = db.session.execute(select(Policy).where(Policy.policy_no == number[:32])
                                    .with_for_update()).scalar_one_or_none()
        if policy is None:
            raise DomainError("policy_not_found", policy_no=number[:32])
        if policy.claim_reported_at is None:
            policy.claim_reported_at = when
    return policy


def import_file(data: bytes, source="file"):
    return import_rows(read_file(data), first_line=2, source=source)


__all__ = ["import_rows", "import_file", "report_claim", "read_file", "IntakeRejected", "validate_row", "check_customer",
           "LABELS", "MAX_ROWS", "MAX_FILE_BYTES", "LISTED_COLUMNS", "FILE_BENEFICIARIES", "REQUIRED_COLUMNS"]
