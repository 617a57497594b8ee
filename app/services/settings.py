"""Business settings: an admin's override in the `setting` table, else config.py's default.

Every overridable setting is declared once, in SPECS: its type, its default (config.py reads it,
the environment may change it), its range, whether only Admin may change it, and what it means
(the settings page shows it, and a test checks the README documents it). Overrides are parsed strictly (ASCII digits, no exponent, no
inf/nan) and refused outside the range, so a typo can never make every face pass.
"""
import logging
import re
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.extensions import db
from app.models.setting import Setting
from app.services.errors import DomainError

log = logging.getLogger(__name__)


# Plain decimal notation only: no exponent, no inf/nan, no "_" separators, no full-width digits.
_PATTERNS = {int: re.compile(r"-?[0-9]{1,9}", re.ASCII),
             Decimal: re.compile(r"-?[0-9]{1,9}(\.[0-9]{1,9})?", re.ASCII)}
_PATTERNS[float] = _PATTERNS[Decimal]
_TRUE, _FALSE = ("true", "1", "yes", "是"), ("false", "0", "no", "否")
ADMIN_ROLE = "Admin"


@dataclass(frozen=True)
class Spec:
    key: str  # also the name of the environment variable that changes the default (config.py)
    kind: type  # int, Decimal, float or bool
    default: object  # DOMAIN.md's value, of type `kind`
    label: object  # short Chinese name (lazy)
    meaning: object  # one sentence for the settings page (lazy)
    min: object = None
    max: object = None
    admin_only: bool = False  # identity checks and money rules: only Admin may change them

    def from_environment(self, raw):
        """The default config.py sets: the environment's text, else the declared default. A malformed
        text is kept as it is, so check_defaults stops the portal with its name instead of a traceback."""
        text = (raw or "").strip()
        if not text:
            return self.default
        if self.kind is bool:
            return text.lower() in ("1", "true", "yes", "on")
        try:
            return self.kind(text)
        except (ValueError, ArithmeticError):
            return text


