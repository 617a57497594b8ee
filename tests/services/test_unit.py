"""The unit of work: jobs follow their commit, never a rollback; the lock retry runs again only on
lock errors."""
import pytest
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models.setting import Setting
from app.services import unit
from app.services.errors import DomainError


@pytest.fixture
def sent(app, monkeypatch):
    calls = []
    celery = app.extensions["celery"]
    name = "sms.send"
    monkeypatch.setattr(celery.tasks[name], "apply_async",
                        lambda args=(), kwargs=None, **_: calls.append((name, tuple(args))))
    return calls


def test_a_job_is_sent_after_the_commit_that_made_its_row(app, sent):
    with unit.work():
        db.session.add(Setting(key="HESITATION_DAYS", value="20"))
        unit.enqueue("sms.send", 41)
        assert sent == []  # not before the commit
    assert sent == [("sms.send", (41,))]


def test_a_rolled_back_unit_sends_nothing_and_stores_nothing(app, sent):
    with pytest.raises(DomainError):
        with unit.work():
            db.session.add(Setting(key="HESITATION_DAYS", value="20"))
            unit.enqueue("sms.send", 42)
            raise DomainError("setting_unknown", key="X")
    db.session.commit()  # a later commit does not send the dropped job either
    assert sent == []
    assert db.session.query(Setting).count() == 0


class _Locked(Exception):
    args = (1213, "Deadlock found")


def test_retry_on_lock_runs_again_only_after_a_lock_error(app):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("UPDATE ...", {}, _Locked())
        return "done"

    assert unit.retry_on_lock(flaky, pause=0) == "done" and len(calls) == 3

    def broken():
        raise OperationalError("UPDATE ...", {}, Exception(1146, "no such table"))

    with pytest.raises(OperationalError):
        unit.retry_on_lock(broken, pause=0)


def test_a_unit_that_fails_before_any_sql_sends_its_jobs_never(app, sent):
    with pytest.raises(DomainError):
        with unit.work():
            unit.enqueue("sms.send", 43)
            raise DomainError("setting_unknown", key="X")
    with unit.work():
        db.session.add(Setting(key="HESITATION_DAYS", value="20"))
    assert sent == []
