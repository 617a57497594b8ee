"""Shared pieces of the back-office views."""
from flask import g
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla import filters as sqla_filters
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.orm import joinedload, selectinload
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


# A list counts its rows only up to here: past it the page says 超过10000条 and still pages by number
# (a full COUNT(*) of a million policies on every page was most of the list's time, issue 14 item 6).
LIST_COUNT_CAP = 10000


class CappedCount(int):
    """The row count of a list that has more rows than LIST_COUNT_CAP: a number for the pager (FAB's
    template divides it by the page size), the words 超过10000条 where the page prints it."""

    def __str__(self):
        return _("超过%(count)s条", count=LIST_COUNT_CAP)

    def __html__(self):
        return str(self)


class FilterStartsWith(sqla_filters.FilterStartsWith):
    """FAB's 开头是 as a plain `LIKE 'abc%'` on the column, so the column's index serves it (FAB's own
    wraps both sides in lower(), which no index serves). The columns' collation (utf8mb4_unicode_ci)
    already compares without case. Same name and URL argument as FAB's, in the same place in the list."""

    def apply(self, query, value):
        query, field = sqla_filters.get_field_setup_query(query, self.model, self.column_name)
        text = str(value).strip()
        pattern = text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
        return query.filter(field.like(pattern, escape="!"))


class PortalFilterConverter(sqla_filters.SQLAFilterConverter):
    conversion_table = tuple(
        (test, [FilterStartsWith if flt is sqla_filters.FilterStartsWith else flt for flt in flts])
        for test, flts in sqla_filters.SQLAFilterConverter.conversion_table)


class FilterHashEqual(BaseFilter):
    """Exact match on an encrypted column through its keyed hash, <column>_hash (app/services/crypto.py):
    the only search an encrypted ID number or mobile allows (no prefix or substring)."""
    name = sqla_filters.FilterEqual.name  # Flask-AppBuilder's own "Equal to" label
    arg_name = "eq"

    def __init__(self, column_name, datamodel, kind):
        super().__init__(column_name, datamodel)
        self.kind = kind

    def apply(self, query, value):
        from app.services.crypto import lookup_hash

        return query.filter(getattr(self.model, f"{self.column_name}_hash") == lookup_hash(value, self.kind))


class PortalInterface(SQLAInterface):
    """FAB's SQLAlchemy interface whose "starts with" search uses the column's index."""
    filter_converter_class = PortalFilterConverter


