"""Tamper evidence of the audit trail (issue 15 point 1): seals and their verification.

Every audit event is written with row_hash = SHA-256 of its canonical content (audit.event_hash). A beat
job (app/tasks/audit.py, every ten minutes; `flask audit seal`) seals the events written since the last
seal: the ids last_id+1.. in id order, up to a committed-safe horizon, into one AuditSeal row that holds
the range, the ids of the range that hold no event (gaps: rolled-back inserts), the count, and the running
SHA-256 over "<id>:<row_hash>" of each event, chained to the previous seal's chain_hash. Writers never
wait for it: they only insert their rows; the sealer reads.

The horizon: an event's id is given when it is inserted but it is seen only when its transaction commits,
so a lower id may appear after a higher one. The sealer stops at the first event not older than
AUDIT_SEAL_DELAY_SECONDS and, on MariaDB, not older than the oldest transaction still open
(information_schema.innodb_trx): an id still in flight belongs to a transaction that began before every
event sealed after it, so nothing is sealed past it. A gap sealed is recorded; an event that later appears
in it is reported as inserted.

verify() recomputes each event's hash (a change: 改动), walks each seal's range against its gaps and count
(a missing id: 删除; an id in a gap: 插入) and its chain (content and hash rewritten together: the seal
whose chain breaks), checks that each seal follows the one before, and replays the events of the COVERED
records (full values at creation and on set-based writes, the changed values on updates) against their
rows (a row changed, deleted, or without any event). It streams the events in id order with a server-side
cursor, in batches. An event written before the trail masked personal data and redacted since (`flask audit
redact-legacy`, services/redaction.py) keeps its sealed row_hash; its content is accepted only through an
intact redaction record (original_hash = row_hash, redacted_hash = the content's hash, its own hash, and its
run's redact_legacy event); otherwise it is reported like any change.
"""
import datetime
import hashlib
import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Boolean, Date, DateTime, Float, JSON, Numeric, func, select, text, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.audit import AuditEvent, AuditSeal
from app.services import audit, clock, redaction

GENESIS = "0" * 64
DEFAULT_DELAY_SECONDS = 120
BATCH = 20000
EVENT_COLUMNS = [AuditEvent.__table__.c[name] for name in ("id", "row_hash", *audit.HASHED_FIELDS)]
FULL_ACTIONS = {"create", "bulk_insert", "bulk_update"}  # events holding every column of the row


def delay_seconds():
    value = current_app.config.get("AUDIT_SEAL_DELAY_SECONDS")
    if value is None:
        value = os.environ.get("AUDIT_SEAL_DELAY_SECONDS", DEFAULT_DELAY_SECONDS)
    return max(int(value), 0)


def _oldest_open_transaction_seconds(session):
    """Age in seconds of the oldest open InnoDB transaction but this one (MariaDB), or None."""
    if session.get_bind().dialect.name not in ("mysql", "mariadb"):
        return None
    try:
        with session.begin_nested():
            age = session.execute(text(
                "SELECT TIMESTAMPDIFF(SECOND, MIN(trx_started), NOW()) FROM information_schema.innodb_trx "
                "WHERE trx_mysql_thread_id <> CONNECTION_ID()")).scalar()
    except Exception:  # no PROCESS privilege: the delay alone decides
        return None
    return None if age is None else int(age)


def horizon(session=None):
    """Events written before this time may be sealed."""
    session = session or db.session
    now = clock.now()
    wait = delay_seconds()
    age = _oldest_open_transaction_seconds(session)
    if age is not None:
        wait = max(wait, age + 2)
    return now - datetime.timedelta(seconds=wait)


def _link(digest, event_id, row_hash):
    digest.update(f"{event_id}:{row_hash}\n".encode("ascii"))


