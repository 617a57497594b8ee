"""Limits that hold under a burst (issue 14 item 4), on MariaDB: twelve threads, each with its own app
context, session and connection, released together by a barrier, hit one counter at once. Exactly the
limit is accepted; the others are refused with the Chinese message, before anything is stored."""
import os
import threading
import time
from datetime import timedelta

import pytest
from flask import current_app

from app.extensions import db
from app.models import Customer, IdentityVerification, RevisitLink, SmsMessage, VerificationCode
from app.services import clock, codes, identity, unit
from app.services import settings as business_settings
from app.services.errors import DomainError
from tests.conftest import FACES

THREADS = 12
PHONE = "13700137012"


def photo(name):
    with open(os.path.join(FACES, name), "rb") as handle:
        return handle.read()


def burst(call, threads=THREADS):
    """Run call() in `threads` threads at once; returns (results, DomainErrors); other errors fail."""
    app = current_app._get_current_object()
    start = threading.Barrier(threads)
    lock = threading.Lock()
    results, refusals, crashes = [], [], []

    def one():
        with app.app_context():
            try:
                start.wait()
                value = call()
            except DomainError as error:
                with lock:
                    refusals.append(error)
            except Exception as error:  # noqa: BLE001 - reported below
                with lock:
                    crashes.append(repr(error))
            else:
                with lock:
                    results.append(value)
            finally:
                db.session.remove()

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert not crashes, crashes
    assert len(results) + len(refusals) == threads
    db.session.expire_all()
    return results, refusals


def customer(no="C0001"):
    return db.session.query(Customer).filter_by(customer_no=no).one()


def fresh_link(found):
    link = RevisitLink(code=f"burst{found.id}x", customer_id=found.id, batch="20261130",
                       expires_at=clock.now() + timedelta(days=3), face_attempts=0)
    db.session.add(link)
    db.session.commit()
    return link.id


def stored_photos(app):
    root = os.path.join(app.config["UPLOAD_DIR"], "identity", "photo")
    return sum(len(files) for _, _, files in os.walk(root))


def test_twelve_uploads_to_one_fresh_link_accept_exactly_the_limit(seeded, monkeypatch):
    limit = business_settings.get("FACE_MAX_TRIES")
    found = customer()
    identity.attach_reference_photo(found.id, photo("obama.jpg"))
    link_id = fresh_link(found)
    customer_id, image = found.id, photo("obama2.jpg")
    queued = []
    monkeypatch.setattr(unit, "enqueue", lambda name, *args: queued.append((name, args)))  # the checks: not here
    before = stored_photos(seeded)

    accepted, refused = burst(lambda: identity.start_photo_verification(
        customer_id, image, "EREVISIT", link_id=link_id).id)

    assert len(accepted) == limit and len(refused) == THREADS - limit
    assert {e.key for e in refused} == {"face_too_many_tries"}
    assert {e.message for e in refused} == {"人脸识别尝试次数过多,我们将通过电话为您回访"}
    assert db.session.get(RevisitLink, link_id).face_attempts == limit
    assert db.session.query(IdentityVerification).filter_by(link_id=link_id).count() == limit
    assert stored_photos(seeded) - before == limit  # nothing stored for a refused upload
    assert sorted(args[0] for _, args in queued) == sorted(accepted)


def test_the_check_itself_no_longer_counts_the_try(seeded):
    """Counted once, at the upload: the eager check that follows leaves the count at one."""
    found = customer()
    identity.attach_reference_photo(found.id, photo("obama.jpg"))
    link_id = fresh_link(found)
    started = identity.start_photo_verification(found.id, photo("obama2.jpg"), "EREVISIT", link_id=link_id)
    db.session.expire_all()
    assert db.session.get(IdentityVerification, started.id).status == "PASSED"
    link = db.session.get(RevisitLink, link_id)
    assert link.face_attempts == 1 and link.face_verified_at is not None


def test_twelve_uploads_under_a_customer_limit_accept_exactly_the_limit(seeded, monkeypatch):
    """The loan / consent / liveness pattern: tries are the customer's verification rows, counted
    (pending ones included) under the customer's row lock."""
    found = customer("C0002")
    customer_id, image = found.id, photo("rose_leslie.jpg")
    monkeypatch.setattr(unit, "enqueue", lambda name, *args: None)
    limit = identity.TryLimit(limit=3, since=clock.start_of_day(clock.today()), error="face_too_many_today",
                              kind="PHOTO", purposes=("LOAN",))

    accepted, refused = burst(lambda: identity.start_photo_verification(
        customer_id, image, "LOAN", try_limit=limit).id)

    assert len(accepted) == 3 and {e.key for e in refused} == {"face_too_many_today"}
    assert all("今日人脸识别未通过次数过多" in e.message for e in refused)
    assert db.session.query(IdentityVerification).filter_by(customer_id=customer_id, purpose="LOAN").count() == 3


