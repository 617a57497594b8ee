"""Tasks the chaos suite's real worker imports (`celery worker -I tests.chaos.tasks`): the real SMS send,
slowed down so that Redis dies while a task is in flight (late acknowledgement, as in production)."""
import logging
import os
import time

from celery import current_app, shared_task
from celery.signals import worker_ready

from app.services import audit, sms

log = logging.getLogger("chaos")
# unacknowledged messages older than the (short) visibility timeout are looked for every 2 s
current_app.conf.broker_transport_options = dict(current_app.conf.broker_transport_options or {},
                                                 unacked_restore_interval=2, unacked_restore_throttle=1)
if os.environ.get("CHAOS_STOCK_TRANSPORT"):  # to see kombu's crash without app/celery_redis.py
    current_app.conf.broker_transport = None


@worker_ready.connect
def _say_transport(sender, **kwargs):
    log.warning("chaos worker transport: %s", type(sender.connection.transport).__module__)


@shared_task(name="chaos.slow_send", ignore_result=True, acks_late=True)
def slow_send(message_id, seconds=0.3):
    time.sleep(seconds)
    with audit.acting_as("celery:chaos"):
        return sms.send(message_id)
