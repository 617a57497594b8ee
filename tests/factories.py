"""Builders of test data on top of the demo seed."""
from datetime import timedelta

from app.extensions import db
from app.models import Policy, Question, QuestionnaireTemplate, RevisitTask, User
from app.services import clock


def template(code="TEST", questions=("您是否为投保人本人?", "您是否清楚{product_name}的保险责任?")):
    found = db.session.query(QuestionnaireTemplate).filter_by(code=code, is_current=True).one_or_none()
    if found:
        return found
    tpl = QuestionnaireTemplate(code=code, name="测试问卷", version=1, is_current=True)
    db.session.add(tpl)
    db.session.flush()
    for position, text in enumerate(questions, start=1):
        db.session.add(Question(template_id=tpl.id, position=position, text=text))
    db.session.flush()
    return tpl


def make_task(policy_no, assignee=None, status="PHONE_QUEUE", **fields):
    """The policy's open revisit task (the demo seed opens one for fresh policies) in the given
    state, or a new one."""
    policy = db.session.query(Policy).filter_by(policy_no=policy_no).one()
    now = clock.now()
    task = db.session.query(RevisitTask).filter_by(open_policy_id=policy.id).one_or_none()
    if task is None:
        task = RevisitTask(
            policy_id=policy.id, open_policy_id=policy.id, template_id=template().id,
            erevisit_deadline=now + timedelta(days=3),
            hesitation_deadline=policy.issue_date + timedelta(days=15))
    task.status, task.channel = status, "PHONE"
    for key, value in fields.items():
        setattr(task, key, value)
    if assignee:
        task.assigned_to_id = db.session.query(User.id).filter_by(username=assignee).scalar()
    db.session.add(task)
    db.session.commit()
    return task.id