SPECS = {spec.key: spec for spec in (
    # revisit workflow: the supervisors tune these
    Spec("EREVISIT_VALID_DAYS", int, 3, _l("电子化回访有效期(天)"),
         _l("自承保日起电子化回访链接有效的天数,期满转为电话回访"), 1, 15),
    Spec("EREVISIT_REMINDER_ENABLED", bool, False, _l("电子化回访提醒短信"),
         _l("第2天向尚未完成电子化回访的客户发送提醒短信")),
    Spec("PHONE_MAX_ATTEMPTS", int, 3, _l("电话回访最多拨打次数"),
         _l("拨打达到此次数仍未成功的任务转为信函回访"), 1, 10),
    Spec("PHONE_ATTEMPTS_DIFFERENT_DAYS", bool, True, _l("电话回访须分日拨打"),
         _l("同一任务的各次拨打须在不同日期进行")),
    Spec("CLAIM_RESERVATION_MINUTES", int, 30, _l("领取任务保留时长(分钟)"),
         _l("专员领取后未处理的任务超过此时长退回队列"), 5, 240),
    Spec("CALLBACK_GRACE_MINUTES", int, 15, _l("预约回拨保留时长(分钟)"),
         _l("预约回拨时间过后,任务仍为原专员保留的时长"), 0, 120),
    Spec("CALLBACK_MAX_DAYS", int, 30, _l("预约回拨最长天数"),
         _l("预约回拨时间须在此天数以内"), 1, 60),
    # customers' rights and money (DOMAIN.md §4, §8): Admin only
    Spec("HESITATION_DAYS", int, 15, _l("默认犹豫期(天)"),
         _l("新建产品的默认犹豫期天数"), 10, 60, True),
    Spec("LOAN_RATIO", Decimal, Decimal("0.80"), _l("可贷比例"),
         _l("可贷金额占保单现金价值的比例,不超过80%"), Decimal("0"), Decimal("0.8"), True),
    Spec("LOAN_TERM_MONTHS", int, 6, _l("贷款最长期限(月)"),
         _l("每笔保单贷款的最长期限,本公司条款为6个月"), 1, 6, True),
    Spec("LOAN_ANNUAL_RATE", Decimal, Decimal("0.0500"), _l("贷款年利率"),
         _l("保单贷款年利率,单利,按实际天数/365计息"), Decimal("0"), Decimal("0.24"), True),
    Spec("LOAN_REMINDER_FIRST_DAYS", int, 30, _l("贷款到期首次提醒(天)"),
         _l("保单贷款到期日前多少天短信提醒客户还款或续贷"), 8, 90, True),
    Spec("LOAN_REMINDER_LAST_DAYS", int, 7, _l("贷款到期再次提醒(天)"),
         _l("保单贷款到期日前多少天再次短信提醒"), 1, 7, True),
    Spec("STAMP_DUTY_THRESHOLD", Decimal, Decimal("2000"), _l("印花税起征金额(元)"),
         _l("贷款金额超过此数时收取印花税"), Decimal("0"), Decimal("1000000"), True),
    Spec("STAMP_DUTY_RATE", Decimal, Decimal("0.00005"), _l("印花税税率"),  # 0.05‰
         _l("借款合同印花税税率,0.00005即万分之零点五"), Decimal("0"), Decimal("0.001"), True),
    # servicing applications (issue 11): straight-through processing and four eyes, Admin only
    Spec("STP_MAX_AMOUNT", Decimal, Decimal("10000"), _l("自动审核最高金额(元)"),
         _l("规则全部通过且金额不超过此数的保全申请由系统自动审核通过,其余转人工审核"),
         Decimal("0"), Decimal("1000000"), True),
    Spec("STP_SAMPLE_RATE", Decimal, Decimal("0.05"), _l("自动审核抽检比例"),
         _l("系统自动审核通过的申请中,随机抽取此比例供人工事后复核(0至1)"), Decimal("0"), Decimal("1"), True),
    Spec("FOUR_EYES_AMOUNT", Decimal, Decimal("50000"), _l("双人复核金额(元)"),
         _l("金额超过此数的保全申请须由两位不同的审核人员分别审核通过"),
         Decimal("0"), Decimal("10000000"), True),
    # identity checks (security): Admin only
    Spec("ID_UPLOAD_THRESHOLD", Decimal, Decimal("10000"), _l("须上传身份证的贷款金额(元)"),
         _l("贷款金额超过此数时须上传身份证正反面"), Decimal("0"), Decimal("1000000"), True),
    # 大额资金交易,须进行人脸识别 (seed): above this amount a photo face check passed shortly before
    Spec("LOAN_FACE_AMOUNT", Decimal, Decimal("20000"), _l("须人脸识别的贷款金额(元)"),
         _l("贷款金额超过此数时,须在提交前数分钟内通过人脸识别"), Decimal("0"), Decimal("1000000"), True),
    Spec("LOAN_FACE_VALID_MINUTES", int, 10, _l("贷款人脸识别有效期(分钟)"),
         _l("人脸识别通过后,在此时间内提交贷款申请有效"), 1, 30, True),
    Spec("CONSENT_VALID_DAYS", int, 7, _l("被保险人同意有效期(天)"),
         _l("被保险人未在此天数内通过短信链接确认同意的,申请自动失效"), 1, 30, True),
    Spec("CODE_VALID_MINUTES", int, 5, _l("验证码有效期(分钟)"),
         _l("短信验证码发出后有效的分钟数"), 1, 30, True),
    Spec("CODE_MAX_WRONG_TRIES", int, 3, _l("验证码最多输错次数"),
         _l("输错达到此次数后验证码作废"), 1, 10, True),
    Spec("RESET_CODE_VALID_MINUTES", int, 15, _l("重置服务密码时限(分钟)"),
         _l("输入重置服务密码的短信验证码后,须在此时间内完成人脸识别并设置新密码"), 1, 60, True),
    Spec("FACE_MAX_TRIES", int, 5, _l("人脸识别最多尝试次数"),
         _l("每个回访链接可尝试人脸识别的次数"), 1, 10, True),
    Spec("FACE_MATCH_THRESHOLD", float, 0.55, _l("人脸比对阈值"),
         _l("人脸特征距离不超过此值视为本人,越大越宽松(依据见 docs/identity.md)"), 0.3, 0.7, True),
)}


