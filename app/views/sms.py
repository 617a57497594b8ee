"""Back-office views of SMS templates and the message log / outbox (短信管理)."""
import re

from flask import abort, current_app, flash, redirect, url_for
from flask_appbuilder import expose, has_access
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms.validators import ValidationError

from app.extensions import db
from app.models.sms import SMS_STATUSES, SmsMessage, SmsTemplate
from app.services import sms, unit
from app.services.errors import DomainError
from app.services.sms import CONFIRMED_SENT, CONNECT_ERROR, NOT_AT_PROVIDER, UNKNOWN_RESULT
from app.views.base import PortalModelView, _l, datamodel, mask_mobile

CODE_HINTS = {
    UNKNOWN_RESULT: _l("结果未知:可能已发出,系统不会自动重发,正在向短信平台核实"),
    CONFIRMED_SENT: _l("结果曾未知,经短信平台核实已收到,不能重新发送"),
    NOT_AT_PROVIDER: _l("结果曾未知,经核实短信平台未收到,可以重新发送"),
    CONNECT_ERROR: _l("未连上短信平台,未发出,将自动重试"),
    "isv.BUSINESS_LIMIT_CONTROL": _l("被限流,稍后自动重发"),
    "isv.MOBILE_NUMBER_ILLEGAL": _l("手机号无效"),
    "isv.TEMPLATE_MISSING_PARAMETERS": _l("模板参数与阿里云报备模板不符"),
    "isv.AMOUNT_NOT_ENOUGH": _l("短信账户余额不足"),
}


# what a message is for: its own purposes, else the template code it was sent for (its template's name)
SMS_PURPOSES = {"EREVISIT": _l("电子化回访邀请"), "EREVISIT_REMINDER": _l("电子化回访提醒"), "CODE": _l("验证码")}
SMS_BACKENDS = {"outbox": _l("开发发件箱"), "aliyun": _l("阿里云短信")}


def purpose_label(code):
    if not code:
        return ""
    if code in SMS_PURPOSES:
        return SMS_PURPOSES[code]
    name = db.session.query(SmsTemplate.name).filter(SmsTemplate.code == code).scalar()
    return name or code


def backend_label(code):
    return SMS_BACKENDS.get(code, code) if code else ""


def provider_code_label(code):
    hint = CODE_HINTS.get(code)
    if not code or hint is None:
        return code or ""
    return Markup("{} <small class=\"text-muted\">{}</small>").format(escape(code), hint)


URL = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$&'*+,;=%-]+")


def content_with_links(text):
    """The outbox: the customer's link clickable, so staff can open it as the customer would."""
    if not text:
        return ""
    parts, last = [], 0
    for match in URL.finditer(text):
        parts.append(escape(text[last:match.start()]))
        parts.append(Markup('<a href="{0}" target="_blank" rel="noopener">{0}</a>').format(match.group(0)))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def placeholders_well_formed(form, field):
    """${name} placeholders only: a stray "${" or "$name" would reach the customer as is."""
    text = field.data or ""
    stray = re.sub(r"\$\{\w+\}", "", text)
    if "${" in stray or re.search(r"\$\w", stray):
        raise ValidationError(_l("占位符格式应为 ${name},例如 ${link}"))


class SmsTemplateView(PortalModelView):
    entity_label = _l("短信模板")
    datamodel = datamodel(SmsTemplate)
    label_columns = {"code": _l("模板代码"), "name": _l("模板名称"),
                     "provider_template_code": _l("阿里云模板号"), "content": _l("模板内容"),
                     "is_active": _l("启用"), "updated_at": _l("更新时间")}
    description_columns = {
        "content": _l("与阿里云报备的模板一致;变量写作 ${name},如 ${name}${title}、${link}"),
        "provider_template_code": _l("阿里云短信服务控制台中的模板 CODE,如 SMS_123456789"),
    }
    list_columns = ["code", "name", "provider_template_code", "is_active", "updated_at"]
    show_columns = ["code", "name", "provider_template_code", "content", "is_active", "updated_at"]
    edit_columns = ["name", "provider_template_code", "content", "is_active"]
    add_columns = ["code"] + edit_columns
    validators_columns = {"content": [placeholders_well_formed]}
    search_columns = ["code", "name", "provider_template_code", "is_active"]


class ResendForm(FlaskForm):
    """A bare POST: only the CSRF token."""


