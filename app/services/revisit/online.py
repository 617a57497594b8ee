"""The customer's side of the e-revisit: the link, the pending policies, the 是/否 answers, the
choice of a phone visit, and the evidence of each step."""
from flask import current_app

from app.extensions import db
from app.models.policy import Policy
from app.models.revisit import RevisitAnswer, RevisitEvidence, RevisitLink, RevisitTask
from app.models.sms import SmsMessage
from app.services import clock
from app.services.errors import DomainError
from app.services.revisit.questions import render_questions
from app.services.revisit.states import ANSWERED, CLOSED, can, target_of, transition

ONLINE = target_of("invite")  # the link's tasks the customer may still answer


def link_by_code(code):
    if not code or len(code) > 32:
        raise DomainError("link_not_found")
    link = db.session.query(RevisitLink).filter_by(code=code).one_or_none()
    # collations compare case-insensitively: the code must match exactly
    if link is None or link.code != code:
        raise DomainError("link_not_found")
    return link


def link_state(link, now=None):
    now = now or clock.now()
    return "VALID" if now < link.expires_at else "EXPIRED"


def pending_tasks(link, now=None):
    """The link customer's tasks still open online, oldest first, with their policies loaded."""
    now = now or clock.now()
    return (db.session.query(RevisitTask).join(Policy, RevisitTask.policy_id == Policy.id)
            .filter(Policy.holder_id == link.customer_id, RevisitTask.status == ONLINE,
                    RevisitTask.erevisit_deadline > now)
            .order_by(Policy.issue_date, RevisitTask.id).all())


def link_tasks(link, now=None):
    """Every task the link speaks of, in the list's order: those it was sent for, and the customer's
    tasks still open online (the list shows them too), with their policies loaded."""
    now = now or clock.now()
    still_online = (RevisitTask.status == ONLINE) & (RevisitTask.erevisit_deadline > now)
    return (db.session.query(RevisitTask).join(Policy, RevisitTask.policy_id == Policy.id)
            .filter(Policy.holder_id == link.customer_id, (RevisitTask.link_id == link.id) | still_online)
            .order_by(Policy.issue_date, RevisitTask.id).all())


def link_progress(link, now=None):
    """Where the link's visits stand: {"tasks", "done", "remaining", "finished"}. done: the visits
    completed (online or by phone); remaining: the others; finished: there were visits and all are done."""
    tasks = link_tasks(link, now)
    done = [t for t in tasks if t.status in CLOSED]
    remaining = [t for t in tasks if t.status not in CLOSED]
    return {"tasks": tasks, "done": done, "remaining": remaining, "finished": bool(tasks) and not remaining}


def task_for_link(link, task_id):
    """The task, only when it belongs to the link's customer (never someone else's by its id)."""
    try:
        task_id = int(task_id)
    except (TypeError, ValueError):
        raise DomainError("task_not_yours") from None
    task = db.session.get(RevisitTask, task_id)
    if task is None or task.policy.holder_id != link.customer_id:
        raise DomainError("task_not_yours")
    return task


def record_evidence(link_id, task_id, step, ip, user_agent, data=None):
    evidence = RevisitEvidence(link_id=link_id, task_id=task_id, step=step, occurred_at=clock.now(),
                               ip=(ip or "")[:45] or None, user_agent=(user_agent or "")[:255] or None,
                               data=data)
    db.session.add(evidence)
    db.session.flush()
    return evidence


def trail(task):
    """What the back office shows with a task: the SMS of its link, with receipts, and the
    evidence of each step (the link's own steps, face checks say, and the task's)."""
    if not task.link_id:
        return [], db.session.query(RevisitEvidence).filter_by(task_id=task.id).all()
    messages = db.session.query(SmsMessage).filter(SmsMessage.link_id == task.link_id).order_by(SmsMessage.id).all()
    evidence = db.session.query(RevisitEvidence).filter(
        (RevisitEvidence.task_id == task.id) |
        ((RevisitEvidence.link_id == task.link_id) & RevisitEvidence.task_id.is_(None))
    ).order_by(RevisitEvidence.occurred_at, RevisitEvidence.id).all()
    return messages, evidence


def _locked_task_of(link, task_id):
    task = task_for_link(link, task_id)
    # lock the task: two submits at once are served one after the other
    db.session.query(RevisitTask).filter_by(id=task.id).with_for_update().one()
    db.session.refresh(task)
    return task


def submit_online_answers(link_id, task_id, answers, ip, user_agent):
    """Store the customer's 是/否 answers once; all 是 closes the visit, any 否 makes a problem case."""
    link = db.session.get(RevisitLink, link_id)
    if link is None:
        raise DomainError("link_not_found")
    now = clock.now()
    if link_state(link, now) == "EXPIRED":
        raise DomainError("link_expired", hotline=current_app.config["HOTLINE"])
    if link.face_verified_at is None:
        raise DomainError("face_required")
    task = _locked_task_of(link, task_id)
    if task.status in ANSWERED or db.session.query(RevisitAnswer.id).filter_by(task_id=task.id).first():
        raise DomainError("task_already_answered")
    if not can(task, "all_yes") or task.erevisit_deadline <= now:
        raise DomainError("task_not_online", hotline=current_app.config["HOTLINE"])
    questions = render_questions(task)
    expected = {q["question_id"]: q for q in questions}
    answers = _clean_answers(answers)
    unknown = set(answers) - set(expected)
    if unknown:
        raise DomainError("answers_unknown_question")
    missing = [q["position"] for q in questions if q["question_id"] not in answers]
    if missing:
        raise DomainError("answers_incomplete", missing="、".join(f"第{p}题" for p in missing))
    for q in questions:
        db.session.add(RevisitAnswer(task_id=task.id, question_id=q["question_id"], question_text=q["text"],
                                     answer=answers[q["question_id"]], channel="ELECTRONIC",
                                     answered_at=now, ip=(ip or "")[:45] or None,
                                     user_agent=(user_agent or "")[:255] or None))
    noes = [q for q in questions if not answers[q["question_id"]]]
    if noes:
        task.status = transition(task.status, "any_no")
        task.channel = "PHONE"
        task.is_problem = True
        task.problem_reason = "电子化回访中客户回答“否”:" + ";".join(
            f"{q['position']}. {q['text']}" for q in noes)
    else:
        task.status = transition(task.status, "all_yes")
        task.completed_at = now
        task.open_policy_id = None
        task.result_note = "电子化回访成功"
    record_evidence(link.id, task.id, "answers_submitted", ip, user_agent,
                    {"answers": {str(q["question_id"]): answers[q["question_id"]] for q in questions},
                     "result": task.status})
    db.session.commit()
    return task


def choose_phone_visit(link_id, task_id, ip, user_agent):
    """The customer prefers a phone visit: the task goes to the agents' queue now."""
    link = db.session.get(RevisitLink, link_id)
    if link is None:
        raise DomainError("link_not_found")
    task = _locked_task_of(link, task_id)
    if not can(task, "choose_phone"):
        raise DomainError("task_not_online", hotline=current_app.config["HOTLINE"])
    task.status = transition(task.status, "choose_phone")
    task.channel = "PHONE"
    record_evidence(link.id, task.id, "chose_phone_visit", ip, user_agent)
    db.session.commit()
    return task


def _clean_answers(answers):
    out = {}
    for key, value in (answers or {}).items():
        try:
            qid = int(key)
        except (TypeError, ValueError):
            raise DomainError("answers_unknown_question") from None
        if qid in out:
            raise DomainError("answers_duplicate")
        if not isinstance(value, bool):
            raise DomainError("answers_not_yes_no")
        out[qid] = value
    return out
