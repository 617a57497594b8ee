"""Forms of the agents' workbench and the supervisors' pages (shape only; the rules are in
app/services/phone_revisit.py). Every form carries Flask-WTF's CSRF token."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.models.revisit import CALL_OUTCOMES


class ActionForm(FlaskForm):
    """A bare POST (claim, release, reveal): only the CSRF token."""
    field = HiddenField()


class AttemptForm(FlaskForm):
    outcome = SelectField(_l("通话结果"), choices=[("", _l("请选择"))] + list(CALL_OUTCOMES.items()),
                          validators=[DataRequired(message=_l("请选择通话结果"))])
    holder_verified = BooleanField(_l("已核实为投保人本人接听"))
    callback_at = StringField(_l("预约回拨时间"), validators=[Optional(), Length(max=19)])
    note = TextAreaField(_l("备注/问题说明"), validators=[Optional(), Length(max=2000, message=_l("备注最多 2000 字"))])


class AssignForm(FlaskForm):
    agent_id = SelectField(_l("回访专员"), coerce=int, validators=[DataRequired(message=_l("请选择回访专员"))])


class ExportForm(FlaskForm):
    class Meta:
        csrf = False  # a GET download

    start = DateField(_l("开始日期"), validators=[DataRequired(message=_l("请填写开始日期"))])
    end = DateField(_l("结束日期"), validators=[DataRequired(message=_l("请填写结束日期"))])


def answers_from(form_data, question_ids):
    """The 是/否 radios (q_<id> = yes / no) as {question_id: bool}; unanswered ones are left out.

    Returns (answers, bad) where bad lists ids whose value was neither yes nor no."""
    answers, bad = {}, []
    for qid in question_ids:
        raw = (form_data.get(f"q_{qid}") or "").strip()
        if raw == "yes":
            answers[qid] = True
        elif raw == "no":
            answers[qid] = False
        elif raw:
            bad.append(qid)
    return answers, bad