class SmsMessageView(PortalModelView):
    entity_label = _l("短信")
    datamodel = datamodel(SmsMessage)
    # A read-only log; "resend" (Admin, Supervisor) makes a new message for a FAILED one.
    base_permissions = ["can_list", "can_show", "can_resend"]
    method_permission_name = {"resend": "resend", "development_codes": "list"}
    show_template = "sms/message_show.html"
    label_columns = {"template": _l("模板"), "phone": _l("手机号"), "content": _l("短信内容"),
                     "purpose": _l("用途"), "backend": _l("通道"), "status": _l("状态"),
                     "out_id": _l("外部流水号"), "biz_id": _l("回执ID"), "request_id": _l("请求ID"),
                     "provider_code": _l("返回码"), "provider_message": _l("返回信息"),
                     "send_attempts": _l("发送次数"), "next_attempt_at": _l("下次发送时间"),
                     "sent_at": _l("发送时间"), "receipt_at": _l("回执时间"),
                     "receipt_code": _l("回执码"), "receipt_message": _l("回执信息"),
                     "created_at": _l("创建时间")}
    choices = {"status": SMS_STATUSES}
    list_columns = ["created_at", "template", "phone", "content", "status", "provider_code",
                    "sent_at", "receipt_code", "receipt_at"]
    show_columns = ["template", "phone", "content", "purpose", "backend", "status", "provider_code",
                    "provider_message", "send_attempts", "next_attempt_at", "sent_at", "out_id",
                    "biz_id", "request_id", "receipt_at", "receipt_code", "receipt_message",
                    "created_at"]
    search_columns = ["phone", "status", "purpose", "template", "provider_code", "receipt_code",
                      "created_at", "sent_at", "biz_id", "out_id"]
    formatters_columns = {"phone": mask_mobile, "provider_code": provider_code_label,
                          "content": content_with_links, "purpose": purpose_label, "backend": backend_label,
                          "template": lambda template: template.name if template is not None else ""}
    base_order = ("created_at", "desc")
    hash_searched = {"phone": "mobile"}  # encrypted (issue 15 item 4): exact mobile, through phone_hash

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        pk = self._deserialize_pk_if_composite(pk)
        widgets = self._show(pk)
        message = self.datamodel.get(pk, self._base_filters)
        code_held_out = message is not None and sms.holds_secret(message.params)
        refusal = sms.resend_refusal(message) if message is not None else None
        may_resend = message is not None and refusal is None and \
            self.appbuilder.sm.has_access("can_resend", self.class_permission_name)
        code = message.provider_code if message is not None else None
        return self.render_template(
            self.show_template, pk=pk, title=self.show_title, widgets=widgets,
            related_views=self._related_views, resend_form=ResendForm() if may_resend else None,
            unknown_result=code == UNKNOWN_RESULT, confirmed_sent=code == CONFIRMED_SENT,
            settling=code == UNKNOWN_RESULT and isinstance(refusal, sms.ResendRefused),
            not_at_provider=code == NOT_AT_PROVIDER,
            settle_minutes=int((sms.NOT_FOUND_GRACE + sms.FIRST_RETRY).total_seconds() // 60),
            code_held_out=code_held_out, development_outbox=sms.development_outbox_enabled())

    @expose("/development-codes")
    @has_access
    def development_codes(self):
        """开发环境验证码: the last codes the portal sent through the outbox, in clear. Only in the
        embedded default (development, outbox backend); production answers 404."""
        if not sms.development_outbox_enabled() or current_app.config.get("PORTAL_ENV") == "production":
            abort(404)
        return self.render_template("sms/development_codes.html", rows=sms.development_outbox(),
                                    mask_mobile=mask_mobile)

    @expose("/resend/<int:pk>", methods=["POST"])
    @has_access
    def resend(self, pk):
        if not ResendForm().validate_on_submit():
            flash(_("页面已过期,请刷新后重试。"), "danger")
            return redirect(url_for(".show", pk=pk))
        old = self.datamodel.get(pk, self._base_filters)
        if old is not None and sms.holds_secret(old.params):
            flash(_("验证码短信不能重新发送:验证码只在发送时存在。请客户重新获取验证码。"), "danger")
            return redirect(url_for(".show", pk=pk))
        try:
            with unit.work():
                message = sms.resend(pk)
                unit.enqueue("sms.send", message.id)
        except DomainError as error:
            flash(error.message, "danger")
            return redirect(url_for(".show", pk=pk))
        flash(_("已重新发送,新的短信记录编号 %(id)s", id=message.id), "success")
        return redirect(url_for(".show", pk=message.id))
