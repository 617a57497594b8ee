"""Celery tasks of the servicing domain: thin wrappers that call app/services/ledger.py."""
from celery import shared_task

from app.services import audit, ledger


@shared_task(name="servicing.daily_loans", ignore_result=True)
def daily_loans():
    """Roll-overs on the due date, the 30- and 7-day reminders, the suspensions (safe to run twice)."""
    with audit.acting_as("celery:servicing.daily_loans"):
        ledger.run_daily()
