"""The electronic return visit (DOMAIN.md section 1): tasks, links, online answers, day-4 hand-over.

State machine of a revisit task (the phone side lives in the agents' workbench):

    PENDING --issue_invitations--> SMS_SENT --submit (all 是)--> SUCCESS
                                            --submit (any 否)--> PROBLEM (phone, priority)
    PENDING / SMS_SENT --expire_due (start of day 4)--> PHONE_QUEUE

Bulk moves (claiming tasks for the invitations, the day-4 expiry) are conditional set-based
UPDATEs: a row only moves when it is still in the state the statement expects, so two runs
at the same time move every task exactly once.
"""
import re
import secrets
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from app.extensions import db
from app.models.customer import Customer
from app.models.policy import Policy
from app.models.product import Product
from app.models.revisit import (OPEN_STATUSES, Question, QuestionnaireTemplate, RevisitAnswer,
                                RevisitEvidence, RevisitLink, RevisitTask)
from app.models.sms import SmsMessage
from app.services import audit, clock
from app.services.errors import DomainError
from app.services import settings as business_settings

# One table of the online transitions: (from status, event) -> to status.
TRANSITIONS = {
    ("PENDING", "invite"): "SMS_SENT",
    ("PENDING", "expire"): "PHONE_QUEUE",
    ("SMS_SENT", "expire"): "PHONE_QUEUE",
    ("SMS_SENT", "all_yes"): "SUCCESS",
    ("SMS_SENT", "any_no"): "PROBLEM",
    ("SMS_SENT", "choose_phone"): "PHONE_QUEUE",  # the customer keeps the right to choose (2020 notice)
}
EXPIRABLE = tuple(src for (src, event) in TRANSITIONS if event == "expire")
FREQUENCY_WORDS = {"YEARLY": "年", "HALF_YEARLY": "半年", "QUARTERLY": "季", "MONTHLY": "月"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
LINK_CODE_BYTES = 12  # 96 random bits, 16 URL-safe characters
INVITE_CHUNK = 2000


def _transition(status, event):
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise DomainError("task_bad_transition", status=status, event=event) from None


# --- tasks ----------------------------------------------------------------------------------

def erevisit_deadline(issue_date, valid_days=None):
    """seed: valid 3 days from issuance; at 00:00 of day 4 it turns into a phone revisit."""
    if valid_days is None:
        valid_days = business_settings.get("EREVISIT_VALID_DAYS")
    return clock.start_of_day(issue_date, valid_days + 1)


def hesitation_deadline(policy, product):
    start = policy.receipt_signed_date or policy.issue_date
    return start + timedelta(days=product.hesitation_days)


def _applies(spec_kinds, spec_mode, kind, mode):
    kinds = [k.strip() for k in (spec_kinds or "").split(",") if k.strip()]
    return (not kinds or kind in kinds) and (not spec_mode or spec_mode == mode)


def choose_template(product_kind, payment_mode):
    """The current template that fits; the most specific one wins (kind and mode set first)."""
    fitting = [t for t in db.session.query(QuestionnaireTemplate).filter_by(is_current=True)
               if _applies(t.product_kinds, t.payment_mode, product_kind, payment_mode)]
    if not fitting:
        raise DomainError("questionnaire_missing", kind=product_kind, mode=payment_mode)
    return max(fitting, key=lambda t: (bool(t.product_kinds), bool(t.payment_mode), t.id))


def _has_task(policy_id):
    return db.session.query(RevisitTask.id).filter(
        RevisitTask.policy_id == policy_id, RevisitTask.status != "CANCELLED").first() is not None


def create_task_for_policy(policy_id):
    """Create the revisit task of an issued policy, or None when it needs none or has one."""
    policy = db.session.get(Policy, policy_id)
    if policy is None:
        raise DomainError("policy_not_found", policy_no=policy_id)
    product = policy.product
    if not product.revisit_required or _has_task(policy_id):
        return None
    template = choose_template(product.kind, policy.payment_mode)
    task = RevisitTask(
        policy_id=policy.id, open_policy_id=policy.id, template_id=template.id,
        status="PENDING", channel="ELECTRONIC",
        erevisit_deadline=erevisit_deadline(policy.issue_date),
        hesitation_deadline=hesitation_deadline(policy, product))
    try:
        with db.session.begin_nested():
            db.session.add(task)
    except IntegrityError:  # someone else created it at the same moment (open_policy_id is unique)
        return None
    return task


def create_tasks_for_policies(policy_ids):
    """Set-based variant for bulk intake: one INSERT for many policies; returns the count."""
    if not policy_ids:
        return 0
    rows = db.session.execute(
        select(Policy.id, Policy.issue_date, Policy.receipt_signed_date, Policy.payment_mode,
               Product.kind, Product.hesitation_days)
        .join(Product, Product.id == Policy.product_id)
        .where(Policy.id.in_(policy_ids), Product.revisit_required.is_(True),
               ~select(RevisitTask.id).where(RevisitTask.policy_id == Policy.id,
                                             RevisitTask.status != "CANCELLED").exists())
    ).all()
    templates, now, values = {}, clock.now(), []
    valid_days = business_settings.get("EREVISIT_VALID_DAYS")
    for row in rows:
        key = (row.kind, row.payment_mode)
        if key not in templates:
            templates[key] = choose_template(*key).id
        start = row.receipt_signed_date or row.issue_date
        values.append(dict(policy_id=row.id, open_policy_id=row.id, template_id=templates[key],
                           status="PENDING", channel="ELECTRONIC", is_problem=False,
                           erevisit_deadline=erevisit_deadline(row.issue_date, valid_days),
                           hesitation_deadline=start + timedelta(days=row.hesitation_days),
                           attempt_count=0, created_at=now, updated_at=now))
    if values:
        db.session.execute(insert(RevisitTask.__table__), values)
        audit.record(db.session, "bulk_create", "revisit_task", None, None,
                     {"count": len(values), "policy_ids": [v["policy_id"] for v in values][:1000]})
    return len(values)


# --- questions --------------------------------------------------------------------------------

def policy_values(policy):
    """The values the questionnaire placeholders take for one policy."""
    product = policy.product
    return {
        "product_name": product.name,
        "policy_no": policy.policy_no,
        "premium": f"{policy.premium:.2f}",
        "sum_assured": f"{policy.sum_assured:.2f}",
        "payment_years": policy.payment_years or "",
        "payment_frequency": FREQUENCY_WORDS.get(policy.payment_frequency or "", ""),
        "next_due_date": policy.next_due_date.isoformat() if policy.next_due_date else "",
        "hesitation_days": product.hesitation_days,
        "holder_name": policy.holder.name,
        "insured_name": policy.insured.name,
        "issue_date": policy.issue_date.isoformat(),
    }


def fill(text, values):
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


def applicable_questions(task):
    policy = task.policy
    kind, mode = policy.product.kind, policy.payment_mode
    questions = db.session.query(Question).filter_by(template_id=task.template_id) \
        .order_by(Question.position).all()
    return [q for q in questions if _applies(q.product_kinds, q.payment_mode, kind, mode)]


def render_questions(task):
    """The task's frozen questions that apply to its policy, placeholders filled."""
    values = policy_values(task.policy)
    return [{"question_id": q.id, "position": q.position, "text": fill(q.text, values)}
            for q in applicable_questions(task)]


# --- links and invitations ----------------------------------------------------------------------

def new_link_code():
    return secrets.token_urlsafe(LINK_CODE_BYTES)


def link_url(code):
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/s/" + code


LOCK_ERRORS = (1213, 1205)  # deadlock, lock wait timeout: the server rolled back; run it again


def is_deadlock(exc):
    """A deadlock or lock wait timeout, raised by SQLAlchemy (the DBAPI error in exc.orig) or by
    the DBAPI itself."""
    error = getattr(exc, "orig", None) or exc
    return bool(getattr(error, "args", None)) and error.args[0] in LOCK_ERRORS


def _retry_deadlock(fn, *args, tries=5, **kwargs):
    for attempt in range(tries):
        try:
            return fn(*args, **kwargs)
        except OperationalError as exc:
            db.session.rollback()
            if not is_deadlock(exc) or attempt == tries - 1:
                raise


def issue_invitations(now=None, chunk=INVITE_CHUNK, send=True):
    """Give every customer with PENDING e-revisits one link and one SMS; returns links created."""
    now = now or clock.now()
    created, message_ids = 0, []
    while True:
        result = _retry_deadlock(_invite_chunk, now, chunk)
        if result is None:
            break
        links, ids = result
        created += links
        message_ids.extend(ids)
        if send and ids:
            _send_after_commit(ids)
    return created


def _send_after_commit(message_ids):
    """Hand the committed messages to the SMS workers: SendBatchSms calls of up to 100 numbers."""
    from app.services.sms import BATCH_SIZE
    from app.tasks.sms import send_sms, send_sms_batch

    for start in range(0, len(message_ids), BATCH_SIZE):
        chunk = message_ids[start:start + BATCH_SIZE]
        if len(chunk) == 1:
            send_sms.delay(chunk[0])
        else:
            send_sms_batch.delay(chunk)


def _invite_chunk(now, chunk):
    base = (RevisitTask.status == "PENDING", RevisitTask.channel == "ELECTRONIC",
            RevisitTask.erevisit_deadline > now)
    holders = db.session.execute(
        select(Policy.holder_id).join(RevisitTask, RevisitTask.policy_id == Policy.id)
        .where(*base).order_by(RevisitTask.id).limit(chunk)
    ).scalars().all()
    if not holders:
        db.session.rollback()
        return None
    holders = sorted(set(holders))
    # every pending task of these customers, so one customer never gets two links in one batch
    ids = db.session.execute(
        select(RevisitTask.id).join(Policy, RevisitTask.policy_id == Policy.id)
        .where(*base, Policy.holder_id.in_(holders)).order_by(RevisitTask.id)
    ).scalars().all()
    claimed = db.session.execute(
        update(RevisitTask).where(RevisitTask.id.in_(ids), RevisitTask.status == "PENDING")
        .values(status=_transition("PENDING", "invite"), updated_at=now)
        .execution_options(synchronize_session=False))
    if claimed.rowcount == 0:
        db.session.commit()
        return 0, []
    # rows we moved are locked by us; rows a concurrent run moved carry its link already.
    # Lock only revisit_task rows (a FOR UPDATE over the join would lock policy and product
    # rows too and deadlock with the intake inserting policies); then read the rest plainly.
    mine_ids = db.session.execute(
        select(RevisitTask.id).where(RevisitTask.id.in_(ids), RevisitTask.status == "SMS_SENT",
                                     RevisitTask.link_id.is_(None)).with_for_update()
    ).scalars().all()
    mine = db.session.execute(
        select(RevisitTask.id, RevisitTask.erevisit_deadline, Policy.holder_id, Product.name)
        .join(Policy, RevisitTask.policy_id == Policy.id).join(Product, Policy.product_id == Product.id)
        .where(RevisitTask.id.in_(mine_ids)).order_by(RevisitTask.id)
    ).all() if mine_ids else []
    by_holder = {}
    for row in mine:
        by_holder.setdefault(row.holder_id, []).append(row)
    if not by_holder:
        db.session.commit()
        return 0, []
    batch = f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
    new_links = [dict(code=new_link_code(), customer_id=holder, batch=batch,
                      expires_at=min(r.erevisit_deadline for r in rows), face_attempts=0,
                      created_at=now, updated_at=now)
                 for holder, rows in by_holder.items()]
    db.session.execute(insert(RevisitLink.__table__), new_links)
    link_rows = db.session.execute(
        select(RevisitLink.id, RevisitLink.code, RevisitLink.customer_id)
        .where(RevisitLink.code.in_([link["code"] for link in new_links]))
    ).all()
    link_of = {r.customer_id: r for r in link_rows}
    # every claimed task gets its customer's link of this batch, in one statement
    link_of_task = case({r.id: link_of[r.holder_id].id for r in mine}, value=RevisitTask.id)
    db.session.execute(update(RevisitTask).where(RevisitTask.id.in_([r.id for r in mine]))
                       .values(link_id=link_of_task).execution_options(synchronize_session=False))
    message_ids = _queue_invitations(by_holder, link_of, now)
    audit.record(db.session, "invite", "revisit_task", None, {"status": "PENDING"},
                 {"status": "SMS_SENT", "batch": batch, "tasks": len(mine), "links": len(by_holder)})
    db.session.commit()
    return len(by_holder), message_ids


def _queue_invitations(by_holder, link_of, now):
    """The EREVISIT_INVITE SMS of a batch, stored with one multi-row INSERT.

    Same rows as app/services/sms.queue() writes one at a time (rendered text, QUEUED, unique
    out_id), which at one flush per message was most of the time of a batch.
    """
    from app.models.sms import SmsTemplate
    from app.services import sms

    template = db.session.query(SmsTemplate).filter_by(code="EREVISIT_INVITE", is_active=True).one_or_none()
    if template is None:
        raise DomainError("sms_template_missing", code="EREVISIT_INVITE")
    people = db.session.execute(select(Customer.id, Customer.name, Customer.gender, Customer.mobile)
                                .where(Customer.id.in_(list(by_holder)))).all()
    backend = current_app.config["SMS_BACKEND"]
    values = []
    for person in people:
        rows, link = by_holder[person.id], link_of[person.id]
        params = {"name": person.name, "title": _title(person),
                  "product": "、".join(dict.fromkeys(r.name for r in rows)), "link": link_url(link.code)}
        values.append(dict(template_id=template.id, phone=person.mobile, params=params,
                           content=sms.render(template, params), purpose="EREVISIT", customer_id=person.id,
                           link_id=link.id, backend=backend, status="QUEUED", out_id=uuid.uuid4().hex,
                           send_attempts=0, next_attempt_at=now, created_at=now, updated_at=now))
    db.session.execute(insert(SmsMessage.__table__), values)
    return db.session.execute(select(SmsMessage.id).where(
        SmsMessage.out_id.in_([v["out_id"] for v in values])).order_by(SmsMessage.id)).scalars().all()


def _title(customer):
    return "先生" if customer.gender == "M" else "女士"


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
            .filter(Policy.holder_id == link.customer_id, RevisitTask.status == "SMS_SENT",
                    RevisitTask.erevisit_deadline > now)
            .order_by(Policy.issue_date, RevisitTask.id).all())


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
    task = task_for_link(link, task_id)
    # lock the task: two submits at once are served one after the other
    db.session.query(RevisitTask).filter_by(id=task.id).with_for_update().one()
    db.session.refresh(task)
    if task.status in ("SUCCESS", "PROBLEM") or \
            db.session.query(RevisitAnswer.id).filter_by(task_id=task.id).first():
        raise DomainError("task_already_answered")
    if task.status != "SMS_SENT" or task.erevisit_deadline <= now:
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
        task.status = _transition(task.status, "any_no")
        task.channel = "PHONE"
        task.is_problem = True
        task.problem_reason = "电子化回访中客户回答“否”:" + ";".join(
            f"{q['position']}. {q['text']}" for q in noes)
    else:
        task.status = _transition(task.status, "all_yes")
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
    task = task_for_link(link, task_id)
    db.session.query(RevisitTask).filter_by(id=task.id).with_for_update().one()
    db.session.refresh(task)
    if task.status != "SMS_SENT":
        raise DomainError("task_not_online", hotline=current_app.config["HOTLINE"])
    task.status = _transition(task.status, "choose_phone")
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


