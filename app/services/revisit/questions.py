"""A task's frozen questionnaire, filtered for its policy and with the placeholders filled."""
import re

from app.extensions import db
from app.models.revisit import Question

FREQUENCY_WORDS = {"YEARLY": "年", "HALF_YEARLY": "半年", "QUARTERLY": "季", "MONTHLY": "月"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def applies(spec_kinds, spec_mode, kind, mode):
    kinds = [k.strip() for k in (spec_kinds or "").split(",") if k.strip()]
    return (not kinds or kind in kinds) and (not spec_mode or spec_mode == mode)


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
    return [q for q in questions if applies(q.product_kinds, q.payment_mode, kind, mode)]


def render_questions(task):
    """The task's frozen questions that apply to its policy, placeholders filled."""
    values = policy_values(task.policy)
    return [{"question_id": q.id, "position": q.position, "text": fill(q.text, values)}
            for q in applicable_questions(task)]
