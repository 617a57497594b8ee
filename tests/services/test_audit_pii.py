"""Personal data never enters the audit trail in clear (issue 15 points 1 and 4): a customer's ID number and
mobile, a beneficiary's ID number and an SMS phone are written as their masked form with the keyed hash
(crypto.lookup_hash) beside them, face encodings as "***"; read with plain SQL, audit_event holds neither
the old nor the new value; the trail still seals and verifies."""
import datetime
from datetime import date

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent, Customer
from app.services import audit, seal
from app.services.crypto import lookup_hash
from app.services.validation import make_resident_id

OLD_MOBILE, NEW_MOBILE = "13912340077", "13698761234"


@pytest.fixture
def sealable(monkeypatch):
    monkeypatch.setattr(seal, "horizon", lambda session=None: datetime.datetime(9999, 1, 1))


def trail_text():
    """Every event's before and after as MariaDB stores them (the JSON text), read with plain SQL."""
    db.session.rollback()
    with db.engine.connect() as conn:
        return "\n".join(f"{entity_id} {before} {after}" for entity_id, before, after in conn.execute(
            text("SELECT entity_id, CAST(`before` AS CHAR), CAST(`after` AS CHAR) FROM audit_event")))


def make_customer():
    id_number = make_resident_id("110105", date(1980, 5, 17), 37)
    with audit.acting_as("test:pii"):
        customer = Customer(customer_no="CPII001", name="隐私测试", gender="F", birth_date=date(1980, 5, 17),
                            id_type="RESIDENT_ID", id_number=id_number, mobile=OLD_MOBILE,
                            face_encoding=b"\x01" * 1024)
        db.session.add(customer)
        db.session.commit()
        customer = db.session.get(Customer, customer.id)  # loaded, as an edit form loads it
        assert customer.mobile == OLD_MOBILE
        customer.mobile = NEW_MOBILE
        db.session.commit()
    return customer, id_number


def test_a_customer_created_and_their_mobile_changed_leave_only_masks_and_keyed_hashes(app):
    customer, id_number = make_customer()
    stored = trail_text()
    for clear in (OLD_MOBILE, NEW_MOBILE, id_number):
        assert clear not in stored
    assert "139****0077" in stored and "136****1234" in stored
    assert id_number[:3] + "*" * 11 + id_number[-4:] in stored
    # an auditor matches a value they know with the keyed hash
    assert lookup_hash(OLD_MOBILE, "mobile") in stored and lookup_hash(NEW_MOBILE, "mobile") in stored
    assert lookup_hash(id_number, "id_number") in stored

    events = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "customer",
                                                         AuditEvent.entity_id == str(customer.id))
                                .order_by(AuditEvent.id)).scalars().all()
    created, changed = events[0], events[-1]
    assert created.action == "create" and created.after["face_encoding"] == "***"
    assert created.after["id_number_hash"] == customer.id_number_hash
    assert changed.action == "update"
    assert changed.before["mobile"] == "139****0077" and changed.after["mobile"] == "136****1234"
    assert changed.before["mobile_hash"] == lookup_hash(OLD_MOBILE, "mobile")
    assert changed.after["mobile_hash"] == customer.mobile_hash == lookup_hash(NEW_MOBILE, "mobile")


def test_explicit_events_mask_and_hash_personal_keys(app):
    with audit.acting_as("test:pii"):
        audit.record(db.session, "queue", "sms_message", None, None,
                     {"phone": OLD_MOBILE, "id_number": "110105198005170379", "count": 1})
    db.session.commit()
    stored = trail_text()
    assert OLD_MOBILE not in stored and "110105198005170379" not in stored
    event = db.session.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
    assert event.after["phone"] == "139****0077" and event.after["phone_hash"] == lookup_hash(OLD_MOBILE, "mobile")
    assert event.after["count"] == 1


def test_the_trail_with_masked_values_seals_and_verifies(app, sealable):
    make_customer()
    db.session.rollback()
    result = app.test_cli_runner().invoke(args=["audit", "seal"])
    assert result.exit_code == 0, result.output
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and result.output.startswith("审计记录完好"), result.output


def test_the_bench_switch_is_refused_in_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_ROW_HASH", "0")
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    with pytest.raises(audit.AuditConfigError):
        audit.install()
    assert audit.ROW_HASH is True
    monkeypatch.setitem(app.config, "PORTAL_ENV", "development")
    try:
        audit.install()
        assert audit.ROW_HASH is False
    finally:
        monkeypatch.setitem(app.config, "AUDIT_ROW_HASH", None)
        audit.install()
    assert audit.ROW_HASH is True
