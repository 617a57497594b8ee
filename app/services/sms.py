"""SMS gateway: queue a message from a template, send it exactly once through a backend.

Backends: `outbox` (default; the stored message is the outbox, shown in the admin) and
`aliyun` (the real Alibaba Cloud SDK, app/services/sms_aliyun.py). Alibaba's SendSms is not
idempotent, so a message is claimed with a conditional UPDATE before any send: a retried or
duplicated task finds it no longer QUEUED and sends nothing.

Statuses (app/models/sms.py): QUEUED -> SENDING (claimed) -> SENT -> DELIVERED / UNDELIVERED
(receipt); FLOW_CONTROLLED waits for the beat job (dispatch_due) with backoff; FAILED keeps the
provider's Code. FAILED with provider_code UNKNOWN_RESULT means "may have been sent" (timeout
after the request left, HTTP 5xx, worker died while SENDING): never resent automatically.

Settling an unknown result (issue 14, item 5): the beat job settle_unknown() asks the provider's own
record (Alibaba's QuerySendDetails by phone and day, matched by OutId: a single send carries the
message's out_id, a SendBatchSms call its claim token, kept in request_id while the result is
unknown) once the message has been unknown for SETTLE_AFTER. Found: SENT / DELIVERED / UNDELIVERED
with provider_code CONFIRMED_SENT, and never resent. Not found once NOT_FOUND_GRACE has passed since
the send: FAILED with provider_code NOT_AT_PROVIDER, which an operator may resend (resend() makes a
new message, at most one per message). A delivery receipt settles it too (CONFIRMED_SENT). While
the result is unknown, and once the provider is known to have it, resend() refuses. The outbox
backend settles trivially: what it "sent" is the stored row.

Secrets (issue 13, item 6): a verification code is queued with `secret={"code": ...}`. The stored
message (params and content, what the admin shows) has it masked (SECRET_MASK); the code itself
travels sealed (encrypted with the app's SECRET_KEY) in the send task's argument and is put back into
the text only in the copy handed to the backend at send time. A message whose secret is gone (a
retry by the beat job, a resend) is never sent masked: it fails and the customer asks for a new code.
In development with the outbox backend the last such texts are kept in the process's memory
(development_outbox(), shown to staff at /smsmessageview/development-codes, 404 in production).
"""
import base64
import hashlib
import json
import re
import threading
import uuid
from collections import deque
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, insert, or_, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.sms import SmsMessage, SmsTemplate
from app.services import audit, clock, unit
from app.services.errors import DomainError
from app.services.sms_backend import Finding, Lookup, SendResult, params_json  # noqa: F401  (public here too)

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
SENDABLE = ("QUEUED", "FLOW_CONTROLLED")
UNKNOWN_RESULT = "UNKNOWN_RESULT"  # provider_code of a FAILED message that may have gone out
CONNECT_ERROR = "CONNECT_ERROR"  # provider_code of a QUEUED message whose last try never connected
BATCH_SIZE = 100  # SendBatchSms takes at most 100 numbers
MAX_SEND_ATTEMPTS = 8  # flow control / connect errors: 1, 2, 4 ... 60 minutes apart, then FAILED
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(minutes=60)
STUCK_AFTER = timedelta(minutes=10)  # a SENDING older than this lost its worker mid-send
CONFIRMED_SENT = "CONFIRMED_SENT"  # provider_code of an unknown result the provider's record or a receipt proved sent
NOT_AT_PROVIDER = "NOT_AT_PROVIDER"  # provider_code of an unknown result the provider has no record of
SETTLE_AFTER = timedelta(minutes=2)  # an unknown result is looked up at the provider after this
NOT_FOUND_GRACE = timedelta(minutes=10)  # ... and counts as never received only once this has passed
SEND_WINDOW = timedelta(minutes=5)  # the send happened within this of the unknown message's updated_at
SETTLE_BATCH = 200  # unknown messages looked up per run of the job
# Alibaba keeps 30 days of send records: an older unknown result is never looked up (absence there
# would prove nothing) and stays for an operator.
SETTLE_WITHIN = timedelta(days=25)
# Codes about one number of a batch: the batch is split and each number sent alone.
SECRET_MASK = "******"  # what the stored message shows in place of a secret (a verification code)
SECRET_LOST = "SECRET_NOT_AVAILABLE"  # provider_code of a message whose secret was no longer at hand
DEVELOPMENT_OUTBOX_SIZE = 50
PER_NUMBER_CODES = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.BLACK_KEY_CONTROL_LIMIT", "isv.DAY_LIMIT_CONTROL",
                    "isv.MOBILE_COUNT_OVER_LIMIT", "isv.BUSINESS_LIMIT_CONTROL"}


