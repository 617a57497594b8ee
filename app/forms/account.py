"""Forms of the customer's official-account pages (/my/). They check the shape of the input; the
account, codes and identity services check the business."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
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


# 保单贷款 / 保单还款: the shapes only; services/loan_application.py checks the amount, the bank, the
# card (Luhn), the account name, the ID images, the password and the code, in the seed's order.
def _bank_choices():
    from app.services.loan_application import BANKS

    return [("", _l("请选择开户银行"))] + [(code, name) for code, name in BANKS.items()]


class _AccountFields(FlaskForm):
    request_key = HiddenField()  # one per form render: a double submit finds the first application
    amount = StringField(filters=[_fold], validators=[InputRequired(message=_l("请输入金额")), Length(max=20)],
                         render_kw={"inputmode": "decimal", "maxlength": 20, "autocomplete": "off"})
    bank = SelectField(_l("开户银行"), choices=_bank_choices, validate_choice=False)
    card_no = StringField(_l("银行卡号"), filters=[_fold],
                          validators=[InputRequired(message=_l("请输入银行卡号")), Length(max=32)],
                          render_kw={"inputmode": "numeric", "maxlength": 32, "autocomplete": "off"})
    account_name = StringField(_l("账户名"), filters=[_fold],
                               validators=[InputRequired(message=_l("请输入账户名")), Length(max=64)],
                               render_kw={"autocomplete": "name"})
    code = StringField(_l("短信验证码"), filters=[_fold], validators=CODE_VALIDATORS,
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})


class LoanForm(_AccountFields):
    agreed = BooleanField(_l("本人已阅读并同意《保单贷款协议》"))
    id_front = FileField(_l("身份证人像面"))
    id_back = FileField(_l("身份证国徽面"))
    password = PasswordField(_l("服务密码"), render_kw={"inputmode": "numeric", "autocomplete": "off",
                                                     "maxlength": 12})


class RepaymentForm(_AccountFields):
    pass


class LoanFaceForm(FlaskForm):
    photo = FileField(_l("本人照片"), validators=[FileRequired(message=_l("请拍摄或选择一张本人正脸照片"))])
