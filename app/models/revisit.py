from flask_babel import lazy_gettext as _l
from sqlalchemy import (Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, JSON,
                        String, Text, UniqueConstraint)
from sqlalchemy.orm import relationship

from app.models.base import Model, TimestampMixin, Undeletable

# Revisit task statuses; the transitions and the status groups live in app/services/revisit/states.py
# (a test checks that these are exactly the table's).
TASK_STATUSES = {
    "PENDING": _l("待回访"),          # created, e-revisit SMS not yet sent
    "SMS_SENT": _l("待电子回访"),      # link sent, customer may answer online
    "PHONE_QUEUE": _l("待电话回访"),    # day 4, or the customer chose phone, or a problem case
    "IN_CALL": _l("电话回访中"),       # claimed by an agent
    "CALLBACK": _l("预约回拨"),
    "SUCCESS": _l("回访成功"),
    "PROBLEM": _l("问题件"),
    "LETTER_DUE": _l("待信函回访"),
}
TASK_CHANNELS = {"ELECTRONIC": _l("电子化回访"), "PHONE": _l("电话回访"), "LETTER": _l("信函回访")}
CALL_OUTCOMES = {
    "SUCCESS": _l("成功"),
    "NO_ANSWER": _l("无人接听"),
    "BUSY": _l("占线"),
    "INVALID_NUMBER": _l("空号/停机"),
    "REFUSED": _l("拒访"),
    "NOT_HOLDER": _l("非本人接听"),
    "CALLBACK": _l("预约回拨"),
    "PROBLEM": _l("发现问题"),
}


class QuestionnaireTemplate(TimestampMixin, Undeletable, Model):
    """A versioned questionnaire: saving creates a new version; tasks keep the one they froze."""
    __tablename__ = "questionnaire_template"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_template_code_version"),)

    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=False)
    name = Column(String(128), nullable=False)
    version = Column(Integer, nullable=False, default=1)
    product_kinds = Column(String(128))  # comma separated PRODUCT_KINDS keys; empty: all
    payment_mode = Column(String(10))  # SINGLE / REGULAR / None for both
    is_current = Column(Boolean, nullable=False, default=True)
    questions = relationship("Question", back_populates="template", order_by="Question.position")

    def __repr__(self):
        return f"{self.name} v{self.version}"


class Question(Model):
    __tablename__ = "question"
    __table_args__ = (UniqueConstraint("template_id", "position", name="uq_question_position"),)

    id = Column(Integer, primary_key=True)
    template_id = Column(Integer, ForeignKey("questionnaire_template.id"), nullable=False)
    template = relationship("QuestionnaireTemplate", back_populates="questions")
    position = Column(Integer, nullable=False)
    text = Column(Text, nullable=False)  # with {product_name}, {premium}, ... placeholders
    payment_mode = Column(String(10))  # only for this payment mode; None: always
    product_kinds = Column(String(128))  # only for these kinds; None: always

    def __repr__(self):
        return f"{self.position}. {self.text[:30]}"


class RevisitLink(TimestampMixin, Model):
    """One short link per customer per batch, listing all their pending e-revisits."""
    __tablename__ = "revisit_link"

    id = Column(Integer, primary_key=True)
    code = Column(String(32), unique=True, nullable=False)
    customer_id = Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    customer = relationship("Customer")
    batch = Column(String(32), nullable=False)
    expires_at = Column(DateTime, nullable=False)
    face_verified_at = Column(DateTime)
    face_attempts = Column(Integer, nullable=False, default=0)
    opened_at = Column(DateTime)

    def __repr__(self):
        return f"/s/{self.code}"