def seal(limit=100000):
    """Seal the events committed since the last seal (at most `limit`) in one new AuditSeal, in its own
    transaction; returns it, or None when there was nothing to seal or another sealer got there first.
    Events without row_hash (written outside services/audit.py) get it now."""
    session = db.session
    last = session.execute(select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1)).scalar_one_or_none()
    after = last.last_id if last else 0
    prev_hash = last.chain_hash if last else GENESIS
    until = horizon(session)
    # an event dated ahead of this clock was written under another clock (PORTAL_CLOCK_OFFSET_DAYS in a
    # demo moved back): its time says nothing of its transaction, so it does not hold the seal back
    ahead = clock.now() + datetime.timedelta(minutes=1)
    rows = session.execute(select(*EVENT_COLUMNS).where(AuditEvent.id > after)
                           .order_by(AuditEvent.id).limit(limit)).all()
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    gaps, count, expected, last_id, fill = [], 0, after + 1, None, []
    for row in rows:
        if until <= row.occurred_at <= ahead:
            break
        if row.id > expected:
            gaps.append([expected, row.id - 1])
        row_hash = row.row_hash
        if row_hash is None:
            row_hash = audit.event_hash(row._mapping, stored=True)
            fill.append((row.id, row_hash))
        _link(digest, row.id, row_hash)
        count, expected, last_id = count + 1, row.id + 1, row.id
    if not count:
        session.rollback()
        return None
    for event_id, row_hash in fill:
        session.execute(update(AuditEvent.__table__).where(AuditEvent.id == event_id,
                                                           AuditEvent.row_hash.is_(None)).values(row_hash=row_hash))
    record = AuditSeal(first_id=after + 1, last_id=last_id, count=count, gaps=gaps or None,
                       prev_hash=prev_hash, chain_hash=digest.hexdigest(), sealed_at=clock.now())
    session.add(record)
    try:
        session.commit()
    except IntegrityError:  # another sealer sealed from the same id first
        session.rollback()
        return None
    return record


# --- verification -------------------------------------------------------------------------------------

@dataclass
class Break:
    kind: str  # changed / deleted / inserted / seal / redaction / record_changed / record_deleted /
    # record_inserted
    message: str
    event_id: int = None
    seal_id: int = None


@dataclass
class Report:
    events: int = 0
    seals: int = 0
    unsealed: int = 0
    records: int = 0
    first_id: int = None
    last_sealed_id: int = None
    last_seal: object = None
    breaks: list = field(default_factory=list)

    @property
    def intact(self):
        return not self.breaks

    def summary(self):
        if self.breaks:
            return self.breaks[0].message
        if not self.seals:
            return _("审计记录完好:共 %(n)s 条事件,尚无封存(%(u)s 条待封存)", n=self.events, u=self.unsealed)
        return _("审计记录完好:%(s)s 个封存,事件 #%(a)s–#%(b)s 共 %(n)s 条,待封存 %(u)s 条,核对受保护记录 "
                 "%(r)s 条;最后封存 #%(id)s 于 %(t)s,链哈希 %(h)s",
                 s=self.seals, a=self.first_id, b=self.last_sealed_id, n=self.events - self.unsealed,
                 u=self.unsealed, r=self.records, id=self.last_seal.id, t=self.last_seal.sealed_at,
                 h=self.last_seal.chain_hash[:16])


