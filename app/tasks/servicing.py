"""Celery tasks of the servicing domain: thin wrappers that call app/services/ledger.py and
app/services/servicing/consent.py."""
from celery import shared_task

from app.services import audit, ledger
from app.services.servicing import consent


@shared_task(name="servicing.daily_loans", ignore_result=True)
def daily_loans():
    """Roll-overs on the due date, the 30- and 7-day reminders, the suspensions (safe to run twice)."""
    with audit.acting_as("celery:servicing.daily_loans"):
        ledger.run_daily()


@shared_task(name="servicing.lapse_consents", ignore_result=True)
def lapse_consents():
    """Consents not confirmed within CONSENT_VALID_DAYS lapse, their applications rejected (safe to run twice)."""
    with audit.acting_as("celery:servicing.lapse_consents"):
        consent.lapse_due()
