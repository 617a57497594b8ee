"""Redaction of the audit events written before the trail masked personal data (issue 15 point 4):
`flask audit redact-legacy`, and what `verify()` (services/seal.py) needs to accept a redacted event.

Since the audit writer masks personal data (services/audit.py: the PERSONAL columns and record()'s
id_number / mobile / phone keys as 138****8001 with the keyed hash beside them), no new event holds an ID
number or a mobile in clear; the events written before still do. redact_legacy() rewrites their values to
exactly what the writer stores now (it calls the writer's own audit._column_value / audit._scrub), leaves
audit_event.row_hash alone (the hash sealed into the chain, of the original content) and writes, per event,
an AuditRedaction record: original_hash (= row_hash), redacted_hash (the hash of the rewritten content),
when, why, and record_hash (SHA-256 of those). One audit event of its own (action redact_legacy, through
audit.record, so it is sealed like any other) holds who ran it, the reason, the count and the SHA-256 over
the run's record hashes in event order.

verify() accepts an event whose content no longer hashes to row_hash only when its redaction record has
original_hash = row_hash, redacted_hash = the content's hash, an intact record_hash, and belongs to a
redact_legacy event whose count and digest match the run's records. So an event edited after redaction, a
redaction record edited, forged or moved to another run, and a record deleted (the event no longer
matches) are all reported.

An event whose content already differs from its row_hash is not redacted (that would launder tampering):
it is counted as `tampered` and left for `flask audit verify` to name.
"""
import hashlib
import json
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, insert, select, update

from app.extensions import db
from app.models.audit import AuditEvent, AuditRedaction
from app.services import audit, clock

ACTION = "redact_legacy"
ENTITY = "audit_event"
DEFAULT_REASON = "个人信息保护:启用掩码之前写入的审计事件中的明文身份证号、手机号改为掩码和密钥哈希(issue 15)"
EVENT_COLUMNS = [AuditEvent.__table__.c[name] for name in ("id", "row_hash", *audit.HASHED_FIELDS)]
BATCH = 5000


# --- what the current writer stores ---------------------------------------------------------------------

def _clear(value):
    """A personal value as the writer never stores it: a non-empty ID number or mobile without a mask."""
    return isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) != "" \
        and "*" not in str(value)


def _personal_keys(entity):
    """The keys of an event's before/after that the writer masks: the entity's PERSONAL columns (the session
    listener's rule) and record()'s top-level id_number / mobile / phone."""
    return set(audit.PERSONAL.get(entity, {})) | set(audit.PERSONAL_KEYS)


def holds_clear(entity, values):
    """True when before/after still holds an ID number, a mobile or a card number in clear, at any depth (as
    the writer masks them: a servicing application's payload lists its beneficiaries' ID numbers)."""
    if isinstance(values, list):
        return any(holds_clear(None, value) for value in values)
    if not isinstance(values, dict):
        return False
    keys = _personal_keys(entity)
    return any((key in keys and _clear(value)) or holds_clear(None, value) for key, value in values.items())


def rewritten(entity, values):
    """before/after as the current writer would store it: the entity's PERSONAL columns through the
    listener's audit._column_value, then record()'s audit._scrub (masked, `<key>_hash` the keyed hash
    beside; secrets "***"). Values already masked are left as they are."""
    if not holds_clear(entity, values):
        return values
    columns = audit.PERSONAL.get(entity, {})
    out = {}
    for key, value in values.items():
        if key in columns and _clear(value):
            audit._column_value(entity, key, value, out)
        elif key not in out:  # a <column>_hash already set from the value itself
            out[key] = value
    return audit._scrub(out)


# --- the records --------------------------------------------------------------------------------------

def _seconds(moment):
    return moment.replace(microsecond=0)


