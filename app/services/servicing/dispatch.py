"""What an approval carries out, by application kind: the one place the approval's callers (the review
queue, the insured's consent, a straight-through submission) hand an approved application to.

POLICY_LOAN opens its PENDING loan (services/ledger.py: the money's arrival completes it);
ANNUITY_METHOD and BENEFICIARY make their change at once and complete (services/annuity.py,
services/beneficiary.py). LOAN_REPAYMENT completes when the payment result arrives.
"""
from app.services import annuity, beneficiary, ledger
from app.services.servicing import states

ON_APPROVED = {
    "POLICY_LOAN": ledger.on_approved,
    "ANNUITY_METHOD": annuity.on_approved,
    "BENEFICIARY": beneficiary.on_approved,
}


def on_approved(application):
    """Carry out an approved application (once: each handler checks its own state first). Returns what the
    handler returns, or None when the application is not (yet) approved or its kind has nothing to do."""
    if application is None or application.status not in states.APPROVED:
        return None
    handler = ON_APPROVED.get(application.kind)
    return handler(application) if handler is not None else None
