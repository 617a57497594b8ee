"""Back-office views of SMS templates and the message log / outbox (短信管理)."""
from app.models.sms import SMS_STATUSES, SmsMessage, SmsTemplate
from app.views.base import READ_ONLY, PortalModelView, _l, datamodel, mask_mobile


class SmsTemplateView(PortalModelView):
    datamodel = datamodel(SmsTemplate)
    label_columns = {"code": _l("模板代码"), "name": _l("模板名称"),
                     "provider_template_code": _l("阿里云模板号"), "content": _l("模板内容"),
                     "is_active": _l("启用"), "updated_at": _l("更新时间")}
    list_columns = ["code", "name", "provider_template_code", "is_active", "updated_at"]
    edit_columns = ["name", "provider_template_code", "content", "is_active"]
    add_columns = ["code"] + edit_columns


class SmsMessageView(PortalModelView):
    datamodel = datamodel(SmsMessage)
    base_permissions = READ_ONLY
    label_columns = {"template": _l("模板"), "phone": _l("手机号"), "content": _l("短信内容"),
                     "purpose": _l("用途"), "backend": _l("通道"), "status": _l("状态"),
                     "out_id": _l("外部流水号"), "biz_id": _l("回执ID"), "provider_code": _l("返回码"),
                     "provider_message": _l("返回信息"), "send_attempts": _l("发送次数"),
                     "sent_at": _l("发送时间"), "receipt_at": _l("回执时间"),
                     "receipt_code": _l("回执码"), "created_at": _l("创建时间")}
    choices = {"status": SMS_STATUSES}
    list_columns = ["created_at", "phone", "purpose", "status", "content", "sent_at", "receipt_at"]
    search_columns = ["phone", "status", "purpose", "created_at", "biz_id"]
    formatters_columns = {"phone": mask_mobile}
    base_order = ("created_at", "desc")