def _spec(key):
    spec = SPECS.get(key)
    if spec is None:
        raise DomainError("setting_unknown", key=key)
    return spec


def _expected(spec):
    if spec.kind is bool:
        return _l("应为“是”或“否”")
    if spec.kind is int:
        return _l("应为 %(min)s 至 %(max)s 之间的整数", min=spec.min, max=spec.max)
    return _l("应为 %(min)s 至 %(max)s 之间的数字", min=spec.min, max=spec.max)


def parse(key, raw):
    """`raw` (text) as the setting's type, inside its range; DomainError otherwise."""
    spec = _spec(key)
    text = str(raw).strip()
    if spec.kind is bool:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
    elif _PATTERNS[spec.kind].fullmatch(text):
        value = spec.kind(Decimal(text)) if spec.kind is float else spec.kind(text)
        if not spec.min <= value <= spec.max:
            raise DomainError("setting_out_of_range", label=spec.label, min=spec.min, max=spec.max)
        return value
    raise DomainError("setting_malformed", label=spec.label, value=text[:20], expected=_expected(spec))


def check_may_change(key, actor_roles):
    """Whether a user with these role names may set or remove the override of `key`."""
    spec = _spec(key)
    if spec.admin_only and ADMIN_ROLE not in set(actor_roles or ()):
        raise DomainError("setting_admin_only", label=spec.label)


def check_override(key, raw, actor_roles):
    """The text to store for an override of `key` by a user with `actor_roles`; DomainError if refused."""
    check_may_change(key, actor_roles)
    return str(parse(key, raw))


def _overrides(keys, conn):
    try:
        return dict(conn.execute(select(Setting.key, Setting.value).where(Setting.key.in_(keys))).all())
    except (OperationalError, ProgrammingError):
        # A fresh checkout before `flask db upgrade`: the CLI still runs on config's defaults.
        if inspect(conn.get_bind()).has_table(Setting.__tablename__):
            raise
        return {}


def _value(key, overrides):
    if key in overrides:
        try:
            return parse(key, overrides[key])
        except DomainError:
            # a row from before the bounds (or written by hand): the rules keep the safe default
            log.warning("setting %s: stored value %r is invalid, using the default", key, overrides[key])
    return current_app.config[key]


def get_many(*keys, conn=None):
    """Several settings in one query, in the order asked."""
    overrides = _overrides(keys, conn or db.session)
    return [_value(key, overrides) for key in keys]


def get(key):
    return get_many(key)[0]


def display(spec, value):
    """A value as the settings page shows it: 是/否, not True/False."""
    if spec.kind is bool:
        return _l("是") if value else _l("否")
    return str(value)


def overview():
    """Every business setting for the settings page: current value, default, range, meaning."""
    overrides = _overrides(tuple(SPECS), db.session)
    return [{"key": spec.key, "label": spec.label, "meaning": spec.meaning,
             "value": display(spec, _value(spec.key, overrides)), "default": display(spec, current_app.config[spec.key]),
             "range": _l("是 / 否") if spec.kind is bool
             else _l("%(min)s 至 %(max)s", min=spec.min, max=spec.max),
             "admin_only": _l("是") if spec.admin_only else _l("否"), "overridden": spec.key in overrides}
            for spec in SPECS.values()]


def check_defaults(config):
    """Names of the settings whose configured default (environment) is malformed or out of range."""
    bad = []
    for spec in SPECS.values():
        value = config.get(spec.key)
        if isinstance(value, bool) or spec.kind is bool:
            ok = isinstance(value, bool) and spec.kind is bool
        else:
            try:
                ok = spec.min <= value <= spec.max  # nan compares False, inf is out of range
            except (TypeError, ArithmeticError):  # Decimal('NaN') refuses to compare
                ok = False
        if not ok:
            bad.append(f"{spec.key}={value!r} (allowed {spec.min} to {spec.max})" if spec.kind is not bool
                       else f"{spec.key}={value!r} (allowed true/false)")
    return bad
