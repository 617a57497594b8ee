"""SMS tasks: send one message or a batch by id; beat picks up what is due (retries, flow control)
and settles unknown results at the provider (settle_unknown)."""
from celery import shared_task

from app.services import audit, sms


@shared_task(name="sms.send", ignore_result=True)
def send_sms(message_id, sealed=None):
    # sealed: a verification code's secret, encrypted (services/sms.py seal); never stored
    with audit.acting_as("celery:sms"):
        return sms.send(message_id, sealed)


@shared_task(name="sms.send_batch", ignore_result=True)
def send_sms_batch(message_ids):
    with audit.acting_as("celery:sms"):
        return sms.send_batch(message_ids)


@shared_task(name="sms.dispatch_due", ignore_result=True)
def dispatch_due():
    with audit.acting_as("celery:sms"):
        sms.flag_stuck()
        batches, singles = sms.due_work()
    for ids in batches:
        send_sms_batch.delay(ids)
    for message_id in singles:
        send_sms.delay(message_id)


@shared_task(name="sms.settle_unknown", ignore_result=True)
def settle_unknown():
    # UNKNOWN_RESULT messages: the provider's own record says sent or never received (services/sms.py)
    with audit.acting_as("celery:sms"):
        return sms.settle_unknown()
