"""Forms of the customer's official-account pages (/my/). They check the shape of the input; the
account, codes and identity services check the business."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Regexp

from app.models.customer import ID_TYPES
from app.services.validation import normalize_text


def _fold(value):
    """The edge: typed text is NFKC-folded (full-width １３８ is 138) before any check."""
    return normalize_text(value) if isinstance(value, str) else value


# [0-9], not \d: \d also matches Arabic-Indic and other scripts' digits
MOBILE_FIELD = dict(filters=[_fold], validators=[InputRequired(message=_l("请输入手机号码")),
                                                 Regexp(r"^\s*(\+86|0086)?\s*1[3-9][0-9]{9}\s*$",
                                                        message=_l("请输入正确的11位手机号码"))])
CODE_VALIDATORS = [Regexp(r"^\s*([0-9]{6})?\s*$", message=_l("验证码为6位数字"))]


class SignInForm(FlaskForm):
    mobile = StringField(_l("手机号码"), render_kw={"inputmode": "numeric", "autocomplete": "tel",
                                                 "maxlength": 16}, **MOBILE_FIELD)
    code = StringField(_l("短信验证码"), filters=[_fold], validators=CODE_VALIDATORS,
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})


class BindForm(FlaskForm):
    name = StringField(_l("姓名"), filters=[_fold],
                       validators=[InputRequired(message=_l("请输入投保人姓名")), Length(max=64)],
                       render_kw={"autocomplete": "name"})
    id_type = SelectField(_l("证件类型"), choices=[(k, v) for k, v in ID_TYPES.items()], default="RESIDENT_ID")
    id_number = StringField(_l("证件号码"), filters=[_fold], validators=[InputRequired(message=_l("请输入证件号码")),
                                                       Length(max=32)])
    mobile = StringField(_l("手机号码"), render_kw={"inputmode": "numeric", "maxlength": 16}, **MOBILE_FIELD)
    code = StringField(_l("短信验证码"), filters=[_fold], validators=CODE_VALIDATORS,
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})


class ChallengeForm(FlaskForm):
    """下一步 on the face page: the server makes the 4 digits."""


class VideoForm(FlaskForm):
    video = FileField(_l("认证视频"), validators=[FileRequired(message=_l("请录制或选择一段本人朗读数字的视频"))])


class PasswordForm(FlaskForm):
    password = PasswordField(_l("服务密码"), validators=[InputRequired(message=_l("请输入服务密码"))],
                             render_kw={"inputmode": "numeric", "autocomplete": "new-password", "maxlength": 12})
    repeated = PasswordField(_l("再次输入服务密码"), validators=[InputRequired(message=_l("请再次输入服务密码"))],
                             render_kw={"inputmode": "numeric", "autocomplete": "new-password", "maxlength": 12})


class ResetCodeForm(FlaskForm):
    code = StringField(_l("短信验证码"), filters=[_fold], validators=CODE_VALIDATORS,
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})


class SignOutForm(FlaskForm):
    next = HiddenField()
