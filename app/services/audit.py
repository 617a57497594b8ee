"""The audit trail: every change to a portal record becomes an AuditEvent, automatically.

A session listener writes one event per inserted, updated or deleted row with the values
before and after and the actor (staff user, customer, or the named system job). Records the
law says to keep (models marked Undeletable) cannot be deleted at all. Set-based statements
(bulk expiry, seeding) bypass ORM events; their services call record() themselves.

Tamper evidence (services/seal.py): every event carries row_hash, the SHA-256 of its canonical content
(event_hash), computed here as it is written; a beat job seals the events period by period into a hash
chain. The records the law asks to be tamper-proof (COVERED: answers, call attempts, identity checks,
consents, loan ledgers, the key screens) are covered through their events, which hold their full values: a create event
holds every column, an update event the columns changed, and a set-based INSERT or UPDATE of one of
these tables (the ledger's roll-over, the consent lapse) is caught by the do_orm_execute listener, which
writes one bulk_insert / bulk_update event with the full values of each row it touched. `flask audit
verify` replays them and compares the rows. Rows written outside the ORM session altogether (raw SQL,
the claim procedure) get their row_hash from the seal job; they must not write COVERED tables.

Personal data (issue 15 point 4): the trail never holds an ID number, a mobile or a bank card number in
clear. The PERSONAL columns (customer ID number and reserved mobile, beneficiary ID number, SMS phone, the
card numbers of applications and loans) are written as their masked form (services/privacy.py: 138****8001,
6217 **** **** 8507) with, beside them under "<column>_hash", the keyed hash of crypto.lookup_hash (HMAC
with DATA_HASH_KEY, the value customer.mobile_hash / id_number_hash hold; kind "card" for a card number):
an auditor sees that a value changed and can match one they know (hash it with `lookup_hash`), never
read it. Explicit events (record()) get the same treatment for top-level keys named id_number, mobile,
phone, account_no or card_no. SECRET_FIELDS (passwords, code hashes, the face encoding) are written as
"***". row_hash is over what is stored, so verification is unchanged.

Bench-only switch: AUDIT_ROW_HASH=0 (the app config or the environment) writes events without row_hash
(the seal job fills it in later), so that bench/seal_cost.py can measure what hashing each event costs
the e-revisit pipeline. install() refuses it when PORTAL_ENV is production: production always hashes.
"""
import hashlib
import json
import os
import contextlib
import contextvars
import datetime
from decimal import Decimal

from flask import g, has_request_context, request
from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from app.models.audit import AuditEvent
from app.models.base import Undeletable
from app.services import privacy

_actor = contextvars.ContextVar("audit_actor", default=None)
SECRET_FIELDS = {"password", "servicing_password_hash", "face_encoding", "code_hash"}
NOISE_FIELDS = {"last_login", "login_count", "fail_login_count", "changed_on", "updated_at"}
# records sealed through their audit events (full values), checked row by row by `flask audit verify`
COVERED = ("revisit_answer", "call_attempt", "identity_verification", "consent", "loan_ledger_entry", "key_screen")
NOT_AUDITED = {"audit_event", "audit_seal", "revisit_evidence", "verification_code", "ab_permission_view_role",
               "ab_permission", "ab_view_menu", "ab_permission_view"}
# personal data written masked with its keyed hash beside it: {table: {column: kind of crypto.lookup_hash}}
PERSONAL = {"customer": {"id_number": "id_number", "mobile": "mobile"},
            "beneficiary": {"id_number": "id_number"},
            "sms_message": {"phone": "mobile"},
            # the full bank card numbers (issue 15 item 4): 6217 **** **** 8507, as every page masks them
            "servicing_application": {"account_no": "card"}, "policy_loan": {"account_no": "card"}}
PERSONAL_KEYS = {"id_number": "id_number", "mobile": "mobile", "phone": "mobile",  # in record()'s dicts
                 "account_no": "card", "card_no": "card"}
MASKS = {"id_number": privacy.mask_id_number, "mobile": privacy.mask_mobile, "card": privacy.mask_card}
# bench-only (bench/seal_cost.py): False writes events without row_hash; install() sets it, never False in
# production
ROW_HASH = True


class AuditConfigError(RuntimeError):
    """A bench-only switch set where it must not be."""


class DeletionForbidden(Exception):
    """Raised when anything tries to delete a record that must be kept."""


