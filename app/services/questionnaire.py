"""Questionnaire templates: the shipped defaults and the versioned save.

A template never changes once a task froze it: saving makes a new version, the old one stays
(is_current moves to the new one) and running tasks keep answering the version they hold.
"""
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.policy import PAYMENT_MODES
from app.models.product import PRODUCT_KINDS
from app.models.revisit import Question, QuestionnaireTemplate
from app.services import revisit
from app.services.errors import DomainError

PLACEHOLDERS = ("product_name", "policy_no", "premium", "sum_assured", "payment_years",
                "payment_frequency", "next_due_date", "hesitation_days", "holder_name",
                "insured_name", "issue_date")

# DOMAIN.md section 1: the seven confirmations of CIRC Order 2010 No.4 (the seventh for regular
# premiums only), the seed's regular-premium question, and the product warnings by kind.
DEFAULT_QUESTIONS = [
    ("您好,请问您是投保人{holder_name}本人吗?", None, None),
    ("您是否亲自购买了{product_name},并且投保资料上投保人和被保险人{insured_name}的签名均为本人亲笔签署?",
     None, None),
    ("您是否已经阅读了产品说明书和投保提示书等材料,并了解其内容?", None, None),
    ("您是否清楚本保险的保险责任、责任免除条款以及保险期间?", None, None),
    ("您是否清楚犹豫期过后解除合同(退保)可能会给您带来一定的经济损失?", None, None),
    ("您是否清楚犹豫期自您签收保险合同回执之日起算,为期{hesitation_days}天,犹豫期内您可以无条件解除合同?",
     None, None),
    ("您是否清楚本保单的缴费期间为{payment_years}年、缴费方式为每{payment_frequency}缴费一次?", "REGULAR", None),
    ("您的保费为每{payment_frequency}{premium}元,缴费期间为{payment_years}年,下次缴费时间为{next_due_date},"
     "请问这些您是否清楚?", "REGULAR", None),
    ("您是否清楚本产品为分红型保险,红利分配是不确定的,演示的红利水平不代表未来的实际分红?",
     None, "PARTICIPATING"),
    ("您是否清楚本产品为万能型保险,万能账户超过最低保证利率的收益是不确定的?", None, "UNIVERSAL"),
    ("您是否清楚本产品为投资连结保险,投资收益不确定,投资风险由您承担,账户价值可能低于所交保费?",
     None, "UNIT_LINKED"),
]
DEFAULT_CODE = "EREVISIT"
DEFAULT_NAME = "电子化回访标准问卷"


def ensure_defaults():
    """Create the default template when no template with its code exists; returns it."""
    current = db.session.query(QuestionnaireTemplate).filter_by(code=DEFAULT_CODE, is_current=True).one_or_none()
    if current is not None:
        return current
    return save_template(DEFAULT_CODE, DEFAULT_NAME, None, None,
                         [{"text": t, "payment_mode": m, "product_kinds": k} for t, m, k in DEFAULT_QUESTIONS])


def _kinds(value):
    kinds = [k.strip().upper() for k in (value or "").replace(",", ",").split(",") if k.strip()]
    for kind in kinds:
        if kind not in PRODUCT_KINDS:
            raise DomainError("questionnaire_bad_kind", kind=kind)
    return ",".join(kinds) or None


def _mode(value):
    value = (value or "").strip().upper() or None
    if value is not None and value not in PAYMENT_MODES:
        raise DomainError("questionnaire_bad_mode", mode=value)
    return value


def validate_questions(questions):
    cleaned = []
    for position, q in enumerate(questions, start=1):
        text = (q.get("text") or "").strip()
        if not text:
            raise DomainError("questionnaire_empty_question", position=position)
        unknown = sorted({name for name in revisit.PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
        if unknown:
            raise DomainError("questionnaire_bad_placeholder", position=position,
                              names=",".join("{%s}" % n for n in unknown))
        cleaned.append(dict(position=position, text=text, payment_mode=_mode(q.get("payment_mode")),
                            product_kinds=_kinds(q.get("product_kinds"))))
    if not cleaned:
        raise DomainError("questionnaire_no_questions")
    return cleaned


def save_template(code, name, product_kinds, payment_mode, questions, base_version=None):
    """Save as a new version of `code` (version 1 if new) and make it current; returns it.

    base_version: the version the editor started from; a save over a newer one is refused.
    """
    code = (code or "").strip().upper()
    cleaned = validate_questions(questions)
    kinds, mode = _kinds(product_kinds), _mode(payment_mode)
    latest = db.session.query(func.max(QuestionnaireTemplate.version)).filter_by(code=code).scalar() or 0
    if base_version is not None and int(base_version) != latest:
        raise DomainError("questionnaire_conflict", code=code)
    db.session.execute(update(QuestionnaireTemplate).where(QuestionnaireTemplate.code == code,
                                                           QuestionnaireTemplate.is_current.is_(True))
                       .values(is_current=False).execution_options(synchronize_session="fetch"))
    template = QuestionnaireTemplate(code=code, name=(name or code).strip(), version=latest + 1,
                                     product_kinds=kinds, payment_mode=mode, is_current=True)
    try:
        with db.session.begin_nested():
            db.session.add(template)
            db.session.flush()
            for q in cleaned:
                db.session.add(Question(template_id=template.id, **q))
            db.session.flush()
    except IntegrityError:  # two editors saved at once: (code, version) is unique
        db.session.rollback()
        raise DomainError("questionnaire_conflict", code=code) from None
    from app.services import audit

    audit.record(db.session, "new_version", "questionnaire_template", template.id,
                 {"version": latest or None}, {"code": code, "version": template.version})
    db.session.commit()
    return template


def template_as_dict(template):
    return {"code": template.code, "name": template.name, "version": template.version,
            "product_kinds": template.product_kinds or "", "payment_mode": template.payment_mode or "",
            "questions": [{"text": q.text, "payment_mode": q.payment_mode or "",
                           "product_kinds": q.product_kinds or ""} for q in template.questions]}