def render(template: SmsTemplate, params: dict) -> str:
    missing = [k for k in PLACEHOLDER.findall(template.content) if k not in params]
    if missing:
        raise DomainError("sms_template_params", missing=",".join(missing))
    return PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), template.content)


def queue(template_code, phone, params, purpose=None, customer_id=None, link_id=None, secret=None) -> SmsMessage:
    """Store a message to send (in the caller's transaction); returns it unsent.

    `secret`: params never stored (a verification code); the stored params and content show
    SECRET_MASK in their place. Pass `seal(secret)` to send() (the "sms.send" task) to send it."""
    template = db.session.query(SmsTemplate).filter_by(code=template_code, is_active=True).one_or_none()
    if template is None:
        raise DomainError("sms_template_missing", code=template_code)
    params = {k: str(v) for k, v in params.items()}
    text = None
    if secret:
        text = render(template, {**params, **{k: str(v) for k, v in secret.items()}})  # checked now
        params.update({k: SECRET_MASK for k in secret})
    message = SmsMessage(
        template=template, phone=phone, params=params, content=render(template, params),
        purpose=purpose, customer_id=customer_id, link_id=link_id,
        backend=current_app.config["SMS_BACKEND"], status="QUEUED",
        out_id=uuid.uuid4().hex, next_attempt_at=clock.now(),
    )
    db.session.add(message)
    db.session.flush()
    if text is not None:
        _keep_in_development_outbox(message, text)
    return message


# --- secrets held out of the database -------------------------------------------------------------
def _fernet():
    from cryptography.fernet import Fernet

    key = hashlib.sha256(("sms-secret:" + current_app.config["SECRET_KEY"]).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret) -> str:
    """The secret params as an opaque token for the send task's argument (the broker sees no code)."""
    return _fernet().encrypt(json.dumps({k: str(v) for k, v in secret.items()}).encode()).decode()


def _unseal(token):
    from cryptography.fernet import InvalidToken

    try:
        value = json.loads(_fernet().decrypt(str(token).encode()))
    except (InvalidToken, ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def holds_secret(params) -> bool:
    """True when a stored message's params have a secret masked out (it cannot be sent from the row)."""
    return isinstance(params, dict) and SECRET_MASK in params.values()


_HOLDS_SECRET_SQL = and_(func.coalesce(SmsMessage.purpose, "") == "CODE", SmsMessage.content.contains(SECRET_MASK))


class _Outgoing:
    """The message as handed to the backend: the stored row's attributes, with the secret put back
    into params and content. Never added to the session, so the secret is never written."""

    def __init__(self, message, params, content):
        self._message, self.params, self.content = message, params, content

    def __getattr__(self, name):
        return getattr(self._message, name)


# In development (not PORTAL_ENV=production, SMS_BACKEND=outbox: nothing leaves the portal) the last
# texts queued with a secret are kept in this process's memory, so that a developer (and the tests,
# codes.development_code) can read a code that the admin shows masked. Never in production.
_development_outbox = deque(maxlen=DEVELOPMENT_OUTBOX_SIZE)
_development_lock = threading.Lock()


def development_outbox_enabled() -> bool:
    config = current_app.config
    return config.get("PORTAL_ENV") != "production" and config.get("SMS_BACKEND") == "outbox"


def _keep_in_development_outbox(message, text):
    if not development_outbox_enabled():
        return
    with _development_lock:
        _development_outbox.append({"message_id": message.id, "out_id": message.out_id, "phone": message.phone,
                                    "purpose": message.purpose, "text": text, "at": clock.now()})


def development_outbox(limit=DEVELOPMENT_OUTBOX_SIZE, phone=None) -> list:
    """The last texts queued with a secret (verification codes), newest first (development only; [] in
    production or with a real SMS backend)."""
    if not development_outbox_enabled():
        return []
    with _development_lock:
        rows = [dict(r) for r in reversed(_development_outbox) if phone is None or r["phone"] == phone]
    return rows[:limit]


def queue_many(template_code, items, purpose=None) -> list:
    """Queue many messages of one template with set-based INSERTs (bulk invitations, load tests).

    `items`: dicts with phone, params and optionally customer_id, link_id. Everything is rendered
    (and checked) before anything is written; one audit event records the batch. Returns the
    new ids in the order of `items`. Runs in the caller's transaction.
    """
    template = db.session.query(SmsTemplate).filter_by(code=template_code, is_active=True).one_or_none()
    if template is None:
        raise DomainError("sms_template_missing", code=template_code)
    now, backend = clock.now(), current_app.config["SMS_BACKEND"]
    rows = []
    for item in items:
        params = {k: str(v) for k, v in item["params"].items()}
        rows.append(dict(template_id=template.id, phone=item["phone"], params=params,
                         content=render(template, params), purpose=purpose,
                         customer_id=item.get("customer_id"), link_id=item.get("link_id"),
                         backend=backend, status="QUEUED", out_id=uuid.uuid4().hex, send_attempts=0,
                         next_attempt_at=now, created_at=now, updated_at=now))
    if not rows:
        return []
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(SmsMessage.__table__), rows[start:start + 5000])
    by_out_id = {}
    out_ids = [r["out_id"] for r in rows]
    for start in range(0, len(out_ids), 5000):
        for row in db.session.query(SmsMessage.id, SmsMessage.out_id).filter(
                SmsMessage.out_id.in_(out_ids[start:start + 5000])):
            by_out_id[row.out_id] = row.id
    ids = [by_out_id[o] for o in out_ids]
    audit.record(db.session, "queue_many", "sms_message", None,
                 after={"template": template_code, "count": len(ids), "first_id": min(ids),
                        "last_id": max(ids)})
    return ids


