"""Phone revisit jobs (beat, every minute): lapsed reservations and lapsed callbacks go back
to the queue."""
from celery import shared_task

from app.services import audit, phone_revisit


@shared_task(name="phone_revisit.release_lapsed", ignore_result=True)
def release_lapsed():
    with audit.acting_as("celery:phone_revisit"):
        return phone_revisit.release_lapsed()


@shared_task(name="phone_revisit.reopen_lapsed_callbacks", ignore_result=True)
def reopen_lapsed_callbacks():
    with audit.acting_as("celery:phone_revisit"):
        return phone_revisit.reopen_lapsed_callbacks()
