"""20 agents at once on MariaDB: "下一个任务" from 1,000 tasks, each agent in its own thread with
its own app context and session. No task is ever held by two agents; every task is claimed once."""
import threading
from collections import Counter
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import Policy, RevisitTask
from app.models.audit import AuditEvent
from app.models.revisit import CallAttempt
from app.services import clock, demo, phone_revisit
from app.services.revisit import render_questions
from tests import factories

AGENTS = 20
TASKS = 1000


def _phone_tasks(count):
    """`count` bulk policies, each with a phone task in the queue (set-based inserts)."""
    first = (db.session.scalar(select(func.max(Policy.id))) or 0) + 1
    demo.bulk_policies(count)
    template_id = factories.template().id
    now = clock.now()
    ids = db.session.execute(select(Policy.id, Policy.issue_date).where(Policy.id >= first)).all()
    db.session.execute(insert(RevisitTask.__table__), [
        dict(policy_id=pid, open_policy_id=pid, template_id=template_id, status="PHONE_QUEUE",
             channel="PHONE", is_problem=(pid % 10 == 0), attempt_count=0,
             erevisit_deadline=now - timedelta(hours=1), hesitation_deadline=issued + timedelta(days=15),
             created_at=now, updated_at=now) for pid, issued in ids])
    db.session.commit()
    return [pid for pid, _ in ids]


def _agents(count):
    sm = current_app.appbuilder.sm
    role = sm.find_role("Agent")
    return [sm.add_user(f"load_agent{i:02d}", "并发", f"专员{i}", f"load{i}@test.local", [role],
                        password="Test@Pass2026").id for i in range(count)]


@pytest.mark.parametrize("procedure", [True, False], ids=["procedure", "statements"])
def test_twenty_agents_claim_every_task_exactly_once(seeded, app, procedure):
    app.config["CLAIM_WITH_PROCEDURE"] = procedure
    try:
        _claim_everything()
    finally:
        app.config["CLAIM_WITH_PROCEDURE"] = True


def _claim_everything():
    _phone_tasks(TASKS)
    agents = _agents(AGENTS)
    app = current_app._get_current_object()
    claims, errors = {a: [] for a in agents}, []
    overlap = []  # tasks seen IN_CALL for two agents at the same moment
    holding = {}
    lock = threading.Lock()
    start = threading.Barrier(AGENTS)

    def work(agent_id):
        try:
            with app.app_context():
                start.wait()
                while True:
                    task_id = phone_revisit.claim_next(agent_id)
                    if task_id is None:
                        break
                    with lock:
                        if task_id in holding:
                            overlap.append((task_id, holding[task_id], agent_id))
                        holding[task_id] = agent_id
                    claims[agent_id].append(task_id)
                    task = db.session.get(RevisitTask, task_id)
                    answers = {q["question_id"]: True for q in render_questions(task)}
                    with lock:
                        del holding[task_id]
                    phone_revisit.record_attempt(task_id, agent_id, "SUCCESS", answers=answers,
                                                 holder_verified=True)
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[:3]
    assert not overlap
    every = [task_id for got in claims.values() for task_id in got]
    counts = Counter(every)
    assert len(every) == TASKS and set(counts.values()) == {1}
    assert sum(1 for got in claims.values() if got) > 1  # the work was really shared

    db.session.rollback()  # a fresh snapshot: the threads committed after ours began
    assert db.session.scalar(select(func.count()).select_from(RevisitTask)
                             .where(RevisitTask.status == "SUCCESS")) == TASKS
    # each task's one call was made by the agent who claimed it
    owner = {task_id: agent for agent, got in claims.items() for task_id in got}
    attempts = db.session.execute(select(CallAttempt.task_id, CallAttempt.agent_id)).all()
    assert len(attempts) == TASKS and all(owner[t] == a for t, a in attempts)
    claim_events = db.session.execute(select(AuditEvent.entity_id, AuditEvent.actor_name)
                                      .where(AuditEvent.action == "claim")).all()
    assert Counter(e.entity_id for e in claim_events) == Counter(str(t) for t in every)
