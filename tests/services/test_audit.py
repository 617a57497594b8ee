"""The audit trail: automatic events with before/after and actor; nothing kept can be deleted."""
import pytest

from app.extensions import db
from app.models import AuditEvent, Customer, Policy
from app.services import audit
from app.services.audit import DeletionForbidden


def test_changes_outside_requests_name_their_actor_and_hide_secrets(seeded):
    customer = db.session.query(Customer).filter_by(customer_no="C0001").one()
    with audit.acting_as("celery:test"):
        customer.mobile = "13812345678"
        customer.servicing_password_hash = "pbkdf2:sha256:secret"
        db.session.commit()
    event = db.session.query(AuditEvent).filter_by(entity="customer", entity_id=str(customer.id),
                                                   action="update").one()
    assert event.actor_type == "system" and event.actor_name == "celery:test"
    # personal data: masked with its keyed hash beside it, never in clear (tests/services/test_audit_pii.py)
    assert event.before["mobile"] == "138****8001" and event.after["mobile"] == "138****5678"
    assert event.after["mobile_hash"] == customer.mobile_hash != event.before["mobile_hash"]
    assert event.after["servicing_password_hash"] == "***"


def test_audit_events_cannot_be_changed_or_deleted(seeded):
    event = db.session.query(AuditEvent).first()
    event.action = "tampered"
    with pytest.raises(DeletionForbidden):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(DeletionForbidden):
        db.session.delete(db.session.query(AuditEvent).first())
        db.session.flush()
    db.session.rollback()
    with pytest.raises(DeletionForbidden):
        db.session.query(AuditEvent).delete()
    db.session.rollback()


def test_policies_cannot_be_deleted_in_code(seeded):
    with pytest.raises(DeletionForbidden):
        db.session.query(Policy).filter_by(policy_no="880000001522216").delete()
    db.session.rollback()
    assert db.session.query(Policy).filter_by(policy_no="880000001522216").count() == 1


def test_explicit_record_for_set_based_work(seeded):
    with audit.acting_as("cli:job"):
        audit.record(db.session, "expire", "revisit_task", None, after={"moved": 12})
        db.session.commit()
    event = db.session.query(AuditEvent).filter_by(action="expire").one()
    assert event.after == {"moved": 12} and event.actor_name == "cli:job"
