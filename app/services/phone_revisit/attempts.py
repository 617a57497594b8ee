"""Recording a call: the attempt, the answers taken, and where the outcome takes the task
(the state table's call_<outcome> events; the last failed try makes a letter revisit due)."""
from datetime import datetime, timedelta

from app.extensions import db
from app.models.revisit import CALL_OUTCOMES, CallAttempt, RevisitAnswer
from app.services import clock, settings
from app.services.errors import DomainError
from app.services.phone_revisit.claim import locked_task
from app.services.revisit.questions import render_questions
from app.services.revisit.states import HELD, TRANSITIONS, call_event, can, transition

# Where each outcome of a call takes a held task (from the state table; LETTER_DUE replaces
# PHONE_QUEUE when a failed try was the last one allowed).
OUTCOME_STATUS = {outcome: TRANSITIONS[(HELD[0], call_event(outcome))] for outcome in CALL_OUTCOMES}
# The customer was reached in person: only then are answers taken.
REACHED = {"SUCCESS", "PROBLEM", "CALLBACK"}
# A booked callback is not a failed try: it does not count towards the cap.
UNCOUNTED = {"CALLBACK"}


def parse_callback_at(raw):
    """The booked time from a datetime-local field (2026-11-25T15:30) or '2026-11-25 15:30'."""
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        return raw.replace(second=0, microsecond=0)
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(str(raw).strip(), fmt)
        except ValueError:
            continue
    raise DomainError("callback_time_bad")


def record_attempt(task_id, agent_id, outcome, answers=None, callback_at=None, note=None,
                   holder_verified=False, started_at=None):
    """Record one call and move the task; returns the CallAttempt.

    `answers` maps question ids to True (是) / False (否). The rules: answers only when the
    policyholder was reached; success only in person with every answer 是; any 否 is a problem
    case; a booked callback needs a future time; at most PHONE_MAX_ATTEMPTS counted tries, on
    different days (PHONE_ATTEMPTS_DIFFERENT_DAYS); the last failed one makes a letter due.
    """
    if outcome not in CALL_OUTCOMES:
        raise DomainError("attempt_bad_outcome")
    now, today = clock.now(), clock.today()
    task = locked_task(task_id)
    if task.assigned_to_id != agent_id or not can(task, call_event(outcome)):
        raise DomainError("task_not_yours_to_record")
    answers = dict(answers or {})
    note = (note or "").strip() or None
    questions = render_questions(task)
    by_id = {q["question_id"]: q for q in questions}
    if set(answers) - set(by_id):
        raise DomainError("answers_unknown_question")
    if outcome not in REACHED and answers:
        raise DomainError("attempt_answers_not_reached")
    noes = [by_id[qid] for qid in sorted(answers, key=lambda i: by_id[i]["position"]) if answers[qid] is False]
    if outcome == "SUCCESS":
        if noes:
            raise DomainError("attempt_success_with_no")
        missing = [str(q["position"]) for q in questions if q["question_id"] not in answers]
        if missing:
            raise DomainError("answers_incomplete", missing="、".join(missing))
        if not holder_verified:
            raise DomainError("attempt_holder_not_verified")
    if outcome == "PROBLEM" and not noes and not note:
        raise DomainError("attempt_problem_reason")
    if noes and outcome == "CALLBACK":
        outcome = "PROBLEM"  # a 否 is a problem case whatever else was agreed
    if outcome == "CALLBACK":
        callback_at = parse_callback_at(callback_at)
        if callback_at is None:
            raise DomainError("callback_time_required")
        max_days = settings.get("CALLBACK_MAX_DAYS")
        if callback_at <= now or callback_at > now + timedelta(days=max_days):
            raise DomainError("callback_time_range", days=max_days)
    else:
        callback_at = None
    counted = outcome not in UNCOUNTED
    max_attempts, different_days = settings.get_many("PHONE_MAX_ATTEMPTS", "PHONE_ATTEMPTS_DIFFERENT_DAYS")
    if counted:
        if different_days and task.last_attempt_date == today:
            raise DomainError("attempt_same_day")
        if task.attempt_count >= max_attempts:
            raise DomainError("attempt_cap_reached", max=max_attempts)

    started_at = min(started_at or now, now)
    attempt = CallAttempt(task_id=task.id, agent_id=agent_id, outcome=outcome, callback_at=callback_at,
                          note=note, started_at=started_at, ended_at=now)
    db.session.add(attempt)
    for qid in sorted(answers, key=lambda i: by_id[i]["position"]):  # one flush writes the call and its answers
        db.session.add(RevisitAnswer(task_id=task.id, question_id=qid, question_text=by_id[qid]["text"],
                                     answer=answers[qid], channel="PHONE", attempt=attempt,
                                     answered_at=now))
    if counted:
        task.attempt_count += 1
        task.last_attempt_date = today
    task.reserved_until = None
    event = call_event(outcome, tries_run_out=task.attempt_count >= max_attempts)
    if outcome == "SUCCESS":
        task.completed_at = now
        task.open_policy_id = None
        task.channel = "PHONE"
        task.result_note = "电话回访成功"
    elif outcome == "PROBLEM":
        task.is_problem = True
        reasons = [f"{q['position']}. {q['text']}:否" for q in noes]
        if note:
            reasons.append(note)
        task.problem_reason = "电话回访发现问题:" + ";".join(reasons)
        task.result_note = "电话回访发现问题,转主管处理"
    elif outcome == "CALLBACK":
        task.callback_at = callback_at
        # the agent keeps the callback until its time plus the grace period
        task.reserved_until = callback_at + timedelta(minutes=settings.get("CALLBACK_GRACE_MINUTES"))
    else:
        task.callback_at = None
        if event == "tries_run_out":  # the phone visit failed, a letter is due
            task.channel = "LETTER"
            task.result_note = "电话回访失败(" + ";".join(_attempt_lines(task, attempt)) + "),转信函回访"
        else:
            task.assigned_to_id = None  # back to the queue for any agent on another day
    task.status = transition(task.status, event)
    db.session.commit()
    return attempt


def _attempt_lines(task, latest=None):
    rows = list(task.attempts)
    if latest is not None and latest not in rows:
        rows.append(latest)
    return [f"{a.started_at:%Y-%m-%d %H:%M} {CALL_OUTCOMES.get(a.outcome, a.outcome)}" for a in rows]
