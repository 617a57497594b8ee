"""受益人变更's form (/my/beneficiary): the shapes only. services/beneficiary.py checks the business: the
identity (a resident ID's birth date and gender), the ID's validity, the shares of each order, the law's
rules. Choices are not validated here (validate_choice=False): the service refuses an unknown one in
Chinese and the rows come back as typed."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, SelectField, StringField
from wtforms.validators import Length

from app.forms.account import CODE_VALIDATORS, _fold
from app.models.customer import ID_TYPES
from app.models.policy import RELATIONSHIPS
from app.services.beneficiary import GENDERS, MAX_ROWS, ORDERS


class BeneficiaryRow(Form):
    """One beneficiary: 姓名, 证件类型, 证件号码, 性别, 出生日期, 证件有效期, 与被保险人关系, 受益顺序, 受益比例."""
    name = StringField(_l("受益人姓名"), filters=[_fold],
                       validators=[Length(max=64, message=_l("受益人姓名最多64个字"))],
                       render_kw={"maxlength": 64, "autocomplete": "off"})
    id_type = SelectField(_l("证件类型"), choices=[(k, v) for k, v in ID_TYPES.items()], default="RESIDENT_ID",
                          validate_choice=False)
    id_number = StringField(_l("证件号码"), filters=[_fold],
                            validators=[Length(max=32, message=_l("证件号码最多32位"))],
                            render_kw={"maxlength": 32, "autocomplete": "off"})
    gender = SelectField(_l("性别"), choices=[("", _l("请选择"))] + list(GENDERS.items()), validate_choice=False)
    birth_date = StringField(_l("出生日期"), filters=[_fold], validators=[Length(max=10)],
                             render_kw={"placeholder": "1990-01-31", "maxlength": 10})
    long_term = BooleanField(_l("长期"))
    id_valid_until = StringField(_l("证件有效期至"), filters=[_fold], validators=[Length(max=10)],
                                 render_kw={"placeholder": "2030-12-31", "maxlength": 10})
    relationship = SelectField(_l("与被保险人关系"), choices=[("", _l("请选择"))] + list(RELATIONSHIPS.items()),
                               validate_choice=False)
    order = SelectField(_l("受益顺序"), choices=[(str(k), v) for k, v in ORDERS.items()], default="1",
                        validate_choice=False)
    share = StringField(_l("受益比例"), filters=[_fold], validators=[Length(max=8)],
                        render_kw={"inputmode": "decimal", "maxlength": 8, "placeholder": _l("留空则平均分配")})

    def as_dict(self):
        return {name: self[name].data for name in ("name", "id_type", "id_number", "gender", "birth_date",
                                                   "long_term", "id_valid_until", "relationship", "order",
                                                   "share")}


class BeneficiaryForm(FlaskForm):
    request_key = HiddenField()  # one per form render: a double submit finds the first application
    death = FieldList(FormField(BeneficiaryRow), max_entries=MAX_ROWS)
    survival = FieldList(FormField(BeneficiaryRow), max_entries=MAX_ROWS)
    survival_shown = HiddenField()  # "1" when the 生存受益人 tab was offered (its rows count)
    code = StringField(_l("短信验证码"), filters=[_fold], validators=CODE_VALIDATORS,
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})
