"""Celery beat schedule (Asia/Shanghai). Run one `celery beat` for the whole deployment."""
from celery.schedules import crontab


def beat_schedule(config):
    schedule = {
        "sms-dispatch-due": {"task": "sms.dispatch_due", "schedule": 60.0},
    }
    return schedule