class _SealWalk:
    """Follows the seals along the stream of events in id order."""

    def __init__(self, seals, report, prev_hash):
        self.seals, self.report, self.index = seals, report, -1
        self.prev_hash = prev_hash
        self.current = None
        self._next()

    def _fail(self, kind, message, event_id=None):
        seal_id = self.current.id if self.current else None
        self.report.breaks.append(Break(kind, message, event_id, seal_id))

    def _next(self):
        self.index += 1
        if self.index >= len(self.seals):
            self.current = None
            return
        previous = self.current
        self.current = seal_ = self.seals[self.index]
        if seal_.prev_hash != self.prev_hash or (previous and seal_.first_id != previous.last_id + 1):
            self._fail("seal", _("封存 #%(id)s(事件 #%(a)s–#%(b)s)与前一个封存接不上:封存记录被改动或删除",
                                 id=seal_.id, a=seal_.first_id, b=seal_.last_id))
        self.digest = hashlib.sha256(seal_.prev_hash.encode("ascii"))
        self.count = 0
        self.gaps = [tuple(g) for g in (seal_.gaps or [])]
        self.gap_index = 0
        self.expected = self._skip_gaps(seal_.first_id)

    def _skip_gaps(self, event_id):
        while self.gap_index < len(self.gaps) and self.gaps[self.gap_index][1] < event_id:
            self.gap_index += 1
        if self.gap_index < len(self.gaps) and self.gaps[self.gap_index][0] <= event_id:
            return self.gaps[self.gap_index][1] + 1
        return event_id

    def _in_gap(self, event_id):
        for low, high in self.gaps[self.gap_index:]:
            if low <= event_id <= high:
                return True
            if low > event_id:
                return False
        return False

    def _finish(self):
        seal_ = self.current
        if self.expected <= seal_.last_id:
            self._fail("deleted", _("事件 #%(e)s 已被删除(封存 #%(id)s 记录了它)", e=self.expected, id=seal_.id),
                       self.expected)
        elif self.count != seal_.count or self.digest.hexdigest() != seal_.chain_hash:
            self._fail("seal", _("封存 #%(id)s(事件 #%(a)s–#%(b)s,%(n)s 条)的哈希链不符:其中的事件连同其哈希被改写,"
                                 "或封存记录被改动", id=seal_.id, a=seal_.first_id, b=seal_.last_id, n=seal_.count))
        self.prev_hash = seal_.chain_hash
        self.report.seals += 1
        self.report.last_seal = seal_
        self._next()

    def event(self, event_id, row_hash):
        """Returns False once a break is found."""
        if self.report.breaks:
            return False
        while self.current is not None and event_id > self.current.last_id:
            self._finish()
            if self.report.breaks:
                return False
        if self.current is None:
            return True  # after the last seal: not sealed yet
        if event_id < self.current.first_id or self._in_gap(event_id):
            self._fail("inserted", _("事件 #%(e)s 是事后插入的:封存 #%(id)s 封存时没有这条事件",
                                     e=event_id, id=self.current.id), event_id)
            return False
        if event_id > self.expected:
            self._fail("deleted", _("事件 #%(e)s 已被删除(封存 #%(id)s 记录了它)", e=self.expected,
                                    id=self.current.id), self.expected)
            return False
        _link(self.digest, event_id, row_hash)
        self.count += 1
        self.expected = self._skip_gaps(event_id + 1)
        return True

    def end(self):
        while self.current is not None and not self.report.breaks:
            self._finish()


def _label(table):
    return {"revisit_answer": _("回访答案"), "call_attempt": _("电话回访拨打记录"),
            "identity_verification": _("身份核验记录"), "consent": _("被保险人同意书"),
            "loan_ledger_entry": _("贷款台账记录"), "key_screen": _("关键页面记录")}.get(table, table)


def _same(column, recorded, current):
    if recorded == current:
        return True
    if recorded is None or current is None:
        return False
    kind = column.type
    try:
        if isinstance(kind, Numeric) and not isinstance(kind, Float):
            return Decimal(str(recorded)) == Decimal(str(current))
        if isinstance(kind, Float):
            return abs(float(recorded) - float(current)) <= 1e-6 * max(1.0, abs(float(current)))
    except (InvalidOperation, ValueError, TypeError):
        return False
    if isinstance(kind, DateTime):
        return str(recorded)[:19].replace("T", " ") == str(current)[:19].replace("T", " ")
    if isinstance(kind, (Date, Boolean, JSON)):
        return audit._json_value(recorded) == audit._json_value(current)
    return False


