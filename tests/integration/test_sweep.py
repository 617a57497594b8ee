"""The sweep (issue 14 item 3) with a real worker: a face check committed while no worker runs, its
message lost with everything else in Redis (FLUSHALL), is found again by the sweep once the worker is
back, and completes; the customer's page shows the result. A lost invitation SMS is sent once; the
sweep never queues an SMS that may have reached the provider."""
import contextlib
import io
import os
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker

from app.extensions import db
from app.models import Customer, IdentityVerification, RevisitLink, SmsMessage
from app.services import clock, identity, sms, sweep, unit
from app.tasks.schedule import beat_schedule
from tests import workers
from tests.biometric import agree_biometrics
from tests.conftest import FACES, csrf_token, make_config

INVITE = {"name": "张德强", "title": "先生", "product": "爱心人寿心享未来年金保险", "link": "http://x/s/abc"}


def _photo(name):
    with open(os.path.join(FACES, name), "rb") as handle:
        return handle.read()


@pytest.fixture
def stopped(app, servers):
    """A second app whose Celery goes to the test Redis, with no worker consuming yet. Its browser
    sessions are kept in files here, so that what the flush loses is the job alone."""
    if not servers["redis_url"]:
        pytest.skip("needs the test Redis")
    from app import create_app

    celery_config = dict(workers.WORKER_CELERY, broker_url=servers["redis_url"], result_backend=servers["redis_url"])
    second = create_app(make_config(servers, CELERY=celery_config, SESSION_REDIS_URL=None))
    workers.make_current(second)
    redis = second.extensions["celery"].connection_for_write().default_channel.client
    redis.flushdb()
    try:
        yield second, redis
    finally:
        workers.make_current(app)


@contextlib.contextmanager
def running(second):
    with start_worker(second.extensions["celery"], pool="solo", perform_ping_check=False, shutdown_timeout=10,
                      loglevel="WARNING"):
        yield


def _status(verification_id):
    return db.session.get(IdentityVerification, verification_id).status


def _backdate(verification_id, minutes):
    db.session.query(IdentityVerification).filter_by(id=verification_id).update(
        {"created_at": clock.now() - timedelta(minutes=minutes)})
    db.session.commit()


def test_the_sweep_is_a_beat_job():
    assert {"task": "sweep.run", "schedule": 60.0} in beat_schedule({}).values()


def test_a_face_check_lost_with_redis_is_swept_up_and_the_customer_sees_the_result(seeded, stopped):
    from app.services import revisit
    from app.tasks.sweep import run as sweep_task

    second, redis = stopped
    with second.app_context():  # the invitations and their SMS: queued to Redis, no worker yet
        revisit.issue_invitations()
    customer = db.session.query(Customer).filter_by(customer_no="C0001").one()
    identity.attach_reference_photo(customer.id, _photo("obama.jpg"))
    agree_biometrics(customer.id, purposes=["EREVISIT"])  # the biometric notice was agreed to
    code = db.session.query(RevisitLink).filter_by(customer_id=customer.id).one().code

    browser = second.test_client()
    page = browser.get(f"/s/{code}")
    upload = browser.post(f"/s/{code}/face", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "photo": (io.BytesIO(_photo("obama2.jpg")), "selfie.jpg")}, content_type="multipart/form-data")
    assert upload.status_code == 302
    db.session.commit()  # a new transaction: see the second app's commits
    verification_id = int(upload.headers["Location"].rstrip("/").split("/")[-1])
    assert redis.llen("celery") >= 1  # the check's message waits in Redis
    invitations = [m.id for m in db.session.query(SmsMessage).filter_by(purpose="EREVISIT")]
    assert invitations and all(m.status == "QUEUED" for m in db.session.query(SmsMessage))

    redis.flushall()  # Redis lost everything: the committed check has no job any more
    assert redis.llen("celery") == 0 and _status(verification_id) == "PENDING"

    with running(second):
        db.session.commit()
        assert browser.get(f"/s/{code}/face/{verification_id}/status").json["status"] == "PENDING"
        sweep_task.delay()  # pending for less than SWEEP_PHOTO_AFTER_SECONDS: left alone
        assert workers.wait_for(lambda: redis.llen("celery") == 0 and redis.hlen("unacked") == 0)
        assert _status(verification_id) == "PENDING"

        _backdate(verification_id, 3)  # the customer has waited three minutes
        sweep_task.delay()
        assert workers.wait_for(lambda: _status(verification_id) != "PENDING", timeout=60), "not swept up"
        assert _status(verification_id) == "PASSED"

        # the invitations lost with it: SMS dispatch (beat) sends each once, never twice
        from app.tasks.sms import dispatch_due
        dispatch_due.delay()
        dispatch_due.delay()
        assert workers.wait_for(lambda: all(db.session.get(SmsMessage, i).status == "SENT" for i in invitations))
        assert workers.wait_for(lambda: redis.llen("celery") == 0 and redis.hlen("unacked") == 0)

    db.session.expire_all()
    assert all(db.session.get(SmsMessage, i).send_attempts == 1 for i in invitations)
    link = db.session.query(RevisitLink).filter_by(code=code).one()
    assert link.face_attempts == 1 and link.face_verified_at is not None
    done = db.session.get(IdentityVerification, verification_id)
    assert done.details["swept"] == 1 and done.details["reasons"] == []
    # the customer's page, still open, learns the result and goes on to the list
    status = browser.get(f"/s/{code}/face/{verification_id}/status")
    assert status.json["status"] == "PASSED" and status.json["redirect"].endswith(f"/s/{code}/list")
    listing = browser.get(f"/s/{code}/list")
    assert listing.status_code == 200


