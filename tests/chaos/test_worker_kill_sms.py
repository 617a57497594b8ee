"""`kill -9` of the Celery worker in the middle of sending 2,000 invitation SMS (issue 14): the real Alibaba SDK
against the fake dysms server, which counts what each phone received. After the worker is started again
(as systemd's Restart=always does) and the beat jobs have run (the sweep; sms.dispatch_due, which flags what
was left SENDING as UNKNOWN_RESULT; sms.settle_unknown, which asks QuerySendDetails), and an operator has
resent what the provider never received, every phone has received its invitation exactly once, nothing is
left QUEUED, SENDING or unknown.

The fake answers each SendBatchSms after a second, so the kill lands while a batch of 100 is in flight: its
numbers reached the provider, but the worker never heard so. The killed task's message comes back from
Redis's `unacked` hash after CELERY_VISIBILITY_TIMEOUT (5 s here) and finds its rows already claimed."""
import collections
import time
from datetime import timedelta

import pytest
import redis
import time_machine
from celery import Celery
from sqlalchemy import func

from app.extensions import db
from app.models.sms import SmsMessage, SmsTemplate
from app.services import clock, sms, sweep
from tests.chaos import shape
from tests.fake_dysms import FakeDysms

COUNT = 2000
INVITE = {"name": "张德强", "title": "先生", "product": "爱心人寿心享未来年金保险", "link": "http://x/s/abc"}
ALIYUN = {"SMS_BACKEND": "aliyun", "ALIYUN_ACCESS_KEY_ID": "test-ak", "ALIYUN_ACCESS_KEY_SECRET": "test-secret",
          "ALIYUN_SMS_PROTOCOL": "HTTP", "ALIYUN_SMS_READ_TIMEOUT_MS": 5000}


@pytest.fixture
def fake(app, seeded, monkeypatch):
    with FakeDysms() as server:
        for template in db.session.query(SmsTemplate):
            server.register_template(template.provider_template_code, template.content)
        for key, value in dict(ALIYUN, ALIYUN_SMS_ENDPOINT=server.endpoint).items():
            monkeypatch.setitem(app.config, key, value)  # the messages' backend, the settle job's lookups
        yield server


def _statuses():
    db.session.commit()
    return dict(db.session.query(SmsMessage.status, func.count(SmsMessage.id)).group_by(SmsMessage.status).all())


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(what)


@pytest.mark.chaos
def test_kill_9_mid_dispatch_every_phone_exactly_once(app, servers, fake, own_redis, tmp_path):
    phones = [f"1390000{i:04d}" for i in range(COUNT)]
    ids = sms.queue_many("EREVISIT_INVITE", [{"phone": p, "params": INVITE} for p in phones], purpose="EREVISIT")
    db.session.commit()
    chunks, singles = sms.split_batches(ids)
    assert len(chunks) == COUNT // sms.BATCH_SIZE and not singles
    fake.answer("OK", times=len(chunks), delay=1.0)  # each SendBatchSms answered after a second

    env = shape.base_env(servers, tmp_path, CELERY_BROKER_URL=own_redis.url, RATELIMIT_STORAGE_URI="memory://",
                         CELERY_VISIBILITY_TIMEOUT=5, WORKER_HEARTBEAT_SECONDS=1,
                         **dict(ALIYUN, ALIYUN_SMS_ENDPOINT=fake.endpoint))
    worker = shape.Worker(env, str(tmp_path / "worker.log")).start()
    sender = Celery("chaos-sender", broker=own_redis.url, set_as_current=False)  # the test app's stays eager
    sender.conf.update(task_ignore_result=True)
    broker = redis.Redis.from_url(own_redis.url)
    try:
        for chunk in chunks:  # what send_after_commit queues for a bulk invitation
            sender.send_task("sms.send_batch", args=[chunk])
        # mid-dispatch: the 7th batch of 20 has reached the provider and waits for its answer
        _wait(lambda: len(fake.calls("SendBatchSms")) >= 7, 120, "the dispatch did not start")
        worker.kill_9()
        at_kill = _statuses()
        received_at_kill = sum(1 for r in fake.calls() if r.code == "OK" for _ in r.phones)
        worker.start()  # the supervisor brings it back
        _wait(lambda: _statuses().get("QUEUED", 0) == 0, 180, f"still queued: {_statuses()}")
        _wait(lambda: broker.llen("celery") == 0 and broker.hlen("unacked") == 0, 60,
              "the killed tasks' messages did not come back and finish")
        after_restart = _statuses()
    finally:
        worker.stop()
        sender.close()
    with fake._lock:
        fake._next.clear()  # the provider answers at once again

    # the beat jobs, a quarter of an hour later (SENDING flagged after 10 minutes; settled after 2 and,
    # when the provider has no record, 10 more); then the operator resends what the provider never got
    from app.tasks.sms import dispatch_due, settle_unknown
    from tests.workers import make_current

    make_current(app)  # the jobs' sends run here, eagerly, through the SDK to the fake

    later = clock.now().replace(tzinfo=clock.ZONE) + timedelta(minutes=15)
    with time_machine.travel(later, tick=True):
        swept = sweep.run()
        dispatch_due.run()
        flagged = _statuses()
        settled = settle_unknown.run()
        db.session.commit()
        never_received = [m.id for m in db.session.query(SmsMessage.id).filter(
            SmsMessage.provider_code == sms.NOT_AT_PROVIDER)]
        for message_id in never_received:
            sms.resend(message_id)
        dispatch_due.run()
    final = _statuses()

    received = collections.Counter(p for r in fake.calls() if r.code == "OK" for p in r.phones)
    unknown = db.session.query(func.count(SmsMessage.id)).filter(
        SmsMessage.provider_code == sms.UNKNOWN_RESULT).scalar()
    confirmed = db.session.query(func.count(SmsMessage.id)).filter(
        SmsMessage.provider_code == sms.CONFIRMED_SENT).scalar()
    counts = {"messages": COUNT, "batches": len(chunks), "at_kill": at_kill, "received_at_kill": received_at_kill,
              "after_restart": after_restart, "worker_starts": worker.starts, "sweep": swept,
              "after_flag": flagged, "settle": settled, "confirmed_sent": confirmed,
              "not_at_provider_resent": len(never_received), "final": final,
              "phones_received": len(received), "most_to_one_phone": max(received.values()),
              "send_batch_calls": len(fake.calls("SendBatchSms")), "query_calls": len(fake.queries)}
    print("chaos counts:", counts)
    assert at_kill.get("SENDING", 0) > 0, counts  # the kill did land mid-send (reached the provider or not)
    assert set(received) == set(phones) and set(received.values()) == {1}, counts  # each phone exactly once
    assert unknown == 0 and not final.get("QUEUED") and not final.get("SENDING"), counts  # nothing left open
    assert confirmed + len(never_received) == after_restart.get("SENDING", 0), counts  # each unknown settled
    # every invitation delivered once: the originals, or for those the provider never had, their resend
    assert final.get("SENT", 0) + final.get("DELIVERED", 0) == COUNT, counts
    assert final.get("FAILED", 0) == len(never_received), counts