class _Records:
    """The state of each COVERED row as its audit events say, compared with the rows at the end."""

    def __init__(self):
        self.state = {name: {} for name in audit.COVERED}
        self.partial = set()  # rows whose creation is before --since: not compared

    def event(self, row):
        states = self.state.get(row.entity)
        if states is None:
            return
        if row.entity_id is not None and row.entity_id.isdigit():
            key = int(row.entity_id)
        elif row.entity_id is None and isinstance(row.after, dict) and isinstance(row.after.get("id"), int):
            key = row.after["id"]  # create events written before their entity_id was filled in
        else:
            return
        if row.action in FULL_ACTIONS and isinstance(row.after, dict):
            states[key] = dict(row.after)
        elif row.action == "update" and isinstance(row.after, dict):
            if key in states:
                states[key].update(row.after)
            else:
                self.partial.add((row.entity, key))

    def _rows(self, session, table, since_id):
        if not since_id:
            yield from session.execute(select(table).order_by(table.c.id)
                                       .execution_options(stream_results=True, yield_per=BATCH))
            return
        keys = sorted(self.state[table.name])
        for start in range(0, len(keys), 1000):
            yield from session.execute(select(table).where(table.c.id.in_(keys[start:start + 1000]))
                                       .order_by(table.c.id))

    def check(self, session, report, since_id):
        """Compare every COVERED row with its events (with --since, the rows created since)."""
        for name in audit.COVERED:
            table = db.metadata.tables.get(name)
            if table is None:
                continue
            states = self.state[name]
            seen, problem = set(), None
            for row in self._rows(session, table, since_id):
                seen.add(row.id)
                recorded = states.get(row.id)
                if recorded is None:
                    if not since_id and (name, row.id) not in self.partial:
                        problem = problem or ("inserted", row.id, None)
                    continue
                report.records += 1
                values = audit.row_values(table, row)
                for column in table.columns:
                    if column.name in recorded and not _same(column, recorded[column.name], values[column.name]):
                        problem = problem or ("changed", row.id, (column.name, recorded[column.name],
                                                                   values[column.name]))
                        break
            missing = sorted(set(states) - seen)
            if problem is None and missing:
                problem = ("deleted", missing[0], None)
            if problem is None:
                continue
            kind, key, detail = problem
            if kind != "deleted" and self._recheck(table, key):
                continue  # written while verifying: its row and events agree now
            if kind == "inserted":
                message = _("%(t)s #%(id)s 没有任何审计事件:是绕过系统用 SQL 插入的", t=_label(name), id=key)
            elif kind == "changed":
                message = _("%(t)s #%(id)s 的“%(f)s”被改动:审计事件记录为 %(a)s,数据库现为 %(b)s",
                            t=_label(name), id=key, f=detail[0], a=detail[1], b=detail[2])
            else:
                message = _("%(t)s #%(id)s 已被删除(审计事件记录了它的创建)", t=_label(name), id=key)
            report.breaks.append(Break("record_" + kind, message))
            return

    @staticmethod
    def _recheck(table, key):
        """The row and all its events read again in a new transaction (a write committed while
        verifying is no break)."""
        with db.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id == key)).first()
            events = conn.execute(select(AuditEvent.action, AuditEvent.after)
                                  .where(AuditEvent.entity == table.name, AuditEvent.entity_id == str(key))
                                  .order_by(AuditEvent.id)).all()
        state = None
        for action, after in events:
            if action in FULL_ACTIONS and isinstance(after, dict):
                state = dict(after)
            elif action == "update" and isinstance(after, dict) and state is not None:
                state.update(after)
        if row is None or state is None:
            return False
        values = audit.row_values(table, row)
        return all(_same(c, state[c.name], values[c.name]) for c in table.columns if c.name in state)