class RevisitTask(TimestampMixin, Undeletable, Model):
    __tablename__ = "revisit_task"
    __table_args__ = (
        Index("ix_revisit_queue", "status", "is_problem", "hesitation_deadline", "created_at"),
        # Only the queue index holds status: every index with status (or channel) costs the
        # day-4 expiry ~4 s more per 900,000 moved rows (bench/revisit_pipeline.py).
        Index("ix_revisit_deadline", "erevisit_deadline"),
        Index("ix_revisit_created", "created_at"),  # dashboard figures by day and month
        # the dashboard counts each event on its own day (services/dashboard.py): visits completed, phone
        # visits that ran out of tries; neither column moves in the day-4 expiry
        Index("ix_revisit_completed", "completed_at"),
        Index("ix_revisit_last_attempt", "last_attempt_date"),
        # what an agent holds now: reserved_until is set exactly while a task is held (IN_CALL:
        # the idle reservation; CALLBACK: the booked time plus the grace period), so the claim
        # never reads the agent's finished tasks (migration 5c1e8a0d4b27)
        Index("ix_revisit_held", "assigned_to_id", "reserved_until"),
    )

    id = Column(Integer, primary_key=True)
    policy_id = Column(Integer, ForeignKey("policy.id"), nullable=False, index=True)
    policy = relationship("Policy")
    # equals policy_id while the task is open, NULL once closed: at most one open task a policy
    open_policy_id = Column(Integer, unique=True)
    template_id = Column(Integer, ForeignKey("questionnaire_template.id"), nullable=False)
    template = relationship("QuestionnaireTemplate")
    link_id = Column(Integer, ForeignKey("revisit_link.id"), index=True)
    link = relationship("RevisitLink")
    status = Column(String(12), nullable=False, default="PENDING")
    channel = Column(String(12), nullable=False, default="ELECTRONIC")
    is_problem = Column(Boolean, nullable=False, default=False)
    problem_reason = Column(Text)
    erevisit_deadline = Column(DateTime, nullable=False)  # start of day 4 after issuance
    hesitation_deadline = Column(Date, nullable=False)
    assigned_to_id = Column(Integer, ForeignKey("ab_user.id"))
    assigned_to = relationship("User", foreign_keys=[assigned_to_id])
    reserved_until = Column(DateTime)  # held by assigned_to until then (IN_CALL or CALLBACK), else NULL
    callback_at = Column(DateTime)
    attempt_count = Column(Integer, nullable=False, default=0)
    last_attempt_date = Column(Date)
    completed_at = Column(DateTime)
    result_note = Column(Text)

    answers = relationship("RevisitAnswer", back_populates="task", order_by="RevisitAnswer.id")
    attempts = relationship("CallAttempt", back_populates="task", order_by="CallAttempt.id")

    def __repr__(self):
        return f"回访任务#{self.id}"


class CallAttempt(Undeletable, Model):
    __tablename__ = "call_attempt"
    __table_args__ = (Index("ix_call_attempt_started", "started_at"),)

    id = Column(Integer, primary_key=True)
    task_id = Column(Integer, ForeignKey("revisit_task.id"), nullable=False, index=True)
    task = relationship("RevisitTask", back_populates="attempts")
    agent_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False)
    agent = relationship("User")
    outcome = Column(String(16), nullable=False)
    callback_at = Column(DateTime)
    note = Column(Text)
    started_at = Column(DateTime, nullable=False)
    ended_at = Column(DateTime, nullable=False)

    def __repr__(self):
        return f"{self.started_at} {self.outcome}"


class RevisitAnswer(Undeletable, Model):
    """One answer to one question of a task's frozen questionnaire, online or by phone."""
    __tablename__ = "revisit_answer"

    id = Column(Integer, primary_key=True)
    task_id = Column(Integer, ForeignKey("revisit_task.id"), nullable=False, index=True)
    task = relationship("RevisitTask", back_populates="answers")
    question_id = Column(Integer, ForeignKey("question.id"), nullable=False)
    question_text = Column(Text, nullable=False)  # as rendered for the customer
    answer = Column(Boolean, nullable=False)  # 是 / 否
    channel = Column(String(12), nullable=False)
    attempt_id = Column(Integer, ForeignKey("call_attempt.id"))
    attempt = relationship("CallAttempt")
    answered_at = Column(DateTime, nullable=False)
    ip = Column(String(45))
    user_agent = Column(String(255))


class RevisitEvidence(Undeletable, Model):
    """The trail of a customer's e-revisit: each step with time, IP, user agent and data."""
    __tablename__ = "revisit_evidence"
    __table_args__ = (Index("ix_evidence_occurred", "occurred_at", "id"),)  # the list's default order

    id = Column(Integer, primary_key=True)
    link_id = Column(Integer, ForeignKey("revisit_link.id"), index=True)
    task_id = Column(Integer, ForeignKey("revisit_task.id"), index=True)
    step = Column(String(32), nullable=False)
    occurred_at = Column(DateTime, nullable=False)
    ip = Column(String(45))
    user_agent = Column(String(255))
    data = Column(JSON)
