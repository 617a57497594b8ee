"""Celery through a real worker on the test Redis (not eager): a second app on the same MariaDB,
its own Celery on Redis, a worker thread consuming from it; the SMS tasks end to end."""

import pytest
from celery.result import EagerResult

from app.extensions import db
from app.models.audit import AuditEvent
from app.models.sms import SmsMessage, SmsTemplate
from app.services import sms
from tests import workers
from tests.fake_dysms import FakeDysms

INVITE = {"name": "张德强", "title": "先生", "product": "爱心人寿心享未来年金保险", "link": "http://x/s/abc"}


@pytest.fixture(scope="module")
def fake():
    with FakeDysms() as server:
        yield server


@pytest.fixture(scope="module")
def worker_app(app, servers, fake):
    with workers.worker_app(app, servers, **workers.aliyun_config(fake, SMS_BACKEND="outbox")) as second:
        yield second


@pytest.fixture(autouse=True)
def _worker_celery_is_current(worker_app):
    workers.make_current(worker_app)


@pytest.fixture
def aliyun_messages(app, monkeypatch, fake):
    monkeypatch.setitem(app.config, "SMS_BACKEND", "aliyun")
    fake.requests.clear()
    for template in db.session.query(SmsTemplate):
        fake.register_template(template.provider_template_code, template.content)
    return fake



def queue_drained(flask_app):
    """Nothing waiting in Redis and nothing taken but unacknowledged (acks_late) in the worker."""
    redis = flask_app.extensions["celery"].connection_for_write().default_channel.client
    return redis.llen("celery") == 0 and redis.hlen("unacked") == 0


def status(message_id):
    return db.session.get(SmsMessage, message_id).status


def test_send_sms_runs_in_the_worker(worker_app, seeded):
    from app.tasks.sms import send_sms

    message = sms.queue("EREVISIT_INVITE", "13800138000", INVITE, purpose="EREVISIT")
    db.session.commit()
    result = send_sms.delay(message.id)
    assert not isinstance(result, EagerResult)
    assert workers.wait_for(lambda: status(message.id) == "SENT"), f"still {status(message.id)}"
    sent = db.session.get(SmsMessage, message.id)
    assert sent.content.startswith("尊敬的张德强先生您好") and sent.biz_id.startswith("outbox-")
    actors = {e.actor_name for e in db.session.query(AuditEvent).filter_by(entity="sms_message")}
    assert "celery:sms" in actors


def test_duplicated_tasks_in_the_worker_reach_alibaba_once(worker_app, seeded, aliyun_messages):
    from app.tasks.sms import send_sms, send_sms_batch

    fake = aliyun_messages
    single = sms.queue("EREVISIT_INVITE", "13800138000", INVITE).id
    batch = [sms.queue("EREVISIT_INVITE", f"1370000000{i}", INVITE).id for i in range(5)]
    db.session.commit()
    for _ in range(3):  # a redelivered / duplicated task
        send_sms.delay(single)
        send_sms_batch.delay(batch)
    assert workers.wait_for(lambda: all(status(i) == "SENT" for i in [single] + batch))
    assert workers.wait_for(lambda: queue_drained(worker_app)), "the duplicates were not all consumed"
    assert fake.sent_to("13800138000") == 1
    assert all(fake.sent_to(f"1370000000{i}") == 1 for i in range(5))
    assert [c.action for c in fake.calls()].count("SendBatchSms") == 1


def test_beat_dispatch_retries_flow_control_through_the_worker(worker_app, seeded, aliyun_messages):
    from app.tasks.sms import dispatch_due

    fake = aliyun_messages
    fake.answer("isv.BUSINESS_LIMIT_CONTROL")
    message_id = sms.queue("EREVISIT_INVITE", "13800138009", INVITE).id
    db.session.commit()
    dispatch_due.delay()
    assert workers.wait_for(lambda: status(message_id) == "FLOW_CONTROLLED")
    # its backoff has passed (as the next beat run a minute later would find it)
    db.session.query(SmsMessage).filter_by(id=message_id).update({"next_attempt_at": None})
    db.session.commit()
    dispatch_due.delay()
    assert workers.wait_for(lambda: status(message_id) == "SENT")
    assert [c.code for c in fake.calls()] == ["isv.BUSINESS_LIMIT_CONTROL", "OK"]