class PortalModelView(ModelView):
    """A ModelView whose coded columns show their Chinese labels and edit as select boxes.

    `choices` maps a column to its {code: label} dict (the dicts live beside the models).
    """
    choices = {}
    # encrypted columns searched by exact value through their keyed hash: {column: kind of crypto.lookup_hash}
    hash_searched = {}
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

    def _init_properties(self):
        """The hash_searched columns get FilterHashEqual only (also for the filters a URL can name)."""
        super()._init_properties()
        for column, kind in self.hash_searched.items():
            self._filters._search_filters[column] = [FilterHashEqual(column, self.datamodel, kind)]
            self._filters._all_filters[column] = [FilterHashEqual(column, self.datamodel, kind)]

    @expose("/list/")
    @has_access
    def list(self):
        """FAB's list page, kept until a table it read changes (views/page_cache.py)."""
        from app.views import page_cache

        return page_cache.serve(self, super().list.__wrapped__.__get__(self))

    def _list_loads(self):
        """Loader options for the list's related columns: a many-to-one joins into the page's query, a
        collection comes in one more query for the whole page (never one query per row)."""
        model, options = self.datamodel.obj, []
        for column in self.list_columns:
            if "." in column or not self.datamodel.is_relation(column):
                continue
            attribute = getattr(model, column)
            if self.datamodel.is_relation_many_to_one(column) or self.datamodel.is_relation_one_to_one(column):
                options.append(joinedload(attribute).load_only(*_plain_columns(attribute.property.mapper)))
            else:
                options.append(selectinload(attribute).load_only(*_plain_columns(attribute.property.mapper)))
        return options

    def _list_page(self, filters, order_column, order_direction, page, page_size):
        """One page of rows and their count. The page's ids first, in the list's order from its index
        alone (a deferred join: however far the page, only index entries are skipped), then those rows
        with their related rows; the count stops at LIST_COUNT_CAP (none at all when the page itself
        shows where the rows end). Without an order the list keeps the table's own, by id."""
        datamodel = self.datamodel
        session, pk = datamodel.session, datamodel.get_pk()
        ids = datamodel.apply_filters(session.query(pk), filters)
        if order_column:
            ids = datamodel.apply_order_by(ids, order_column, order_direction, add_pk=True)
        else:
            ids = ids.order_by(pk)
        ids = [row[0] for row in datamodel.apply_pagination(ids, page, page_size)]
        rows = []
        if ids:
            found = {getattr(row, pk.key): row for row in
                     session.query(datamodel.obj).filter(pk.in_(ids)).options(*self._list_loads())}
            rows = [found[key] for key in ids if key in found]
        offset = (page or 0) * page_size
        if len(ids) < page_size and (ids or not offset):
            return offset + len(ids), rows  # the last page: the count is plain
        matching = datamodel.apply_filters(session.query(pk), filters)
        count = session.query(func.count()).select_from(matching.limit(LIST_COUNT_CAP + 1).subquery()).scalar()
        if count <= LIST_COUNT_CAP:
            return count, rows
        # more than the cap: enough for the pager to offer the next page of any full page
        return CappedCount(max(LIST_COUNT_CAP + 1, offset + len(ids) + (1 if len(ids) == page_size else 0))), rows

    def _get_list_widget(self, filters, actions=None, order_column="", order_direction="", page=None,
                         page_size=None, widgets=None, **kwargs):
        """Flask-AppBuilder's, with the page from _list_page (related rows loaded with it, the count capped)."""
        widgets = widgets or {}
        actions = actions or self.actions
        page_size = page_size or self.page_size
        if not order_column and self.base_order:
            order_column, order_direction = self.base_order
        joined_filters = filters.get_joined_filters(self._base_filters)
        count, lst = self._list_page(joined_filters, order_column, order_direction, page, page_size)
        pks = [self._serialize_pk_if_composite(pk) for pk in self.datamodel.get_keys(lst)]
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns, include_columns=self.list_columns,
            value_columns=self.datamodel.get_values(lst, self.list_columns), order_columns=self.order_columns,
            formatters_columns=self.formatters_columns, page=page, page_size=page_size, count=count, pks=pks,
            actions=actions, filters=filters, modelview_name=self.__class__.__name__, **kwargs)
        return widgets


def _plain_columns(mapper):
    """A related row's columns a list cell can show: not the encrypted ones (decrypting a customer's ID
    number, mobile and face encoding for every row was a tenth of a policy page, issue 14 point 6), nor
    binary, JSON or long text. A cell that reads one anyway still gets it, by a query of its own."""
    from sqlalchemy import JSON, LargeBinary, Text

    from app.services.crypto import EncryptedBinary, EncryptedJSON, EncryptedString

    skipped = (EncryptedString, EncryptedBinary, EncryptedJSON, LargeBinary, JSON, Text)
    return [column for column in mapper.column_attrs
            if not any(isinstance(c.type, skipped) for c in column.columns)]


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
    return PortalInterface(model)


__all__ = ["PortalModelView", "PortalInterface", "FilterStartsWith", "FilterHashEqual", "LIST_COUNT_CAP", "CappedCount", "datamodel", "READ_ONLY", "NO_DELETE", "_l", "code_list", "device_column",
           "details_column",
           "mask_id_number", "mask_mobile", "OwnTasksUnlessSupervisor"]
