"""The face-check queue is visible (issue 14, item 7): the JSON the progress page polls says how many checks
are queued before the customer's and about how long the wait is, in Chinese; it goes once the check is done."""
import os

import pytest
from flask import render_template
from sqlalchemy import inspect

from app.extensions import db
from app.models import Customer, IdentityVerification
from app.services import clock, identity
from app.views import face_check
from tests.conftest import FACES


def _photo(name):
    with open(os.path.join(FACES, name), "rb") as handle:
        return handle.read()


@pytest.fixture
def rates(app, monkeypatch):
    monkeypatch.setitem(app.config, "FACE_CHECKS_PER_SECOND", 2.0)
    monkeypatch.setitem(app.config, "FACE_VIDEO_CHECK_SECONDS", 3.0)


def _check(customer_id, kind="PHOTO", status="PENDING", evidence_path=None):
    row = IdentityVerification(customer_id=customer_id, kind=kind, purpose="ACCOUNT_AUTH", status=status,
                               evidence_path=evidence_path, created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    return row


def _polled(app, verification):
    """What the progress page's polling gets (the /s/, /c/ and /my/ status routes all answer this)."""
    db.session.commit()
    db.session.refresh(verification)
    with app.test_request_context():
        return face_check.status_reply(verification, lambda v: True, "/next", "/progress").get_json()


def test_the_status_says_the_place_in_the_queue_and_the_wait(app, seeded, rates):
    mine_customer, other = db.session.query(Customer).order_by(Customer.id).limit(2).all()
    identity.attach_reference_photo(mine_customer.id, _photo("obama.jpg"))
    ahead = [_check(other.id), _check(other.id), _check(other.id), _check(other.id, kind="VIDEO")]
    _check(other.id, status="PASSED")  # done: not in the queue
    # the customer's selfie, stored as an upload stores it, its job waiting for the busy worker
    mine = _check(mine_customer.id, evidence_path=identity._store("photo", mine_customer.id, "jpg",
                                                                   _photo("obama2.jpg")))
    _check(other.id)  # queued after the customer's: not ahead of it

    # 3 photos ahead + its own at 2 a second, 1 video at 3 s: 2 + 3 = 5 s
    status = _polled(app, mine)
    assert status["done"] is False
    assert status["queue"] == {"ahead": 4, "seconds": 5, "text": "前面还有 4 位,预计约 5 秒"}

    for row in ahead[:3]:  # the worker gets through the photos ahead
        row.status = "PASSED"
    assert _polled(app, mine)["queue"] == {"ahead": 1, "seconds": 4, "text": "前面还有 1 位,预计约 4 秒"}
    ahead[3].status = "FAILED"
    assert _polled(app, mine)["queue"]["text"] == "正在为您进行人脸比对,预计约 1 秒"

    from app.tasks.identity import run_photo_verification

    run_photo_verification.run(mine.id)  # its turn: the real check
    status = _polled(app, mine)
    assert status["status"] == "PASSED" and status["done"] and "queue" not in status


def test_the_progress_page_has_the_place_for_it(app):
    with app.test_request_context():
        html = render_template("h5/face_progress.html", status_url="/status")
    assert 'id="progress-queue"' in html


def test_the_count_is_over_an_index_of_the_queue(app):
    indexes = {i["name"]: i["column_names"] for i in inspect(db.engine).get_indexes("identity_verification")}
    assert indexes.get("ix_identity_verification_queue") == ["status", "kind"]


def test_no_place_for_a_finished_check(app, seeded):
    customer = db.session.query(Customer).first()
    assert identity.queue_position(_check(customer.id, status="UNUSABLE")) is None
    assert identity.queue_position(None) is None
    db.session.rollback()
