"""Celery task of the audit trail: the seal job (app/services/seal.py), every ten minutes."""
from celery import shared_task

from app.services import audit, seal


@shared_task(name="audit.seal", ignore_result=True)
def seal_events():
    """Seal the audit events committed since the last seal (safe to run twice: nothing is sealed twice)."""
    with audit.acting_as("celery:audit.seal"):
        while seal.seal() is not None:  # a backlog is sealed in several seals of at most 100,000 events
            pass
