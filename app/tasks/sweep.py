"""The sweep (beat, every minute; app/services/sweep.py): committed work whose Celery message was lost
is queued again; every job checks its row's state first."""
from celery import shared_task

from app.services import audit, sweep


@shared_task(name="sweep.run", ignore_result=True)
def run():
    with audit.acting_as("celery:sweep"):
        return sweep.run()
