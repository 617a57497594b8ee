"""E-revisit jobs run by Celery beat (app/tasks/schedule.py): thin wrappers over app/services/revisit.py."""
from celery import shared_task

from app.services import audit, revisit, unit


@shared_task(name="revisit.issue_invitations", ignore_result=True)
def issue_invitations():
    with audit.acting_as("celery:revisit.invitations"):
        return revisit.issue_invitations()


@shared_task(name="revisit.expire_due", ignore_result=True)
def expire_due():
    with audit.acting_as("celery:revisit.expire"):
        return revisit.expire_due()


@shared_task(name="revisit.send_reminders", ignore_result=True)
def send_reminders():
    with audit.acting_as("celery:revisit.reminders"):
        return revisit.send_reminders()


@shared_task(name="revisit.create_task", ignore_result=True)
def create_task(policy_id):
    with audit.acting_as("celery:revisit.create"), unit.work():
        task = revisit.create_task_for_policy(policy_id)
        return task.id if task else None
