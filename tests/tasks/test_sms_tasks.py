"""The SMS Celery tasks (eager here; tests/integration/test_celery_worker.py runs them in a worker)."""
from datetime import timedelta

from app.extensions import db
from app.models.audit import AuditEvent
from app.services import sms
from app.tasks.schedule import beat_schedule
from app.tasks.sms import dispatch_due, send_sms, send_sms_batch
from tests.services.test_sms import fake, frozen, phones, queue_invite, reload  # noqa: F401 (fixtures)


def test_beat_runs_the_dispatch_every_minute(app):
    entry = beat_schedule(app.config)["sms-dispatch-due"]
    assert entry["task"] == "sms.dispatch_due" and entry["schedule"] == 60.0


def test_dispatch_sends_new_messages_in_batches_of_100_per_template(fake, frozen):
    invites = [queue_invite(phone) for phone in phones(230)]
    code = sms.queue("VERIFY_CODE", "13600000000", {"code": "123456", "minutes": "5"}, purpose="CODE")
    db.session.commit()
    dispatch_due.delay()
    assert sorted(len(c.phones) for c in fake.calls("SendBatchSms")) == [30, 100, 100]
    assert [c.params["PhoneNumbers"] for c in fake.calls("SendSms")] == ["13600000000"]
    assert {reload(i).status for i in invites + [code.id]} == {"SENT"}
    actors = {e.actor_name for e in db.session.query(AuditEvent).filter_by(entity="sms_message",
                                                                           action="send_batch")}
    assert actors == {"celery:sms"}
    dispatch_due.delay()  # the next beat run finds nothing to send
    assert len(fake.calls()) == 4


def test_dispatch_leaves_failed_and_unknown_results_alone(fake, frozen):
    failed = queue_invite("13800138001")
    fake.answer("isv.AMOUNT_NOT_ENOUGH")
    send_sms.delay(failed)
    unknown = queue_invite("13800138002")
    sms._claim(unknown)  # its worker died mid-send
    frozen.shift(timedelta(minutes=11))
    dispatch_due.delay()
    assert (reload(failed).status, reload(failed).provider_code) == ("FAILED", "isv.AMOUNT_NOT_ENOUGH")
    assert (reload(unknown).status, reload(unknown).provider_code) == ("FAILED", sms.UNKNOWN_RESULT)
    frozen.shift(timedelta(hours=3))
    dispatch_due.delay()
    assert len(fake.calls()) == 1


def test_a_duplicated_batch_task_sends_nothing_twice(fake, frozen):
    ids = [queue_invite(phone) for phone in phones(3)]
    send_sms_batch.delay(ids)
    send_sms_batch.delay(ids)
    for message_id in ids:
        send_sms.delay(message_id)
    assert len(fake.calls()) == 1
    assert all(fake.sent_to(p) == 1 for p in phones(3))
    assert {reload(i).send_attempts for i in ids} == {1}
