"""A revisit task for each issued policy that needs one (intake, the demo, the CLI)."""
from datetime import timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.policy import Policy
from app.models.product import Product
from app.models.revisit import QuestionnaireTemplate, RevisitTask
from app.services import audit, clock
from app.services import settings as business_settings
from app.services.errors import DomainError
from app.services.revisit.questions import applies

FIRST = "PENDING"  # a new task; no event leads into it (app/services/revisit/states.py)


def erevisit_deadline(issue_date, valid_days=None):
    """seed: valid 3 days from issuance; at 00:00 of day 4 it turns into a phone revisit."""
    if valid_days is None:
        valid_days = business_settings.get("EREVISIT_VALID_DAYS")
    return clock.start_of_day(issue_date, valid_days + 1)


def hesitation_deadline(policy, product):
    start = policy.receipt_signed_date or policy.issue_date
    return start + timedelta(days=product.hesitation_days)


def choose_template(product_kind, payment_mode):
    """The current template that fits; the most specific one wins (kind and mode set first)."""
    fitting = [t for t in db.session.query(QuestionnaireTemplate).filter_by(is_current=True)
               if applies(t.product_kinds, t.payment_mode, product_kind, payment_mode)]
    if not fitting:
        raise DomainError("questionnaire_missing", kind=product_kind, mode=payment_mode)
    return max(fitting, key=lambda t: (bool(t.product_kinds), bool(t.payment_mode), t.id))


def _has_task(policy_id):
    return db.session.query(RevisitTask.id).filter(RevisitTask.policy_id == policy_id).first() is not None


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
        status=FIRST, channel="ELECTRONIC",
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
               ~select(RevisitTask.id).where(RevisitTask.policy_id == Policy.id).exists())
    ).all()
    templates, now, values = {}, clock.now(), []
    valid_days = business_settings.get("EREVISIT_VALID_DAYS")
    for row in rows:
        key = (row.kind, row.payment_mode)
        if key not in templates:
            templates[key] = choose_template(*key).id
        start = row.receipt_signed_date or row.issue_date
        values.append(dict(policy_id=row.id, open_policy_id=row.id, template_id=templates[key],
                           status=FIRST, channel="ELECTRONIC", is_problem=False,
                           erevisit_deadline=erevisit_deadline(row.issue_date, valid_days),
                           hesitation_deadline=start + timedelta(days=row.hesitation_days),
                           attempt_count=0, created_at=now, updated_at=now))
    if values:
        db.session.execute(insert(RevisitTask.__table__), values)
        audit.record(db.session, "bulk_create", "revisit_task", None, None,
                     {"count": len(values), "policy_ids": [v["policy_id"] for v in values][:1000]})
    return len(values)


def open_task_counts():
    """Tasks by status, for the admin and the benchmark."""
    return dict(db.session.execute(select(RevisitTask.status, func.count()).group_by(RevisitTask.status)).all())
