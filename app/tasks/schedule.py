"""Celery beat schedule (Asia/Shanghai). Run one `celery beat` for the whole deployment."""
from celery.schedules import crontab


def beat_schedule(config):
    schedule = {
        "sms-dispatch-due": {"task": "sms.dispatch_due", "schedule": 60.0},
        "sms-settle-unknown": {"task": "sms.settle_unknown", "schedule": 60.0},
        "phone-release-lapsed": {"task": "phone_revisit.release_lapsed", "schedule": 60.0},
        "phone-reopen-callbacks": {"task": "phone_revisit.reopen_lapsed_callbacks", "schedule": 60.0},
    }
    # committed work whose job was lost is queued again (app/services/sweep.py): every minute
    schedule["sweep-lost-jobs"] = {"task": "sweep.run", "schedule": 60.0}
    # e-revisit (app/tasks/revisit.py): invitations every minute; the day-4 expiry every 10 minutes
    # and right after midnight, when a day's deadlines fall; the optional day-2 reminder at 10:00.
    schedule["revisit-issue-invitations"] = {"task": "revisit.issue_invitations", "schedule": 60.0}
    schedule["revisit-expire-due"] = {"task": "revisit.expire_due", "schedule": crontab(minute="*/10")}
    schedule["revisit-expire-midnight"] = {"task": "revisit.expire_due", "schedule": crontab(hour=0, minute=1)}
    # always scheduled: send_reminders does nothing unless EREVISIT_REMINDER_ENABLED (an admin setting)
    schedule["revisit-reminders"] = {"task": "revisit.send_reminders", "schedule": crontab(hour=10, minute=0)}
    # policy loans (app/tasks/servicing.py): roll-overs, reminders and suspensions once a day, after midnight
    schedule["servicing-daily-loans"] = {"task": "servicing.daily_loans", "schedule": crontab(hour=0, minute=20)}
    # the insured's consent (app/services/servicing/consent.py): lapses every 10 minutes
    schedule["servicing-lapse-consents"] = {"task": "servicing.lapse_consents", "schedule": crontab(minute="*/10")}
    # the audit trail's seal (app/services/seal.py): every 10 minutes
    schedule["audit-seal"] = {"task": "audit.seal", "schedule": crontab(minute="*/10")}
    return schedule
