"""SMS tasks: send one message by id; beat picks up what is due (retries, flow control)."""
from celery import shared_task

from app.services import audit, sms


@shared_task(name="sms.send", ignore_result=True)
def send_sms(message_id):
    with audit.acting_as("celery:sms"):
        return sms.send(message_id)


@shared_task(name="sms.dispatch_due", ignore_result=True)
def dispatch_due():
    for message_id in sms.due_message_ids():
        send_sms.delay(message_id)