@contextlib.contextmanager
def acting_as(name, actor_type="system", actor_id=None):
    """Name the actor for changes made outside a web request (Celery, CLI)."""
    token = _actor.set((actor_type, actor_id, name))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor():
    explicit = _actor.get()
    if explicit:
        return explicit
    if has_request_context():
        customer = g.get("customer")
        if customer is not None:
            return ("customer", customer.id, customer.name)
        from flask_login import current_user

        if getattr(current_user, "is_authenticated", False):
            return ("user", current_user.id, current_user.username)
        return ("anonymous", None, None)
    return ("system", None, "system")


def _plain(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def origin():
    """(ip, user agent) of the request being served, or (None, None) outside one."""
    if has_request_context():
        return request.remote_addr, (request.user_agent.string or "")[:255]
    return None, None


HASHED_FIELDS = ("occurred_at", "actor_type", "actor_id", "actor_name", "action", "entity", "entity_id",
                 "before", "after", "ip", "user_agent")


def _json_value(value):
    """What a JSON column gives back after a round trip (keys as strings, tuples as lists)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.loads(json.dumps(value, default=str))


def canonical(event, stored=False):
    """The canonical text of an event's content (a mapping or a row with HASHED_FIELDS): a JSON array
    with sorted keys, the time to the second, the ids as text or integers as stored. `stored`: before and
    after were read from the JSON columns (already what a round trip gives)."""
    plain = (lambda value: value) if stored else _json_value
    occurred = event["occurred_at"]
    if isinstance(occurred, datetime.datetime):
        occurred = occurred.replace(microsecond=0).isoformat(sep=" ")
    actor_id = event["actor_id"]
    return json.dumps([occurred, event["actor_type"], None if actor_id is None else int(actor_id),
                       event["actor_name"], event["action"], event["entity"], event["entity_id"],
                       plain(event["before"]), plain(event["after"]), event["ip"],
                       event["user_agent"]],
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_hash(event, stored=False):
    """SHA-256 (hex) of canonical(event): the row_hash an audit event is written with."""
    return hashlib.sha256(canonical(event, stored).encode("utf-8")).hexdigest()


def _personal(out, key, value, kind):
    """Put the masked form of a personal value under `key` and its keyed hash under `key`_hash."""
    from app.services.crypto import lookup_hash

    if value is None:
        out[key] = None
        out[f"{key}_hash"] = None
        return
    value = str(value)
    out[key] = MASKS[kind](value)
    out[f"{key}_hash"] = lookup_hash(value, kind)


def _scrub(values):
    """before/after (record()'s, and a JSON column's value) with the ID numbers, mobiles, phones and card
    numbers masked and hashed and the secrets hidden, at any depth: a beneficiary change's payload lists
    every beneficiary's ID number."""
    if isinstance(values, list):
        return [_scrub(value) for value in values]
    if not isinstance(values, dict):
        return values
    out = {}
    for key, value in values.items():
        if key in SECRET_FIELDS:
            out[key] = "***"
        elif key in PERSONAL_KEYS and isinstance(value, (str, int)) and "*" not in str(value):
            _personal(out, key, value, PERSONAL_KEYS[key])
        else:
            out.setdefault(key, _scrub(value))
    return out


def _event_row(action, entity, entity_id, before=None, after=None):
    actor_type, actor_id, actor_name = current_actor()
    from app.services import clock

    ip, user_agent = origin()
    row = dict(occurred_at=clock.now(), actor_type=actor_type, actor_id=actor_id,
               actor_name=actor_name, action=action, entity=entity,
               entity_id=None if entity_id is None else str(entity_id),
               before=before, after=after, ip=ip, user_agent=user_agent)
    row["row_hash"] = event_hash(row) if ROW_HASH else None
    return row


def record(session, action, entity, entity_id=None, before=None, after=None):
    """Write one explicit audit event (claims, reveals, bulk jobs) in the caller's transaction. Top-level
    id_number / mobile / phone values are written masked with their keyed hash (never in clear)."""
    session.execute(insert(AuditEvent.__table__),
                    [_event_row(action, entity, entity_id, _scrub(before), _scrub(after))])


def _column_value(table, key, value, out):
    """One column's value as the trail holds it: secrets hidden, personal data masked and hashed."""
    kind = PERSONAL.get(table, {}).get(key)
    if key in SECRET_FIELDS:
        out[key] = "***"
    elif kind:
        _personal(out, key, value, kind)
    elif key not in out:  # a personal column's <column>_hash already set from the value itself
        out[key] = _scrub(_plain(value))  # a JSON column's personal values masked inside it


def _values(obj, only=None):
    state = inspect(obj)
    table = obj.__tablename__
    out = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if only is not None and key not in only:
            continue
        _column_value(table, key, getattr(obj, key), out)
    return out


def _changes(obj):
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new and hist.deleted:
            continue
        _column_value(obj.__tablename__, attr.key, old, before)
        _column_value(obj.__tablename__, attr.key, new, after)
    return before, after


def _audited(obj):
    table = getattr(obj, "__tablename__", None)
    return table is not None and table not in NOT_AUDITED


def _before_flush(session, flush_context, instances):
    for obj in session.deleted:
        if isinstance(obj, Undeletable):
            raise DeletionForbidden(f"{type(obj).__name__} records are kept and cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditEvent) and session.is_modified(obj):
            raise DeletionForbidden("audit events cannot be changed")


def _after_flush(session, flush_context):
    rows = []
    for obj in session.new:
        if _audited(obj):
            state = inspect(obj)  # the identity is registered after this listener: read the key itself
            key = state.identity or state.mapper.primary_key_from_instance(obj)
            rows.append(_event_row("create", obj.__tablename__, key[0] if key else None, None, _values(obj)))
    for obj in session.dirty:
        if not _audited(obj) or not session.is_modified(obj):
            continue
        before, after = _changes(obj)
        if not before or set(before) <= NOISE_FIELDS:
            continue
        rows.append(_event_row("update", obj.__tablename__, inspect(obj).identity[0], before, after))
    for obj in session.deleted:
        if _audited(obj):
            rows.append(_event_row("delete", obj.__tablename__, inspect(obj).identity[0], _values(obj), None))
    if rows:
        session.connection().execute(insert(AuditEvent.__table__), rows)


def _forbid_bulk_delete(orm_execute_state):
    if orm_execute_state.is_delete:
        for mapper in orm_execute_state.all_mappers:
            if issubclass(mapper.class_, Undeletable):
                raise DeletionForbidden(f"{mapper.class_.__name__} records cannot be deleted")


def row_values(table, row):
    """The values of a row read with SQL as the listener records an object's (_values)."""
    out = {}
    for column in table.columns:
        _column_value(table.name, column.name, row._mapping[column], out)
    return out


def _covered_table(statement):
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    if name not in COVERED:
        return None
    return table if hasattr(table, "c") and "id" in table.c else None


def _capture_bulk(orm_execute_state):
    """A set-based INSERT or UPDATE of a COVERED table: run it, then write one event a row it touched with
    the row's full values (bulk_insert / bulk_update), in the same transaction."""
    from sqlalchemy import func, select

    table = _covered_table(orm_execute_state.statement)
    if table is None or orm_execute_state.execution_options.get("audit_bulk_captured"):
        return None
    table = table.metadata.tables.get(table.name, table)  # the plain Table (not an ORM annotation)
    session, statement = orm_execute_state.session, orm_execute_state.statement
    if orm_execute_state.is_update:
        where = statement.whereclause
        query = select(table.c.id) if where is None else select(table.c.id).where(where)
        ids = list(session.execute(query).scalars())
        result = orm_execute_state.invoke_statement(execution_options={"audit_bulk_captured": True})
        action, touched = "bulk_update", table.c.id.in_(ids)
        if not ids:
            return result
    else:
        before_max = session.execute(select(func.max(table.c.id))).scalar() or 0
        result = orm_execute_state.invoke_statement(execution_options={"audit_bulk_captured": True})
        action, touched = "bulk_insert", table.c.id > before_max
    rows = [_event_row(action, table.name, row.id, None, row_values(table, row))
            for row in session.execute(select(table).where(touched).order_by(table.c.id))]
    if rows:
        session.execute(insert(AuditEvent.__table__), rows)
    return result


def _on_orm_execute(orm_execute_state):
    _forbid_bulk_delete(orm_execute_state)
    if orm_execute_state.is_insert or orm_execute_state.is_update:
        return _capture_bulk(orm_execute_state)
    return None


def _row_hash_setting():
    """AUDIT_ROW_HASH from the app config, else the environment; True unless set to 0/false/no/off."""
    from flask import current_app, has_app_context

    value = current_app.config.get("AUDIT_ROW_HASH") if has_app_context() else None
    if value is None:
        value = os.environ.get("AUDIT_ROW_HASH")
    if value is None:
        return True
    return str(value).strip().lower() not in ("0", "false", "no", "off")


def install(_session=None):
    """Attach the listeners to every ORM session (once per process); read the bench-only AUDIT_ROW_HASH."""
    global ROW_HASH
    from flask import current_app, has_app_context

    hashing = _row_hash_setting()
    production = (current_app.config.get("PORTAL_ENV") if has_app_context() else os.environ.get("PORTAL_ENV"))
    if not hashing and production == "production":
        raise AuditConfigError("AUDIT_ROW_HASH=0 is a bench-only switch: production always hashes audit events")
    ROW_HASH = hashing
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _on_orm_execute)