def test_a_check_done_meanwhile_is_not_run_again(seeded, monkeypatch):
    """Queued again when its original job was only slow: the job finds the row done and does nothing."""
    customer = db.session.query(Customer).filter_by(customer_no="C0001").one()
    identity.attach_reference_photo(customer.id, _photo("obama.jpg"))
    started = identity.start_photo_verification(customer.id, _photo("obama2.jpg"), "LOAN")  # eager: done
    db.session.expire_all()
    first = db.session.get(IdentityVerification, started.id)
    assert first.status == "PASSED"
    completed = first.completed_at
    assert identity.run_photo_verification(started.id) is None
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(IdentityVerification, started.id).completed_at == completed
    assert sweep.stale_checks("PHOTO", clock.now() + timedelta(hours=1)) == []


def test_a_swept_check_is_queued_again_once_per_delay(seeded, monkeypatch):
    queued = []
    monkeypatch.setattr(unit, "enqueue", lambda name, *args: queued.append((name, args)))
    customer = db.session.query(Customer).filter_by(customer_no="C0001").one()
    started = identity.start_photo_verification(customer.id, _photo("obama2.jpg"), "LOAN")
    _backdate(started.id, 3)
    queued.clear()
    assert sweep.run()["PHOTO"] == 1 and queued == [("identity.run_photo_verification", (started.id,))]
    assert sweep.run()["PHOTO"] == 0  # the next minute: it was just queued again
    assert sweep.run(now=clock.now() + timedelta(minutes=3))["PHOTO"] == 1


def test_the_sweep_never_queues_an_sms_that_may_have_left(seeded, monkeypatch):
    """SENDING and FAILED (UNKNOWN_RESULT) may have reached the provider; a code's SMS can never be sent
    again (its code travelled only in the lost job): it is settled FAILED, nothing sent."""
    from app.services import codes

    old = clock.now() - timedelta(minutes=30)
    sending = sms.queue("EREVISIT_INVITE", "13800138001", INVITE)
    unknown = sms.queue("EREVISIT_INVITE", "13800138002", INVITE)
    with unit.work():
        codes.issue("13800138003", "SIGN_IN")  # committed; its send job never queued (as if lost)
    code_message = db.session.query(SmsMessage).filter(SmsMessage.phone_is("13800138003")).one()
    db.session.query(SmsMessage).filter_by(id=sending.id).update({"status": "SENDING", "send_attempts": 1})
    db.session.query(SmsMessage).filter_by(id=unknown.id).update(
        {"status": "FAILED", "provider_code": sms.UNKNOWN_RESULT, "send_attempts": 1})
    db.session.query(SmsMessage).update({"created_at": old, "updated_at": clock.now()})
    db.session.commit()
    sent = []
    real_backend_for = sms.backend_for
    monkeypatch.setattr(sms, "backend_for", lambda name: _Counting(real_backend_for(name), sent))

    counts = sweep.run()  # eager here: the queued sms.send runs at once

    assert counts["CODE_SMS"] == 1 and sent == []
    db.session.expire_all()
    assert db.session.get(SmsMessage, sending.id).status == "SENDING"
    assert db.session.get(SmsMessage, unknown.id).status == "FAILED"
    settled = db.session.get(SmsMessage, code_message.id)
    assert settled.status == "FAILED" and settled.provider_code == sms.SECRET_LOST
    assert sweep.run()["CODE_SMS"] == 0


class _Counting:
    def __init__(self, backend, sent):
        self.backend, self.sent = backend, sent

    def send(self, message, template):
        self.sent.append(message.id)
        return self.backend.send(message, template)

    def send_batch(self, messages, template, out_id=None):
        self.sent.extend(m.id for m in messages)
        return self.backend.send_batch(messages, template, out_id)
