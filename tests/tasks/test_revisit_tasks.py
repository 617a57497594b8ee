"""The e-revisit beat jobs through a real Celery worker on the test Redis, SMS via the real
Alibaba SDK to the fake dysms server: invitations go out once, the day-4 expiry runs as a task."""
import time
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import AuditEvent, RevisitTask, SmsMessage, SmsTemplate
from app.services import clock
from tests import workers
from tests.fake_dysms import FakeDysms


@pytest.fixture(scope="module")
def fake():
    with FakeDysms() as server:
        yield server


@pytest.fixture(scope="module")
def worker_app(app, servers, fake):
    with workers.worker_app(app, servers, **workers.aliyun_config(fake)) as second:
        yield second


@pytest.fixture(autouse=True)
def _worker_celery_is_current(worker_app):
    workers.make_current(worker_app)



def test_invitations_and_expiry_run_in_the_worker(worker_app, seeded, fake, app, monkeypatch):
    from app.tasks.revisit import expire_due, issue_invitations

    monkeypatch.setitem(app.config, "SMS_BACKEND", "aliyun")  # the session app queues for Alibaba too
    for template in db.session.query(SmsTemplate):
        fake.register_template(template.provider_template_code, template.content)
    fake.requests.clear()
    issue_invitations.delay()
    issue_invitations.delay()  # beat fired twice: still one link and one SMS per customer
    sent = lambda: db.session.query(SmsMessage).filter_by(purpose="EREVISIT", status="SENT").count()  # noqa: E731
    assert workers.wait_for(lambda: sent() == 4 and db.session.query(RevisitTask).filter_by(status="PENDING").count() == 0)
    time.sleep(1)
    db.session.commit()
    assert db.session.query(SmsMessage).filter_by(purpose="EREVISIT").count() == 4
    phones = [p for r in fake.calls() for p in r.phones]
    assert sorted(phones) == sorted(set(phones)) and len(phones) == 4  # nobody got the SMS twice
    assert "13800138001" in phones  # 张德强, holder of two fresh policies, one SMS for both
    assert {e.actor_name for e in db.session.query(AuditEvent).filter_by(action="invite")} == \
        {"celery:revisit.invitations"}

    # day 4 for every seeded task: the expiry task moves them all to the phone queue
    db.session.query(RevisitTask).update({RevisitTask.erevisit_deadline: clock.now() - timedelta(seconds=1)})
    db.session.commit()
    expire_due.delay()
    assert workers.wait_for(lambda: db.session.query(RevisitTask).filter_by(status="PHONE_QUEUE", channel="PHONE").count()
                    == db.session.query(RevisitTask).count() == 6)