# --- scheduled jobs -------------------------------------------------------------------------------

def expire_due(now=None, batch_size=5000):
    """Day 4: every unfinished e-revisit goes to the phone queue, in id-range batches; returns moved."""
    now = now or clock.now()
    due = (RevisitTask.status.in_(EXPIRABLE), RevisitTask.erevisit_deadline <= now)
    low, high = db.session.execute(select(func.min(RevisitTask.id), func.max(RevisitTask.id)).where(*due)).one()
    db.session.commit()
    if low is None:
        return 0
    moved = 0
    start = low
    while start <= high:
        end = start + batch_size - 1
        moved += _retry_deadlock(_expire_range, start, end, now, due)
        start = end + 1
    return moved


def _expire_range(start, end, now, due):
    result = db.session.execute(
        update(RevisitTask).where(RevisitTask.id.between(start, end), *due)
        .values(status="PHONE_QUEUE", channel="PHONE", updated_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount:
        audit.record(db.session, "expire_erevisit", "revisit_task", f"{start}-{end}",
                     {"status": list(EXPIRABLE), "channel": "ELECTRONIC"},
                     {"status": "PHONE_QUEUE", "channel": "PHONE", "count": result.rowcount,
                      "id_range": [start, end], "deadline_before": now.isoformat()})
    db.session.commit()
    return result.rowcount


def send_reminders(now=None, send=True):
    """Optional day-2 reminder (config EREVISIT_REMINDER_ENABLED): at most one per link."""
    if not business_settings.get("EREVISIT_REMINDER_ENABLED"):
        return 0
    now = now or clock.now()
    reminded = select(SmsMessage.id).where(SmsMessage.link_id == RevisitLink.id,
                                           SmsMessage.purpose == "EREVISIT_REMINDER").exists()
    open_task = select(RevisitTask.id).where(RevisitTask.link_id == RevisitLink.id,
                                             RevisitTask.status == "SMS_SENT").exists()
    link_ids = db.session.execute(
        select(RevisitLink.id).where(RevisitLink.expires_at > now,
                                     RevisitLink.created_at <= now - timedelta(days=1),
                                     open_task, ~reminded)
    ).scalars().all()
    db.session.commit()
    from app.services import sms

    message_ids = []
    for link_id in link_ids:
        link = db.session.query(RevisitLink).filter_by(id=link_id).with_for_update().one()
        already = db.session.query(SmsMessage.id).filter_by(link_id=link_id, purpose="EREVISIT_REMINDER").first()
        if already is None:
            customer = link.customer
            message = sms.queue("EREVISIT_REMINDER", customer.mobile,
                                {"name": customer.name, "title": _title(customer),
                                 "deadline": f"{link.expires_at - timedelta(seconds=1):%Y-%m-%d %H:%M}",
                                 "link": link_url(link.code)},
                                purpose="EREVISIT_REMINDER", customer_id=customer.id, link_id=link.id)
            message_ids.append(message.id)
        db.session.commit()
    if send and message_ids:
        _send_after_commit(message_ids)
    return len(message_ids)


def open_task_counts():
    """Tasks by status, for the admin and the benchmark."""
    return dict(db.session.execute(select(RevisitTask.status, func.count()).group_by(RevisitTask.status)).all())


__all__ = ["create_task_for_policy", "create_tasks_for_policies", "render_questions", "issue_invitations",
           "link_by_code", "link_state", "pending_tasks", "task_for_link", "submit_online_answers",
           "record_evidence", "choose_phone_visit", "expire_due", "send_reminders", "choose_template", "OPEN_STATUSES"]
