"""The sweep (issue 14 item 3): work that was committed but whose Celery message was lost is queued again.

A job is queued by name after the commit that made its rows (services/unit.py). If the message is
lost after that (Redis restarted or flushed, a worker killed between the pop and the ack), the row
stays waiting. Beat runs `sweep.run` every minute (app/tasks/sweep.py, app/tasks/schedule.py); it
finds the rows that have waited longer than their kind's delay and queues their job again. Every job
checks its row's state first and does nothing when the work is done, so a duplicate costs a look
at one row and a lost message costs a delay, never the work.

What follows a committed row, and who finds it again:

- face photo and liveness video checks (IdentityVerification PENDING): this sweep, after
  SWEEP_PHOTO_AFTER_SECONDS (2 minutes) / SWEEP_VIDEO_AFTER_SECONDS (5 minutes); the task takes the
  row lock and returns when the row is no longer PENDING (services/identity.py). A row is queued
  again at most once per delay (details.swept_at), so a long backlog is not multiplied each minute.
- SMS sends (invitations, reminders, consent and application notices): `sms.dispatch_due`, every
  minute, already queues every message in a state that proves it was never handed to the provider
  (QUEUED, FLOW_CONTROLLED) and each send claims its message with a conditional UPDATE first, so
  nothing is sent twice. SENDING and FAILED (UNKNOWN_RESULT) may have reached the provider: the
  sweep never touches them.
- verification-code SMS: their code travels only in the lost message (services/sms.py, secrets), so
  they cannot be sent again; one still QUEUED and never claimed (send_attempts 0) after the code's
  validity is handed to `sms.send` without its secret, which settles it FAILED
  (SECRET_NOT_AVAILABLE) without sending anything; the customer asks for a new code.
- e-revisit invitations (tasks PENDING) and the servicing jobs are themselves beat jobs that read
  their rows' state (revisit.issue_invitations, servicing.*): nothing is lost with a message.

The delays are config keys with the defaults below (seconds).
"""
from datetime import datetime, timedelta

from flask import current_app
from app.extensions import db
from app.models.identity import IdentityVerification
from app.models.sms import SmsMessage
from app.services import audit, clock, unit
from app.services import settings as business_settings

DEFAULT_DELAYS = {"SWEEP_PHOTO_AFTER_SECONDS": 120, "SWEEP_VIDEO_AFTER_SECONDS": 300}
BATCH = 500  # rows queued again per kind and run; the next run takes the rest
CHECK_TASKS = {"PHOTO": ("identity.run_photo_verification", "SWEEP_PHOTO_AFTER_SECONDS"),
               "VIDEO": ("identity.run_video_verification", "SWEEP_VIDEO_AFTER_SECONDS")}


def delay(key):
    return timedelta(seconds=int(current_app.config.get(key, DEFAULT_DELAYS[key])))


def _last_queued(verification):
    """When the check's job was last queued: its creation, or the last sweep that queued it again."""
    swept = (verification.details or {}).get("swept_at")
    if swept:
        try:
            return max(verification.created_at, datetime.fromisoformat(swept))
        except (TypeError, ValueError):
            pass
    return verification.created_at


def stale_checks(kind, now=None, limit=BATCH):
    """PENDING checks of this kind queued (first or again) longer ago than the kind's delay."""
    now = now or clock.now()
    cutoff = now - delay(CHECK_TASKS[kind][1])
    candidates = db.session.query(IdentityVerification).filter(
        IdentityVerification.kind == kind, IdentityVerification.status == "PENDING",
        IdentityVerification.created_at < cutoff).order_by(IdentityVerification.id).limit(limit).all()
    return [v for v in candidates if _last_queued(v) < cutoff]


def stale_code_messages(now=None, limit=BATCH):
    """Verification-code SMS never claimed (QUEUED, no send attempt) for longer than a code is valid."""
    from app.services import sms

    now = now or clock.now()
    cutoff = now - timedelta(minutes=business_settings.get("CODE_VALID_MINUTES"))
    return [row.id for row in db.session.query(SmsMessage.id).filter(
        SmsMessage.status == "QUEUED", SmsMessage.send_attempts == 0, SmsMessage.purpose == "CODE",
        SmsMessage.content.contains(sms.SECRET_MASK), SmsMessage.created_at < cutoff)
        .order_by(SmsMessage.id).limit(limit)]


def run(now=None):
    """Queue again what waited too long; returns {kind: count}. One unit of work: the jobs are sent
    after its commit (nothing is sent if it rolls back)."""
    now = now or clock.now()
    counts = {}
    with unit.work():
        for kind, (task_name, _key) in CHECK_TASKS.items():
            stale = stale_checks(kind, now)
            for verification in stale:
                details = dict(verification.details or {})
                details["swept_at"] = now.isoformat()
                details["swept"] = int(details.get("swept", 0)) + 1
                verification.details = details
                unit.enqueue(task_name, verification.id)
            if stale:
                audit.record(db.session, "sweep", "identity_verification", None,
                             after={"kind": kind, "ids": [v.id for v in stale]})
            counts[kind] = len(stale)
        codes = stale_code_messages(now)
        for message_id in codes:
            unit.enqueue("sms.send", message_id)  # without its secret: settles FAILED, sends nothing
        if codes:
            audit.record(db.session, "sweep", "sms_message", None, after={"ids": codes, "secret": "lost"})
        counts["CODE_SMS"] = len(codes)
    if any(counts.values()):
        current_app.logger.warning("sweep queued again: %s", counts)
    return counts