def verify(since=None):
    """Check the whole trail (or the seals made from `since`, a date, on): a Report with the first break."""
    session = db.session
    report = Report()
    seals_query = select(AuditSeal).order_by(AuditSeal.id)
    prev_hash, start_id = GENESIS, 1
    if since is not None:
        first = session.execute(select(AuditSeal).where(AuditSeal.sealed_at >= clock.start_of_day(since))
                                .order_by(AuditSeal.id).limit(1)).scalar_one_or_none()
        if first is not None:
            seals_query = seals_query.where(AuditSeal.id >= first.id)
            prev_hash, start_id = first.prev_hash, first.first_id
        else:
            seals_query = seals_query.where(AuditSeal.id < 0)
            start_id = (session.execute(select(func.min(AuditEvent.id))
                                        .where(AuditEvent.occurred_at >= clock.start_of_day(since))).scalar()
                        or (session.execute(select(func.max(AuditEvent.id))).scalar() or 0) + 1)
    seals = session.execute(seals_query.execution_options(populate_existing=True)).scalars().all()
    last_sealed = seals[-1].last_id if seals else start_id - 1
    walk = _SealWalk(seals, report, prev_hash)
    records = _Records()
    redactions = redaction.Redactions(session, start_id)
    query = (select(*EVENT_COLUMNS).where(AuditEvent.id >= start_id).order_by(AuditEvent.id)
             .execution_options(stream_results=True, yield_per=BATCH))
    for row in session.execute(query):
        report.events += 1
        if report.first_id is None:
            report.first_id = row.id
        computed = audit.event_hash(row._mapping, stored=True)
        if row.row_hash is not None and row.row_hash != computed:
            if redactions.accepts(row.id, row.row_hash, computed):
                computed = row.row_hash  # redacted: the sealed hash is of the content before
            elif redactions.problem(row.id):
                report.breaks.append(Break("redaction", redactions.problem(row.id), row.id,
                                           walk.current.id if walk.current else None))
                break
        elif redactions.operation_missing(row):
            report.breaks.append(Break("redaction", _("脱敏操作(审计事件 #%(e)s)的脱敏记录已全部被删除", e=row.id),
                                       row.id))
            break
        if row.id > last_sealed:
            report.unsealed += 1
            if row.row_hash is not None and row.row_hash != computed:
                report.breaks.append(Break("changed", _("事件 #%(e)s 的内容被改动(与写入时的哈希不符,尚未封存)",
                                                        e=row.id), row.id))
                break
        elif row.row_hash != computed:
            report.breaks.append(Break("changed", _("事件 #%(e)s 的内容被改动(与写入时的哈希不符)", e=row.id),
                                       row.id, walk.current.id if walk.current else None))
            break
        elif not walk.event(row.id, row.row_hash):
            break
        records.event(row)
    if not report.breaks:
        walk.end()
    report.last_sealed_id = last_sealed
    if not report.breaks and (forged := redactions.first_problem()):
        report.breaks.append(Break("redaction", forged[1], forged[0]))
    if not report.breaks:
        records.check(session, report, start_id > 1)
    session.rollback()
    return report


def last_seal_status():
    """The last seal (time, range, count) and whether its events still hash to it, for the dashboard."""
    session = db.session
    last = session.execute(select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1)
                           .execution_options(populate_existing=True)).scalar_one_or_none()
    if last is None:
        return None
    previous = session.execute(select(AuditSeal.chain_hash).where(AuditSeal.id < last.id)
                               .order_by(AuditSeal.id.desc()).limit(1)).scalar()
    report = Report()
    walk = _SealWalk([last], report, previous or GENESIS)
    redactions = redaction.Redactions(session, last.first_id, last.last_id)
    forged = redactions.first_problem()
    ok = forged is None
    query = (select(*EVENT_COLUMNS).where(AuditEvent.id.between(last.first_id, last.last_id))
             .order_by(AuditEvent.id).execution_options(stream_results=True, yield_per=BATCH))
    for row in session.execute(query) if ok else ():
        computed = audit.event_hash(row._mapping, stored=True)
        if row.row_hash != computed and not redactions.accepts(row.id, row.row_hash, computed) \
                or not walk.event(row.id, row.row_hash):
            ok = False
            break
    if ok:
        walk.end()
        ok = not report.breaks
    return {"id": last.id, "sealed_at": last.sealed_at, "first_id": last.first_id, "last_id": last.last_id,
            "count": last.count, "chain_hash": last.chain_hash, "ok": ok,
            "problem": None if ok else (forged[1] if forged else report.breaks[0].message if report.breaks
                                        else _("事件内容与哈希不符"))}
