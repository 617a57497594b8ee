"""Identity tasks: eagerly (as the web process runs them without a broker) and on a real worker."""
import os
import time
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Customer, IdentityVerification
from app.models.revisit import RevisitLink
from app.services import clock, identity
from app.tasks import identity as identity_tasks
from tests.conftest import FACES



def photo(name):
    with open(os.path.join(FACES, name), "rb") as handle:
        return handle.read()


def customer_with_link(no="C0001", reference="obama.jpg"):
    customer = db.session.query(Customer).filter_by(customer_no=no).one()
    identity.attach_reference_photo(customer.id, photo(reference))
    link = RevisitLink(code="taskcode" + no, customer_id=customer.id, batch="20260101",
                       expires_at=clock.now() + timedelta(days=3))
    db.session.add(link)
    db.session.commit()
    return customer.id, link.id


def test_the_erevisit_selfie_task_updates_the_link(seeded):
    customer_id, link_id = customer_with_link()
    first = identity.start_photo_verification(customer_id, photo("biden.jpg"), "EREVISIT", link_id=link_id)
    second = identity.start_photo_verification(customer_id, photo("obama2.jpg"), "EREVISIT", link_id=link_id)
    db.session.expire_all()
    assert db.session.get(IdentityVerification, first.id).status == "FAILED"
    assert db.session.get(IdentityVerification, second.id).status == "PASSED"
    link = db.session.get(RevisitLink, link_id)
    assert link.face_attempts == 2 and link.face_verified_at is not None


def test_running_a_finished_verification_again_changes_nothing(seeded):
    customer_id, link_id = customer_with_link()
    started = identity.start_photo_verification(customer_id, photo("obama2.jpg"), "EREVISIT", link_id=link_id)
    identity_tasks.run_photo_verification.delay(started.id)  # a redelivered message
    db.session.expire_all()
    assert db.session.get(RevisitLink, link_id).face_attempts == 1


@pytest.fixture
def real_worker(app, servers):
    """A second app whose Celery goes through the test Redis to a worker thread."""
    from tests.workers import worker_app

    with worker_app(app, servers) as second:
        yield second.extensions["celery"]


def test_the_photo_check_runs_on_a_real_worker(seeded, real_worker):
    with real_worker.connection_for_write() as connection:
        assert connection.as_uri().startswith("redis://")
    customer_id, link_id = customer_with_link()
    started = identity.start_photo_verification(customer_id, photo("obama2.jpg"), "EREVISIT", link_id=link_id)
    deadline = time.monotonic() + 30
    status = "PENDING"
    while status == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.2)
        db.session.rollback()  # a fresh snapshot each time
        status = db.session.get(IdentityVerification, started.id).status
    assert status == "PASSED"
    db.session.rollback()
    link = db.session.get(RevisitLink, link_id)
    assert link.face_attempts == 1 and link.face_verified_at is not None
