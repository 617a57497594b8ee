"""SMS gateway: queue a message from a template, send it exactly once through a backend.

Backends: `outbox` (default; the stored message is the outbox, shown in the admin) and
`aliyun` (the real Alibaba Cloud SDK, app/services/sms_aliyun.py). Alibaba's SendSms is not
idempotent, so a message is claimed with a conditional UPDATE before any send: a retried or
duplicated task finds it no longer QUEUED and sends nothing.
"""
import json
import re
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, update

from app.extensions import db
from app.models.sms import SmsMessage, SmsTemplate
from app.services import clock
from app.services.errors import DomainError

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
SENDABLE = ("QUEUED", "FLOW_CONTROLLED")


def render(template: SmsTemplate, params: dict) -> str:
    missing = [k for k in PLACEHOLDER.findall(template.content) if k not in params]
    if missing:
        raise DomainError("sms_template_params", missing=",".join(missing))
    return PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), template.content)


def queue(template_code, phone, params, purpose=None, customer_id=None, link_id=None) -> SmsMessage:
    """Store a message to send (in the caller's transaction); returns it unsent."""
    template = db.session.query(SmsTemplate).filter_by(code=template_code, is_active=True).one_or_none()
    if template is None:
        raise DomainError("sms_template_missing", code=template_code)
    params = {k: str(v) for k, v in params.items()}
    message = SmsMessage(
        template=template, phone=phone, params=params, content=render(template, params),
        purpose=purpose, customer_id=customer_id, link_id=link_id,
        backend=current_app.config["SMS_BACKEND"], status="QUEUED",
        out_id=uuid.uuid4().hex, next_attempt_at=clock.now(),
    )
    db.session.add(message)
    db.session.flush()
    return message


def _claim(message_id) -> bool:
    """QUEUED/FLOW_CONTROLLED -> SENDING, atomically; False if someone else has it."""
    result = db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.id == message_id, SmsMessage.status.in_(SENDABLE))
        .values(status="SENDING", send_attempts=SmsMessage.send_attempts + 1, updated_at=clock.now())
    )
    db.session.commit()
    return result.rowcount == 1


def backend_for(name):
    if name == "outbox":
        return OutboxBackend()
    if name == "aliyun":
        from app.services.sms_aliyun import AliyunBackend

        return AliyunBackend.from_config(current_app.config)
    raise DomainError("sms_backend_unknown", backend=name)


class SendResult:
    def __init__(self, status, code=None, message=None, biz_id=None, request_id=None):
        self.status, self.code, self.message = status, code, message
        self.biz_id, self.request_id = biz_id, request_id


class OutboxBackend:
    """Sends nothing: the stored message is the outbox, read in the admin."""

    def send(self, message: SmsMessage, template: SmsTemplate) -> SendResult:
        return SendResult("SENT", code="OK", message="outbox", biz_id=f"outbox-{message.out_id[:12]}")


FLOW_CONTROL_RETRY = timedelta(minutes=1)


def send(message_id) -> str:
    """Send one queued message once; returns its status afterwards."""
    if not _claim(message_id):
        return db.session.get(SmsMessage, message_id).status
    message = db.session.get(SmsMessage, message_id)
    result = backend_for(message.backend).send(message, message.template)
    message.status = result.status
    message.provider_code, message.provider_message = result.code, (result.message or "")[:255]
    message.biz_id, message.request_id = result.biz_id, result.request_id
    if result.status == "SENT":
        message.sent_at = clock.now()
        message.next_attempt_at = None
    elif result.status == "FLOW_CONTROLLED":
        message.next_attempt_at = clock.now() + FLOW_CONTROL_RETRY * message.send_attempts
    else:
        message.next_attempt_at = None
    db.session.commit()
    return message.status


def due_message_ids(limit=1000):
    now = clock.now()
    rows = db.session.query(SmsMessage.id).filter(
        SmsMessage.status.in_(SENDABLE),
        or_(SmsMessage.next_attempt_at.is_(None), SmsMessage.next_attempt_at <= now),
    ).order_by(SmsMessage.id).limit(limit)
    return [r.id for r in rows]


def params_json(params) -> str:
    return json.dumps(params, ensure_ascii=False)
