"""Domain errors and the one map of their user-facing messages (Chinese, translated)."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "sms_template_missing": _l("短信模板 %(code)s 不存在或未启用"),
    "sms_template_params": _l("短信模板缺少参数:%(missing)s"),
    "sms_backend_unknown": _l("未知的短信通道:%(backend)s"),
    "seed_not_empty": _l("数据库中已有保单数据"),
    "setting_unknown": _l("参数 %(key)s 不可在此修改"),
    "setting_bad_value": _l("参数 %(key)s 的取值 %(value)s 无效"),
}


class DomainError(Exception):
    """A business rule said no. `key` selects the message; `params` fill it in."""

    def __init__(self, key, /, **params):
        super().__init__(key)
        self.key = key
        self.params = params

    @property
    def message(self):
        template = MESSAGES.get(self.key)
        return str(template) % self.params if template is not None else self.key

    def __str__(self):
        try:
            return self.message
        except Exception:  # outside an app context the lazy string cannot render
            return self.key
