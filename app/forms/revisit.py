"""Forms of the customer's e-revisit pages (phone H5). They check the shape of the input;
the revisit and identity services check the business."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, RadioField
from wtforms.validators import InputRequired

YES, NO = "yes", "no"
ANSWER_CHOICES = [(YES, _l("是")), (NO, _l("否"))]


class FacePhotoForm(FlaskForm):
    """The selfie taken with the phone's front camera (checked by content in the identity service)."""
    photo = FileField(_l("本人正面照片"), validators=[FileRequired(message=_l("请拍摄一张本人正面照片"))])


class QuestionnaireForm(FlaskForm):
    """One yes/no radio field per rendered question, built by questionnaire_form()."""
    task_id = HiddenField()

    def answer_fields(self):
        return [field for field in self if field.name.startswith("q_")]

    def answers(self):
        """{question_id: bool} for the service."""
        return {int(field.name[2:]): field.data == YES for field in self.answer_fields()}


def questionnaire_form(questions, **kwargs):
    """A QuestionnaireForm subclass with a required 是/否 field `q_<question_id>` per question."""

    class _Form(QuestionnaireForm):
        pass

    for question in questions:
        setattr(_Form, f"q_{question['question_id']}", RadioField(
            question["text"], choices=ANSWER_CHOICES,
            validators=[InputRequired(message=_l("请选择“是”或“否”"))]))
    return _Form(**kwargs)
