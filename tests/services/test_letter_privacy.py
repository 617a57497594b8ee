"""The letter revisit names the mobile that was called, masked by the one rule (services/privacy.py)."""
from app.extensions import db
from app.models import Policy
from app.services import letters, privacy
from tests.factories import make_task
from tests.services.test_phone_revisit import _pdf_text


def test_the_letter_shows_the_called_mobile_masked(seeded):
    policy = db.session.query(Policy).filter_by(policy_no="880000001522216").one()
    mobile = policy.holder.mobile
    text = _pdf_text(letters.letter_pdf(make_task(policy.policy_no, status="LETTER_DUE")))
    assert privacy.mask_mobile(mobile) in text and "138****8001" in text
    assert mobile not in text and policy.holder.id_number not in text
