"""Back-office views of the audit trail, identity checks and settings (系统管理)."""
from flask import g
from flask_appbuilder import expose, has_access
from flask_appbuilder.exceptions import FABException

from app.models.audit import AuditEvent
from app.models.identity import (VERIFICATION_KINDS, VERIFICATION_STATUSES,
                                 IdentityVerification)
from app.models.setting import Setting
from app.security import role_names
from app.services import labels, settings
from app.views.base import READ_ONLY, PortalModelView, _l, datamodel, details_column, device_column


class AuditEventView(PortalModelView):
    entity_label = _l("审计事件")
    datamodel = datamodel(AuditEvent)
    base_permissions = READ_ONLY
    label_columns = {"occurred_at": _l("时间"), "actor_type": _l("操作方"), "actor_name": _l("操作人"),
                     "action": _l("操作"), "entity": _l("对象"), "entity_id": _l("对象ID"),
                     "before": _l("变更前"), "after": _l("变更后"), "ip": _l("IP"),
                     "user_agent": _l("设备"), "actor_id": _l("操作人编号")}
    choices = {"actor_type": labels.ACTOR_TYPES, "action": labels.AUDIT_ACTIONS}
    formatters_columns = {"entity": lambda v: labels.entity(v) if v else "", "user_agent": device_column}
    list_columns = ["occurred_at", "actor_type", "actor_name", "action", "entity", "entity_id"]
    # before and after: one table of the changed fields (system/audit_show.html)
    show_columns = ["occurred_at", "actor_type", "actor_name", "action", "entity", "entity_id", "ip", "user_agent"]
    search_columns = ["occurred_at", "actor_name", "action", "entity", "entity_id"]
    base_order = ("id", "desc")
    show_template = "system/audit_show.html"

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        widgets = self._show(pk)
        event = self.datamodel.get(pk, self._base_filters)
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    related_views=self._related_views,
                                    changes=labels.changes(event.entity, event.before, event.after),
                                    show_before=event.before is not None, show_after=event.after is not None)


def _customer(customer_id):
    """The customer by name, as the 客户 pages show them."""
    from app.extensions import db
    from app.models.customer import Customer

    customer = db.session.get(Customer, customer_id) if customer_id is not None else None
    return f"{customer.name}(#{customer_id})" if customer is not None else (customer_id or "")


class IdentityVerificationView(PortalModelView):
    entity_label = _l("身份核验记录")
    datamodel = datamodel(IdentityVerification)
    base_permissions = READ_ONLY
    label_columns = {"customer_id": _l("客户"), "kind": _l("类型"), "purpose": _l("用途"),
                     "status": _l("结果"), "distance": _l("人脸距离"), "details": _l("明细"),
                     "challenge_digits": _l("朗读数字"), "evidence_path": _l("证据文件"),
                     "created_at": _l("时间"), "completed_at": _l("完成时间"), "ip": _l("IP"),
                     "user_agent": _l("设备"), "link_id": _l("回访链接"), "link": _l("回访链接")}
    choices = {"kind": VERIFICATION_KINDS, "status": VERIFICATION_STATUSES, "purpose": labels.VERIFICATION_PURPOSES}
    formatters_columns = {"details": details_column, "user_agent": device_column, "customer_id": _customer,
                          "distance": lambda v: "" if v is None else f"{v:.4f}"}
    show_columns = ["created_at", "completed_at", "customer_id", "kind", "purpose", "status", "distance",
                    "challenge_digits", "details", "evidence_path", "ip", "user_agent"]
    list_columns = ["created_at", "customer_id", "kind", "purpose", "status", "distance"]
    search_columns = ["created_at", "kind", "purpose", "status"]
    base_order = ("id", "desc")


class SettingView(PortalModelView):
    """Overrides of business defaults: typed and bounded by the settings service, security settings by
    Admin only. The list page shows every setting (value, default, range, meaning) above the overrides."""
    entity_label = _l("业务参数")
    datamodel = datamodel(Setting)
    choices = {"key": {key: spec.label for key, spec in settings.SPECS.items()}}
    base_permissions = {"can_list", "can_show", "can_add", "can_edit", "can_delete"}
    label_columns = {"key": _l("参数"), "value": _l("取值"), "description": _l("说明"),
                     "updated_at": _l("更新时间")}
    list_columns = ["key", "value", "description", "updated_at"]
    add_columns = ["key", "value", "description"]
    edit_columns = ["value", "description"]  # the key stays: another key is another override
    list_template = "system/setting_list.html"

    @expose("/list/")
    @has_access
    def list(self):
        self.update_redirect()
        try:
            widgets = self._list()
        except FABException:
            return super().list()
        return self.render_template(self.list_template, title=self.list_title, widgets=widgets,
                                    business_settings=settings.overview())

    def pre_add(self, item):
        item.value = settings.check_override(item.key, item.value, role_names(g.user))

    pre_update = pre_add

    def pre_delete(self, item):
        settings.check_may_change(item.key, role_names(g.user))