def batches(items, size=BATCH_SIZE):
    """The one batch splitter: a SendBatchSms call takes at most BATCH_SIZE numbers."""
    items = list(items)
    return [items[start:start + size] for start in range(0, len(items), size)]


def split_batches(message_ids, size=BATCH_SIZE):
    """Message ids as send jobs: ([chunks of two or more ids], [ids that go alone]); a chunk of
    one is a plain SendSms."""
    chunks, singles = [], []
    for chunk in batches(message_ids, size):
        if len(chunk) == 1:
            singles.extend(chunk)
        else:
            chunks.append(chunk)
    return chunks, singles


def send_after_commit(message_ids):
    """Send these queued messages once the current transaction commits (dropped on rollback)."""
    chunks, singles = split_batches(message_ids)
    for chunk in chunks:
        unit.enqueue("sms.send_batch", chunk)
    for message_id in singles:
        unit.enqueue("sms.send", message_id)


def _due(now):
    """Sendable now: a first attempt at once (whatever the clocks of web and worker say), a
    retry once its backoff has passed."""
    return and_(SmsMessage.status.in_(SENDABLE),
                or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now,
                    SmsMessage.send_attempts == 0))


def _claim(message_id) -> bool:
    """QUEUED/FLOW_CONTROLLED (and due) -> SENDING, atomically; False if someone else has it."""
    now = clock.now()
    result = db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.id == message_id, _due(now))
        .values(status="SENDING", send_attempts=SmsMessage.send_attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        audit.record(db.session, "claim", "sms_message", message_id, after={"status": "SENDING"})
    db.session.commit()
    return result.rowcount == 1


def backend_for(name):
    if name == "outbox":
        return OutboxBackend()
    if name == "aliyun":
        from app.services.sms_aliyun import AliyunBackend

        return AliyunBackend.from_config(current_app.config)
    raise DomainError("sms_backend_unknown", backend=name)


class OutboxBackend:
    """Sends nothing: the stored message is the outbox, read in the admin."""

    def lookup(self, lookups) -> dict:
        """What it wrote is the stored row: every message is "received"."""
        return {item.message_id: Finding("SENT") for item in lookups}

    def send(self, message: SmsMessage, template: SmsTemplate) -> SendResult:
        return SendResult("SENT", code="OK", message="outbox", biz_id=f"outbox-{message.out_id[:12]}")

    def send_batch(self, messages, template, out_id=None) -> SendResult:
        return SendResult("SENT", code="OK", message="outbox", biz_id=f"outbox-{(out_id or 'batch')[:12]}")


def retry_delay(attempts) -> timedelta:
    """Backoff after the n-th attempt: 1, 2, 4, ... minutes, at most an hour."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)


def _outcome(result: SendResult, attempts, now) -> dict:
    """The column values a send result leaves on a message."""
    values = dict(provider_code=result.code, provider_message=(result.message or "")[:255],
                  biz_id=result.biz_id, request_id=result.request_id, updated_at=now)
    status = result.status
    if status in ("FLOW_CONTROLLED", "RETRY") and attempts >= MAX_SEND_ATTEMPTS:
        status = "FAILED"
    if status == "SENT":
        values.update(status="SENT", sent_at=now, next_attempt_at=None)
    elif status == "FLOW_CONTROLLED":
        values.update(status="FLOW_CONTROLLED", next_attempt_at=now + retry_delay(attempts))
    elif status == "RETRY":  # never reached Alibaba: safe to try again later
        values.update(status="QUEUED", next_attempt_at=now + retry_delay(attempts))
    else:
        values.update(status="FAILED", next_attempt_at=None)
    return values


def send(message_id, sealed=None) -> str:
    """Send one queued message once; returns its status afterwards. `sealed`: seal(secret) of a
    message queued with a secret; the secret goes into the backend's copy only."""
    message = db.session.get(SmsMessage, message_id)
    if message is None:
        return "MISSING"
    backend = backend_for(message.backend)
    if not _claim(message_id):
        db.session.refresh(message)
        return message.status
    db.session.refresh(message)
    outgoing, secret = message, None
    if holds_secret(message.params):
        secret = _unseal(sealed) if sealed else None
        if secret is None:  # a retry or a resend: the code is gone, never send "******" to a customer
            return _secret_lost(message_id)
        params = {**message.params, **secret}
        outgoing = _Outgoing(message, params, render(message.template, params))
    try:
        result = backend.send(outgoing, message.template)
    except Exception as exc:  # a bug in a backend after the claim: the SMS may have left
        current_app.logger.exception("SMS %s: backend raised", message_id)
        result = SendResult("FAILED", UNKNOWN_RESULT, f"{type(exc).__name__}: {exc}")
    del outgoing, secret
    values = _outcome(result, message.send_attempts, clock.now())
    if holds_secret(message.params) and values["status"] in ("QUEUED", "FLOW_CONTROLLED"):
        # nobody can retry it later without the code: the customer asks for a new one
        values.update(status="FAILED", next_attempt_at=None)
    # Re-read under a row lock: a delivery receipt (found by our OutId) may have overtaken
    # Alibaba's reply; it has the last word on the status.
    message = db.session.query(SmsMessage).filter_by(id=message_id).with_for_update() \
        .populate_existing().one()
    if message.status != "SENDING":
        values = {k: v for k, v in values.items() if k not in ("status", "next_attempt_at")}
    for key, value in values.items():
        setattr(message, key, value)
    db.session.commit()
    return message.status


def _secret_lost(message_id) -> str:
    """A claimed message whose secret is not at hand: FAILED, never sent masked."""
    now = clock.now()
    db.session.execute(
        update(SmsMessage).where(SmsMessage.id == message_id, SmsMessage.status == "SENDING")
        .values(status="FAILED", provider_code=SECRET_LOST, next_attempt_at=None, updated_at=now,
                provider_message="验证码只在发送时存在,未能发出;请客户重新获取验证码")
        .execution_options(synchronize_session=False))
    db.session.commit()
    return "FAILED"


def send_batch(message_ids) -> dict:
    """Send many queued messages with SendBatchSms: one call per template and 100 numbers.

    The messages are claimed together with one conditional UPDATE that stamps a claim token
    into request_id; only the rows carrying the token are sent, so a duplicated batch task or a
    concurrent single send of the same message sends nothing twice. Returns {status: count}.
    """
    ids = sorted(set(int(i) for i in message_ids))
    if not ids:
        return {}
    token = "claim-" + uuid.uuid4().hex
    now = clock.now()
    for start in range(0, len(ids), 1000):
        db.session.execute(
            update(SmsMessage)
            .where(SmsMessage.id.in_(ids[start:start + 1000]), _due(now))
            .values(status="SENDING", request_id=token, send_attempts=SmsMessage.send_attempts + 1,
                    updated_at=now)
            .execution_options(synchronize_session=False))
    # Plain rows, not ORM objects: the commits below would expire and reload each one.
    claimed = db.session.query(
        SmsMessage.id, SmsMessage.phone, SmsMessage.params, SmsMessage.backend,
        SmsMessage.template_id, SmsMessage.send_attempts,
    ).filter(SmsMessage.request_id == token, SmsMessage.status == "SENDING") \
        .order_by(SmsMessage.backend, SmsMessage.template_id, SmsMessage.id).all()
    if claimed:
        audit.record(db.session, "claim", "sms_message", None,
                     after={"status": "SENDING", "ids": [m.id for m in claimed]})
    db.session.commit()
    for message in [m for m in claimed if holds_secret(m.params)]:  # a code goes alone, with its secret
        _secret_lost(message.id)
    claimed = [m for m in claimed if not holds_secret(m.params)]

    groups = {}
    for message in claimed:
        groups.setdefault((message.backend, message.template_id), []).append(message)
    counts = {}
    for (backend_name, template_id), messages in groups.items():
        backend = backend_for(backend_name)
        for chunk in batches(messages):
            template = db.session.get(SmsTemplate, template_id)
            try:
                result = backend.send_batch(chunk, template, out_id=token[6:38])
            except Exception as exc:
                current_app.logger.exception("SMS batch: backend raised")
                result = SendResult("FAILED", UNKNOWN_RESULT, f"{type(exc).__name__}: {exc}")
            if result.status != "SENT" and result.code in PER_NUMBER_CODES and len(chunk) > 1:
                # One bad number refuses the whole call: nothing was sent; send each alone, now.
                values = dict(status="QUEUED", next_attempt_at=clock.now(), updated_at=clock.now(),
                              provider_code=result.code, provider_message=(result.message or "")[:255],
                              request_id=result.request_id)
            else:
                values = _outcome(result, max(m.send_attempts for m in chunk), clock.now())
                if values["status"] == "FAILED" and result.code == UNKNOWN_RESULT:
                    values["request_id"] = token  # its OutId at the provider, to settle it later
            chunk_ids = [m.id for m in chunk]
            db.session.execute(
                update(SmsMessage)
                .where(SmsMessage.id.in_(chunk_ids), SmsMessage.request_id == token)
                .values(**values).execution_options(synchronize_session=False))
            audit.record(db.session, "send_batch", "sms_message", None,
                         after={"ids": chunk_ids, "status": values["status"], "code": result.code,
                                "biz_id": result.biz_id})
            db.session.commit()
            counts[values["status"]] = counts.get(values["status"], 0) + len(chunk)
    db.session.expire_all()
    return counts


def due_message_ids(limit=1000):
    rows = db.session.query(SmsMessage.id).filter(_due(clock.now()), ~_HOLDS_SECRET_SQL) \
        .order_by(SmsMessage.id).limit(limit)
    return [r.id for r in rows]


def due_work(limit=5000):
    """What the beat job should send: ([batches of first-attempt ids], [single ids]).

    Messages go out in SendBatchSms calls (grouped by backend and template, 100 each), except
    those whose last answer was about their own number: they go alone, so one bad number
    cannot hold back the others twice.
    """
    rows = db.session.query(SmsMessage.id, SmsMessage.backend, SmsMessage.template_id,
                            SmsMessage.provider_code).filter(_due(clock.now()), ~_HOLDS_SECRET_SQL) \
        .order_by(SmsMessage.id).limit(limit).all()
    groups, singles = {}, []
    for row in rows:
        if row.provider_code in PER_NUMBER_CODES:
            singles.append(row.id)
        else:
            groups.setdefault((row.backend, row.template_id), []).append(row.id)
    calls = []
    for ids in groups.values():
        chunks, alone = split_batches(ids)
        calls.extend(chunks)
        singles.extend(alone)
    return calls, sorted(singles)


def flag_stuck(older_than=STUCK_AFTER) -> int:
    """SENDING for too long: the worker died mid-send; the SMS may have left -> UNKNOWN_RESULT."""
    now = clock.now()
    stuck = [r.id for r in db.session.query(SmsMessage.id).filter(
        SmsMessage.status == "SENDING", SmsMessage.updated_at < now - older_than)]
    if stuck:
        db.session.execute(
            update(SmsMessage).where(SmsMessage.id.in_(stuck), SmsMessage.status == "SENDING")
            # updated_at kept: the claim's time, i.e. when the SMS may have left (settle_unknown)
            .values(status="FAILED", provider_code=UNKNOWN_RESULT, next_attempt_at=None,
                    updated_at=SmsMessage.updated_at,
                    provider_message="发送过程中断,结果未知,系统将向短信平台核实")
            .execution_options(synchronize_session=False))
        audit.record(db.session, "flag_stuck", "sms_message", None,
                     after={"ids": stuck, "status": "FAILED", "provider_code": UNKNOWN_RESULT})
    db.session.commit()
    return len(stuck)


class ResendRefused(DomainError):
    """resend() said no, with its reason in Chinese (409)."""
    TEXTS = {
        "sms_resend_unknown": _l("这条短信的发送结果未知,系统正在向短信平台核实(约 %(minutes)s 分钟内完成)。"
                                 "核实前不能重新发送,以免客户收到两条。"),
        "sms_resend_received": _l("短信平台已收到这条短信(经发送记录或送达回执核实),不能重新发送,以免客户收到两条。"),
        "sms_resend_done": _l("这条短信已经重新发送过(短信记录编号 %(id)s),不能再次重新发送。"),
    }

    @property
    def status(self):
        return 409

    @property
    def message(self):
        return str(self.TEXTS[self.key]) % self.params


def resend_refusal(message):
    """None when an operator may resend this message, else the ResendRefused that says why."""
    if message is None:
        return DomainError("sms_resend_not_failed")
    if message.provider_code == CONFIRMED_SENT:
        return ResendRefused("sms_resend_received")
    if message.status != "FAILED":
        return DomainError("sms_resend_not_failed")
    if message.provider_code == UNKNOWN_RESULT and message.updated_at >= clock.now() - SETTLE_WITHIN:
        # (older than the provider's record: never settled; an operator checks with the customer)
        return ResendRefused("sms_resend_unknown",
                             minutes=int((NOT_FOUND_GRACE + FIRST_RETRY) / timedelta(minutes=1)))
    if holds_secret(message.params):  # the code is gone: the customer asks for a new one
        return DomainError("sms_resend_code")
    done = db.session.query(SmsMessage.id).filter(SmsMessage.out_id == _resend_out_id(message.id)).scalar()
    if done is not None:
        return ResendRefused("sms_resend_done", id=done)
    return None


def _resend_out_id(message_id):
    # one resend per message: the unique out_id refuses a second (a double click, two supervisors)
    return f"resend-of-{message_id}"


def resend(message_id) -> SmsMessage:
    """An operator's decision to send a FAILED message again: a new message, the old one kept.
    Refused while its result is unknown, when the provider is known to have it, and a second time."""
    old = db.session.query(SmsMessage).filter_by(id=message_id).with_for_update().populate_existing() \
        .one_or_none()
    refusal = resend_refusal(old)
    if refusal is not None:
        db.session.rollback()
        raise refusal
    message = SmsMessage(
        template_id=old.template_id, phone=old.phone, params=dict(old.params), content=old.content,
        purpose=old.purpose, customer_id=old.customer_id, link_id=old.link_id,
        backend=current_app.config["SMS_BACKEND"], status="QUEUED", out_id=_resend_out_id(old.id),
        next_attempt_at=clock.now())
    db.session.add(message)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        done = db.session.query(SmsMessage.id).filter(SmsMessage.out_id == _resend_out_id(message_id)).scalar()
        raise ResendRefused("sms_resend_done", id=done) from None
    audit.record(db.session, "resend", "sms_message", old.id, after={"new_id": message.id})
    db.session.commit()
    return message


# --- settling unknown results (issue 14, item 5) ---------------------------------------------
def _settled_values(finding, now) -> dict:
    values = dict(status=finding.status, provider_code=CONFIRMED_SENT, next_attempt_at=None, updated_at=now,
                  provider_message="结果曾未知,经短信平台发送记录核实已收到", sent_at=finding.sent_at or now)
    if finding.status in ("DELIVERED", "UNDELIVERED"):
        values.update(receipt_at=finding.received_at or now, receipt_code=finding.err_code,
                      receipt_message="短信平台发送记录" if finding.status == "DELIVERED" else "短信平台发送记录:发送失败")
    return values


def settle_unknown(limit=SETTLE_BATCH) -> dict:
    """The beat job: look up UNKNOWN_RESULT messages at the provider once SETTLE_AFTER has passed.

    Found -> SENT / DELIVERED / UNDELIVERED with CONFIRMED_SENT (never resent); not found and older
    than NOT_FOUND_GRACE -> NOT_AT_PROVIDER (an operator may resend it); a lookup that failed
    leaves the message unknown for the next run. Each change is a conditional UPDATE on the
    unknown state, so a receipt recorded meanwhile keeps the last word. Returns {outcome: count}."""
    now = clock.now()
    rows = db.session.query(SmsMessage.id, SmsMessage.phone, SmsMessage.out_id, SmsMessage.request_id,
                            SmsMessage.backend, SmsMessage.updated_at) \
        .filter(SmsMessage.status == "FAILED", SmsMessage.provider_code == UNKNOWN_RESULT,
                SmsMessage.updated_at <= now - SETTLE_AFTER, SmsMessage.updated_at >= now - SETTLE_WITHIN) \
        .order_by(SmsMessage.updated_at, SmsMessage.id).limit(limit).all()
    db.session.commit()  # no transaction held open while the provider answers
    by_backend = {}
    for row in rows:
        out_ids = {row.out_id}
        if row.request_id and row.request_id.startswith("claim-"):
            out_ids.add(row.request_id[6:38])  # a SendBatchSms call's OutId
        days = {(row.updated_at - SEND_WINDOW).date(), (row.updated_at + SEND_WINDOW).date()}
        by_backend.setdefault(row.backend, []).append(Lookup(row.id, row.phone, out_ids, days))
    counts, when = {}, {row.id: row.updated_at for row in rows}
    for backend_name, lookups in by_backend.items():
        try:
            found = backend_for(backend_name).lookup(lookups)
        except Exception:  # noqa: BLE001 - a lookup proves nothing; the next run tries again
            current_app.logger.exception("SMS settle: lookup at %s failed", backend_name)
            continue
        for item in lookups:
            if item.message_id not in found:
                outcome = "unchecked"
            elif found[item.message_id] is not None:
                outcome = _settle(item.message_id, _settled_values(found[item.message_id], now))
            elif when[item.message_id] <= now - NOT_FOUND_GRACE:
                outcome = _settle(item.message_id, dict(
                    provider_code=NOT_AT_PROVIDER, updated_at=now,
                    provider_message="结果曾未知,经核实短信平台没有这条短信的记录,可以重新发送"))
            else:
                outcome = "waiting"
            counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        current_app.logger.info("SMS settle: %s", counts)
    return counts


def _settle(message_id, values) -> str:
    result = db.session.execute(
        update(SmsMessage).where(SmsMessage.id == message_id, SmsMessage.status == "FAILED",
                                 SmsMessage.provider_code == UNKNOWN_RESULT)
        .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        return "settled_meanwhile"
    outcome = values.get("status", "FAILED") if values["provider_code"] == CONFIRMED_SENT else NOT_AT_PROVIDER
    audit.record(db.session, "settle", "sms_message", message_id,
                 after={"status": values.get("status", "FAILED"), "provider_code": values["provider_code"]})
    db.session.commit()
    return outcome


# --- delivery receipts (Alibaba SmsReport push) -----------------------------
REPORT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Alibaba pushes receipts in batches far smaller than this; a longer list is refused whole.
MAX_RECEIPTS = 1000


def _report_item(index, item) -> dict:
    def bad(reason):
        return DomainError("sms_report_malformed", index=index + 1, reason=reason)

    if not isinstance(item, dict):
        raise bad("不是 JSON 对象")
    phone = item.get("phone_number")
    if not isinstance(phone, str) or not phone.strip():
        raise bad("缺少 phone_number")
    success = item.get("success")
    if isinstance(success, str) and success.lower() in ("true", "false"):
        success = success.lower() == "true"
    if not isinstance(success, bool):
        raise bad("success 应为 true 或 false")
    out_id, biz_id = item.get("out_id") or None, item.get("biz_id") or None
    if not out_id and not biz_id:
        raise bad("缺少 out_id 和 biz_id")
    report_time = item.get("report_time")
    if report_time:
        try:
            report_time = datetime.strptime(str(report_time), REPORT_TIME_FORMAT)
        except ValueError:
            raise bad("report_time 格式应为 yyyy-MM-dd HH:mm:ss") from None
    try:
        send_time = datetime.strptime(str(item.get("send_time")), REPORT_TIME_FORMAT)
    except ValueError:
        send_time = None  # informational only
    return dict(phone=phone.strip(), success=success, out_id=out_id and str(out_id),
                biz_id=biz_id and str(biz_id), report_time=report_time, send_time=send_time,
                err_code=str(item.get("err_code") or "")[:64] or None,
                err_msg=str(item.get("err_msg") or "")[:255] or None)


def record_receipts(payload) -> dict:
    """Record an SmsReport push (a JSON array). The whole push is checked before anything is
    written. The message is found by out_id (ours, echoed by Alibaba) and phone, else by biz_id
    and phone (SendBatchSms shares one out_id), else by the batch call's OutId kept in request_id
    while its result is unknown. A receipt for an unknown result settles it (CONFIRMED_SENT).
    Returns {"matched": n, "unmatched": m}; receipts
    for unknown messages (someone else's, or long gone) are counted in one log line, not one each."""
    if not isinstance(payload, list) or not payload:
        raise DomainError("sms_report_malformed", index=0, reason="应为非空 JSON 数组")
    if len(payload) > MAX_RECEIPTS:
        raise DomainError("sms_report_malformed", index=0, reason=f"一次最多 {MAX_RECEIPTS} 条")
    items = [_report_item(i, item) for i, item in enumerate(payload)]
    out_ids = {i["out_id"] for i in items if i["out_id"]}
    biz_ids = {i["biz_id"] for i in items if i["biz_id"]}
    by_out, by_biz = {}, {}
    if out_ids:
        for m in db.session.query(SmsMessage).filter(SmsMessage.out_id.in_(out_ids)):
            by_out[(m.out_id, m.phone)] = m
        for m in db.session.query(SmsMessage).filter(
                SmsMessage.request_id.in_(["claim-" + o for o in out_ids]),
                SmsMessage.provider_code.in_((UNKNOWN_RESULT, NOT_AT_PROVIDER))):
            by_out.setdefault((m.request_id[6:], m.phone), m)
    if biz_ids:
        for m in db.session.query(SmsMessage).filter(SmsMessage.biz_id.in_(biz_ids)):
            by_biz[(m.biz_id, m.phone)] = m
    matched = 0
    for item in items:
        message = by_out.get((item["out_id"], item["phone"])) or by_biz.get((item["biz_id"], item["phone"]))
        if message is None:
            continue
        matched += 1
        message.status = "DELIVERED" if item["success"] else "UNDELIVERED"
        message.receipt_at = item["report_time"] or clock.now()
        message.receipt_code = item["err_code"]
        message.receipt_message = item["err_msg"]
        if message.biz_id is None and item["biz_id"]:
            message.biz_id = item["biz_id"]  # an UNKNOWN_RESULT send proven by its receipt
        if message.provider_code in (UNKNOWN_RESULT, NOT_AT_PROVIDER):
            if message.provider_code == NOT_AT_PROVIDER:
                current_app.logger.warning("SMS %s: a receipt after the provider had no record of it", message.id)
            message.provider_code = CONFIRMED_SENT
            message.provider_message = "结果曾未知,经送达回执核实已收到"
            message.next_attempt_at = None
            message.sent_at = message.sent_at or item["send_time"] or message.receipt_at
            audit.record(db.session, "settle", "sms_message", message.id,
                         after={"status": message.status, "provider_code": CONFIRMED_SENT, "by": "receipt"})
    db.session.commit()
    unmatched = len(items) - matched
    if unmatched:
        current_app.logger.warning("SMS receipts for unknown messages: %d of %d", unmatched, len(items))
    return {"matched": matched, "unmatched": unmatched}


