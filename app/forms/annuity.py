"""年金领取方式变更's form: the shapes only; services/annuity.py checks the rules and the code."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField
from wtforms.validators import AnyOf, InputRequired

from app.forms.account import CODE_VALIDATORS, _fold
from app.models.product import ANNUITY_METHODS


class AnnuityForm(FlaskForm):
    request_key = HiddenField()  # one per form render: a double submit finds the first application
    method = RadioField(_l("变更后年金领取方式"), choices=list(ANNUITY_METHODS.items()), validate_choice=False,
                        validators=[InputRequired(message=_l("请选择变更后的年金领取方式")),
                                    AnyOf(list(ANNUITY_METHODS), message=_l("请选择变更后的年金领取方式"))])
    code = StringField(_l("短信验证码"), filters=[_fold], validators=CODE_VALIDATORS,
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})
