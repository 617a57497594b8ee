"""Shared pieces of the back-office views."""
from flask import g
from flask_appbuilder import ModelView
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from app.security import ALL_TASK_ROLES, role_names
from app.services.privacy import mask_id_number, mask_mobile  # the one masking rule, for the views

READ_ONLY = {"can_list", "can_show"}
# Labels for the columns every table has, unless a view names them itself.
COMMON_LABELS = {"id": _l("编号"), "created_at": _l("创建时间"), "updated_at": _l("更新时间")}
NO_DELETE = {"can_list", "can_show", "can_add", "can_edit"}


def _blank_if_none(value):
    """Empty cells instead of the word None."""
    return "" if value is None else value


class OwnTasksUnlessSupervisor(BaseFilter):
    """Agents see only what is assigned to them; the other staff roles see everything.

    Checking the role here (not a plain base filter) keeps Admin and Supervisor unrestricted.
    """
    name = "assigned to me"
    arg_name = "own"

    def apply(self, query, value):
        user = g.user
        if role_names(user) & ALL_TASK_ROLES:
            return query
        return query.filter(self.model.assigned_to_id == user.id)


class PortalModelView(ModelView):
    """A ModelView whose coded columns show their Chinese labels and edit as select boxes.

    `choices` maps a column to its {code: label} dict (the dicts live beside the models).
    """
    choices = {}
    entity_label = None  # e.g. _l("保单"): gives the page titles 保单列表 / 查看保单 / 编辑保单 / 新增保单
    page_size = 25
    base_permissions = NO_DELETE

    def __init__(self, *args, **kwargs):
        fields = {}
        self.label_columns = {**COMMON_LABELS, **(self.label_columns or {})}
        formatters = dict(self.formatters_columns or {})
        for column in self.datamodel.get_columns_list():
            if self.datamodel.is_boolean(column):  # 是/否 rather than True/False
                formatters.setdefault(column, lambda v: "" if v is None else (_l("是") if v else _l("否")))
        for column, mapping in self.choices.items():
            formatters.setdefault(column, lambda v, m=mapping: m.get(v, v) if v is not None else "")
            fields[column] = SelectField(
                self.label_columns.get(column, column),
                choices=[(k, v) for k, v in mapping.items()],
                widget=Select2Widget(),
            )
        self.formatters_columns = formatters
        self.add_form_extra_fields = {**fields, **(self.add_form_extra_fields or {})}
        self.edit_form_extra_fields = {**fields, **(self.edit_form_extra_fields or {})}
        if self.entity_label is not None:
            self.list_title = _l("%(name)s列表", name=self.entity_label)
            self.show_title = _l("查看%(name)s", name=self.entity_label)
            self.edit_title = _l("编辑%(name)s", name=self.entity_label)
            self.add_title = _l("新增%(name)s", name=self.entity_label)
        super().__init__(*args, **kwargs)
        for column in set(self.list_columns) | set(self.show_columns):
            self.formatters_columns.setdefault(column, _blank_if_none)
        for form in (self.search_form, self.add_form, self.edit_form):
            _name_the_empty_choice(form)


def _name_the_empty_choice(form):
    """Flask-AppBuilder's related-record selects offer an empty choice whose value is `__None`, which the
    search box shows as its text: call it 请选择 instead."""
    from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField
    from wtforms.fields.core import UnboundField

    for name in dir(form or ()):
        field = getattr(form, name, None)
        if isinstance(field, UnboundField) and issubclass(field.field_class, (QuerySelectField,
                                                                               QuerySelectMultipleField)):
            field.kwargs["blank_text"] = _l("请选择")


def code_list(mapping, empty=_l("全部")):
    """A formatter for a comma-separated list of codes ("UNIVERSAL,UNIT_LINKED"): their names."""
    def format_codes(value):
        codes = [code for code in (value or "").split(",") if code]
        return "、".join(str(mapping.get(code, code)) for code in codes) if codes else empty
    return format_codes


def device_column(value):
    """A user agent as the device and browser, the full string on demand (services/labels.py)."""
    from app.services import labels

    return labels.device_html(value)


def details_column(value):
    """A JSON column of evidence or verification details as a labelled table."""
    from app.services import labels

    return labels.details_html(value)


def datamodel(model):
    return SQLAInterface(model)


__all__ = ["PortalModelView", "datamodel", "READ_ONLY", "NO_DELETE", "_l", "code_list", "device_column",
           "details_column",
           "mask_id_number", "mask_mobile", "OwnTasksUnlessSupervisor"]
