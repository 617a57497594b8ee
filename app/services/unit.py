"""One unit of work for the services (Zulip's transaction.atomic + send_event_on_commit).

- `work()`: a service operation called from a view, a task or the CLI runs inside it; it commits on
  success and rolls back on any exception (a DomainError included), then re-raises.
- `enqueue(task_name, *args)`: a Celery job that follows the rows of this transaction, sent only
  after the commit that made them and dropped on rollback. Jobs are named, so no service imports
  app.tasks ("commit, then .delay" is written here once).
- `retry_on_lock(fn, ...)`: the one retry for lock-wait timeouts and deadlocks (MariaDB rolled the
  transaction back; running it again is safe).
"""
import logging
import time
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError

from app.extensions import db

log = logging.getLogger(__name__)

_JOBS = "portal.jobs_after_commit"
# MySQL/MariaDB: 1205 lock wait timeout, 1213 deadlock (the server rolled the transaction back)
LOCK_ERRORS = (1205, 1213)


def enqueue(task_name, *args, **kwargs):
    """Send the Celery task `task_name` with these (id) arguments after the current transaction
    commits; nothing is sent if it rolls back."""
    db.session().info.setdefault(_JOBS, []).append((task_name, args, kwargs))


def pending_jobs():
    """The jobs waiting for the current transaction's commit (for tests and diagnostics)."""
    return list(db.session().info.get(_JOBS, ()))


def _send_after_commit(session):
    jobs = session.info.pop(_JOBS, None)
    if not jobs:
        return
    celery = current_app.extensions["celery"]
    for name, args, kwargs in jobs:
        # an eager task runs here in an app context (and so a session) of its own
        celery.tasks[name].apply_async(args=args, kwargs=kwargs)


def _drop_after_rollback(session):
    session.info.pop(_JOBS, None)


def install(session):
    """Called once from create_app(): hook the after-commit dispatch onto the scoped session."""
    if not event.contains(session, "after_commit", _send_after_commit):
        event.listen(session, "after_commit", _send_after_commit)
        event.listen(session, "after_rollback", _drop_after_rollback)


@contextmanager
def work():
    """`with unit.work(): service.operation(...)`: one commit, or a rollback on any error."""
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        # SQLAlchemy fires after_rollback only if a transaction had begun: drop the jobs here too
        db.session().info.pop(_JOBS, None)
        db.session.rollback()
        raise


def is_lock_error(exc):
    """A lock-wait timeout or deadlock, raised by SQLAlchemy (the DBAPI error in exc.orig) or by
    the DBAPI itself."""
    error = getattr(exc, "orig", None) or exc
    return bool(getattr(error, "args", None)) and error.args[0] in LOCK_ERRORS


def retry_on_lock(fn, *args, tries=5, pause=0.05, **kwargs):
    """Run `fn` (which commits its own transaction), again after a lock-wait timeout or deadlock."""
    for attempt in range(1, tries + 1):
        try:
            return fn(*args, **kwargs)
        except (OperationalError, DBAPIError) as exc:
            db.session.rollback()
            if not is_lock_error(exc) or attempt == tries:
                raise
            log.info("%s hit a lock (%s), try %s of %s", getattr(fn, "__name__", fn), exc.orig, attempt, tries)
            time.sleep(pause * attempt)