def _wrong_code(phone, purpose):
    row = db.session.query(VerificationCode).filter(VerificationCode.phone_is(phone),
                                                    VerificationCode.purpose == purpose).one()
    for candidate in range(10 ** 6):
        guess = f"{candidate:06d}"
        if codes._hash(phone, purpose, guess) != row.code_hash:
            return guess


def test_twelve_wrong_codes_at_once_spend_exactly_the_tries(seeded):
    limit = business_settings.get("CODE_MAX_WRONG_TRIES")
    with unit.work():
        codes.send(PHONE, "SIGN_IN")
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(PHONE), SmsMessage.purpose == "CODE").one()
    right = codes.development_code(message)
    wrong = _wrong_code(PHONE, "SIGN_IN")

    def guess():
        with unit.work():
            return codes.verify(PHONE, "SIGN_IN", wrong)

    accepted, refused = burst(guess)

    assert accepted == []
    counted = sorted(e.message for e in refused if e.key == "code_wrong")
    assert counted == sorted(f"验证码错误,还可以再试{left}次" for left in range(1, limit))
    assert [e.key for e in refused].count("code_too_many_tries") == THREADS - (limit - 1)
    assert {e.message for e in refused if e.key == "code_too_many_tries"} == {"验证码错误次数过多,请重新获取"}
    assert db.session.query(VerificationCode).one().wrong_tries == limit
    with pytest.raises(DomainError) as error:  # the right code no longer helps
        codes.verify(PHONE, "SIGN_IN", right)
    assert error.value.key == "code_too_many_tries"


def test_twelve_right_codes_at_once_sign_in_once(seeded):
    with unit.work():
        codes.send(PHONE, "SIGN_IN")
    right = codes.development_code(db.session.query(SmsMessage).filter(SmsMessage.phone_is(PHONE),
                                                                       SmsMessage.purpose == "CODE").one())

    def enter():
        with unit.work():
            return codes.verify(PHONE, "SIGN_IN", right)

    accepted, refused = burst(enter)
    assert accepted == [PHONE] and {e.key for e in refused} == {"code_used"}


def test_twelve_code_requests_at_once_send_one_code(seeded, monkeypatch):
    """Each request sleeps 0.2 s between its count (check_send_allowed) and its INSERT, so without
    codes._one_sender_at_a_time() all twelve would count none sent and all would send (this test fails
    then); with it they take turns and each count sees the codes committed before it."""
    per_minute = current_app.config["CODE_SENDS_PER_MINUTE"]
    check = codes.check_send_allowed

    def slow_check(phone, now=None):
        check(phone, now)
        time.sleep(0.2)  # the race window, widened: counted, not yet inserted

    monkeypatch.setattr(codes, "check_send_allowed", slow_check)

    def request_code():
        with unit.work():
            return codes.issue(PHONE, "BIND")

    accepted, refused = burst(request_code)

    assert len(accepted) == per_minute and {e.key for e in refused} == {"code_too_frequent"}
    assert all(e.message.startswith("验证码发送过于频繁") for e in refused)
    assert db.session.query(VerificationCode).filter(VerificationCode.phone_is(PHONE)).count() == per_minute


def test_twelve_binding_attempts_at_once_fail_exactly_the_limit_then_lock(seeded):
    """A signed-in mobile guessing a policyholder's name and ID: the attempts on one mobile take turns,
    so the lockout (BIND_MAX_FAILURES) counts every failure before it."""
    from app.models.audit import AuditEvent
    from app.services import account

    holder = customer("C0004")
    id_type, id_number, mobile = holder.id_type, holder.id_number, holder.mobile
    limit = current_app.config["BIND_MAX_FAILURES"]

    def attempt():
        with unit.work():
            return account.bind("张三", id_type, id_number, mobile, signed_in_phone=mobile, ip="10.0.0.9")

    accepted, refused = burst(attempt)

    assert accepted == []
    assert [e.key for e in refused].count("bind_mismatch") == limit
    assert [e.key for e in refused].count("bind_locked") == THREADS - limit
    assert all("绑定失败次数过多" in e.message for e in refused if e.key == "bind_locked")
    assert db.session.query(AuditEvent).filter_by(entity="account_binding", action="bind_failed").count() == limit