def record_hash(event_id, original_hash, redacted_hash, redacted_at, reason):
    """SHA-256 (hex) of one redaction record's content (the time to the second, as a datetime or as the text
    a raw SQL read gives)."""
    text = json.dumps([int(event_id), original_hash, redacted_hash,
                       str(redacted_at)[:19].replace("T", " "), reason],
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest(pairs):
    """SHA-256 over "<event_id>:<record_hash>" of a run's records in event order (the run's audit event)."""
    running = hashlib.sha256()
    for event_id, hashed in sorted(pairs):
        running.update(f"{event_id}:{hashed}\n".encode("ascii"))
    return running.hexdigest()


@dataclass
class Result:
    redacted: int = 0
    tampered: int = 0  # events holding clear values whose content already differs from row_hash: left alone
    operation_id: int = None
    event_ids: list = field(default_factory=list)


def _candidates(session):
    """(event_id, original_hash, before, after, redacted_hash) of each legacy event to redact, and the
    count of those left alone because their content no longer matches their hash."""
    found, tampered = [], 0
    query = (select(*EVENT_COLUMNS).order_by(AuditEvent.id)
             .execution_options(stream_results=True, yield_per=BATCH))
    for row in session.execute(query):
        if not (holds_clear(row.entity, row.before) or holds_clear(row.entity, row.after)):
            continue
        content = dict(row._mapping)
        original = audit.event_hash(content, stored=True)
        if row.row_hash is not None and row.row_hash != original:
            tampered += 1
            continue
        content["before"] = rewritten(row.entity, row.before)
        content["after"] = rewritten(row.entity, row.after)
        found.append((row.id, row.row_hash or original, content["before"], content["after"],
                      audit.event_hash(content)))
    return found, tampered


def redact_legacy(reason=None, dry_run=False, operator=None):
    """Redact every legacy event in one transaction (the events, their records and the run's own audit
    event together, or nothing). Returns a Result; dry_run counts without writing."""
    session = db.session
    reason = (reason or DEFAULT_REASON)[:255]
    found, tampered = _candidates(session)
    result = Result(redacted=len(found), tampered=tampered, event_ids=[c[0] for c in found])
    if dry_run or not found:
        session.rollback()
        return result
    redacted_at = _seconds(clock.now())
    records = [dict(event_id=event_id, original_hash=original, redacted_hash=redacted, redacted_at=redacted_at,
                    reason=reason, record_hash=record_hash(event_id, original, redacted, redacted_at, reason))
               for event_id, original, _before, _after, redacted in found]
    after = {"reason": reason, "count": len(records), "first_event_id": found[0][0],
             "last_event_id": found[-1][0], "digest": digest((r["event_id"], r["record_hash"]) for r in records)}
    if operator:
        after["operator"] = operator
    # ACTION spelled out: tests/test_audit_labels.py finds the actions written by their literal
    audit.record(session, "redact_legacy", ENTITY, f"{found[0][0]}-{found[-1][0]}", None, after)
    result.operation_id = session.execute(select(func.max(AuditEvent.id))
                                          .where(AuditEvent.action == ACTION)).scalar()
    for start in range(0, len(records), BATCH):
        chunk = records[start:start + BATCH]
        for record in chunk:
            record["operation_id"] = result.operation_id
        session.execute(insert(AuditRedaction.__table__), chunk)
    table = AuditEvent.__table__
    rewrite = (update(table).where(table.c.id == bindparam("event_id"))
               .values(before=bindparam("new_before", type_=table.c.before.type),
                       after=bindparam("new_after", type_=table.c.after.type)))
    connection = session.connection()
    for start in range(0, len(found), BATCH):
        connection.execute(rewrite, [{"event_id": event_id, "new_before": before, "new_after": after_}
                                     for event_id, _original, before, after_, _hash in found[start:start + BATCH]])
    session.commit()
    return result


# --- what verify() reads ------------------------------------------------------------------------------

class Redactions:
    """The redaction records, checked: each record's own hash, and each run's records against the count and
    digest its redact_legacy audit event holds. accepts() tells verify() whether a redacted event stands."""

    def __init__(self, session, first_id=1, last_id=None):
        """The records of the events first_id..last_id, with every record of their runs (for the digests)."""
        table = AuditRedaction.__table__
        in_range = table.c.event_id >= first_id
        if last_id is not None:
            in_range = in_range & (table.c.event_id <= last_id)
        wanted = list(session.execute(select(table.c.operation_id).where(in_range).distinct()).scalars())
        self.operations = set(session.execute(select(table.c.operation_id).distinct()).scalars())
        self.records, self.problems, runs = {}, {}, {}
        query = select(table).where(table.c.operation_id.in_(wanted)).order_by(table.c.event_id)
        for row in session.execute(query) if wanted else ():
            self.records[row.event_id] = row
            runs.setdefault(row.operation_id, []).append(row)
            if row.record_hash != record_hash(row.event_id, row.original_hash, row.redacted_hash,
                                              row.redacted_at, row.reason):
                self.problems[row.event_id] = _("事件 #%(e)s 的脱敏记录被改动(与脱敏记录的哈希不符)", e=row.event_id)
        operations = {}
        if runs:
            for op_id, action, after in session.execute(
                    select(AuditEvent.id, AuditEvent.action, AuditEvent.after)
                    .where(AuditEvent.id.in_(list(runs)))):
                operations[op_id] = (action, after)
        for op_id, rows in runs.items():
            action, after = operations.get(op_id, (None, None))
            intact = (action == ACTION and isinstance(after, dict) and after.get("count") == len(rows)
                      and after.get("digest") == digest((r.event_id, r.record_hash) for r in rows))
            if not intact:
                for row in rows:
                    self.problems.setdefault(row.event_id, _(
                        "事件 #%(e)s 的脱敏记录与脱敏操作(审计事件 #%(op)s)不符:脱敏记录被伪造、改动或删除",
                        e=row.event_id, op=op_id))
        self.first_id, self.last_id = first_id, last_id

    def accepts(self, event_id, row_hash, computed):
        """The event's content differs from row_hash only by its intact redaction."""
        row = self.records.get(event_id)
        return (row is not None and event_id not in self.problems and row_hash is not None
                and row.original_hash == row_hash and row.redacted_hash == computed)

    def problem(self, event_id):
        """Why the event's redaction record does not count, or None."""
        return self.problems.get(event_id)

    def first_problem(self):
        """(event_id, message) of the first record in range that does not count, or None."""
        for event_id in sorted(self.problems):
            if event_id >= self.first_id and (self.last_id is None or event_id <= self.last_id):
                return event_id, self.problems[event_id]
        return None

    def operation_missing(self, row):
        """A redact_legacy event whose records are all gone (the events they covered fail on their own)."""
        return row.action == ACTION and row.entity == ENTITY and row.id not in self.operations
