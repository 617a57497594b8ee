"""Back-office views of customers, products, policies and beneficiaries (保单管理)."""
import io
import os

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from markupsafe import Markup
from wtforms import IntegerField, ValidationError
from wtforms.validators import InputRequired

from app.extensions import db
from app.models.customer import AUTH_STATUSES, GENDERS, ID_TYPES, Customer
from app.models.policy import (BENEFICIARY_KINDS, CHANNELS, PAYMENT_FREQUENCIES, PAYMENT_MODES,
                               POLICY_STATUSES, RELATIONSHIPS, Beneficiary, Policy)
from app.models.product import ANNUITY_METHODS, PRODUCT_KINDS, Product
from app.services import clock, policy as policies, retention, unit
from app.services import settings as business_settings
from app.services.errors import DomainError
from app.services.privacy import mask_id_number, mask_mobile, mask_name
from app.views.base import READ_ONLY, PortalInterface, PortalModelView, _l, datamodel

CUSTOMER_LABELS = {
    "customer_no": _l("客户号"), "name": _l("姓名"), "gender": _l("性别"),
    "birth_date": _l("出生日期"), "id_type": _l("证件类型"), "id_number": _l("证件号码"),
    "mobile": _l("预留手机号"), "wechat_openid": _l("微信 openid"), "auth_status": _l("认证状态"),
    "authenticated_at": _l("认证时间"), "reference_photo": _l("人脸参考照片"),
    "created_at": _l("创建时间"), "updated_at": _l("更新时间"),
}
POLICY_LABELS = {
    "policy_no": _l("保险单号"), "product": _l("产品"), "holder": _l("投保人"),
    "insured": _l("被保险人"), "issue_date": _l("承保日期"), "receipt_signed_date": _l("回执签收日"),
    "effective_date": _l("保单生效日"), "status": _l("保单状态"), "channel": _l("承保渠道"),
    "premium": _l("保费(元)"), "payment_mode": _l("缴费方式"), "payment_frequency": _l("缴费频率"),
    "payment_years": _l("缴费年期"), "next_due_date": _l("下次缴费日"),
    "sum_assured": _l("保额(元)"), "cash_value": _l("现金价值(元)"),
    "cash_value_date": _l("现金价值日期"), "annuity_method": _l("年金领取方式"),
    "universal_account_no": _l("万能账户"), "created_at": _l("创建时间"), "updated_at": _l("更新时间"),
    "beneficiaries": _l("受益人"), "annuity_method_from": _l("年金领取方式适用日"),
    "holder_relationship": _l("投保人与被保险人关系"), "claim_reported_at": _l("出险报案时间"),
    "contract_end": _l("合同终止日"), "retention_end": _l("记录保存期限"),
}


def beneficiaries_text(people):
    """The current beneficiaries as a person reads them, by kind: 身故受益人:王* 100.00%;生存受益人:王* 100.00%
    (names masked by the one rule; every version is on the policy's page)."""
    current = [person for person in people or () if person.superseded_at is None]
    if not current:
        return _("未指定")
    parts = []
    for kind, label in BENEFICIARY_KINDS.items():
        rows = sorted((p for p in current if p.kind == kind), key=lambda p: (p.order, p.id))
        if rows:
            parts.append("%s:%s" % (label, "、".join(
                f"{_('法定继承人') if p.is_legal_heirs else mask_name(p.name)} {p.share:.2f}%" for p in rows)))
    return ";".join(parts)


class CustomerView(PortalModelView):
    entity_label = _l("客户")
    datamodel = datamodel(Customer)
    label_columns = CUSTOMER_LABELS
    choices = {"gender": GENDERS, "id_type": ID_TYPES, "auth_status": AUTH_STATUSES}
    list_columns = ["customer_no", "name", "gender", "id_type", "id_number", "mobile", "auth_status"]
    show_exclude_columns = ["face_encoding", "servicing_password_hash", "id_number_hash", "mobile_hash"]
    show_template = "customer_show.html"
    search_columns = ["customer_no", "name", "id_number", "mobile", "auth_status"]
    edit_columns = ["name", "gender", "birth_date", "id_type", "id_number", "mobile", "wechat_openid"]
    add_columns = ["customer_no"] + edit_columns
    formatters_columns = {"id_number": mask_id_number, "mobile": mask_mobile}
    hash_searched = {"id_number": "id_number", "mobile": "mobile"}  # encrypted: exact value, by the hash

    def pre_add(self, item):
        """The same rules as intake: one customer per ID document, checked and normalised fields
        (FAB shows the DomainError's message and stores nothing)."""
        from app.services import intake

        clean = intake.check_customer({
            "name": item.name, "id_type": item.id_type, "id_number": item.id_number,
            "birth_date": item.birth_date.isoformat() if item.birth_date else "",
            "gender": item.gender, "mobile": item.mobile, "customer_no": item.customer_no}, item.id)
        for key in ("name", "id_type", "id_number", "birth_date", "gender", "mobile"):
            setattr(item, key, clean[key])
        if not item.customer_no:
            raise DomainError("field_required", field=CUSTOMER_LABELS["customer_no"])

    pre_update = pre_add

    @expose("/photo/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def photo(self, pk):
        """Attach the customer's reference photo for face checks (checked: an image, one face)."""
        customer = db.session.get(Customer, pk) or abort(404)
        if request.method == "POST":
            try:
                validate_csrf(request.form.get("csrf_token"))
            except (CSRFError, ValidationError):
                flash(_("页面已过期,请刷新后重试"), "danger")
                return redirect(url_for(".photo", pk=pk))
            upload = request.files.get("photo")
            from app.services import identity

            try:
                identity.attach_reference_photo(customer.id, upload.read() if upload else b"")
            except DomainError as error:
                flash(error.message, "danger")
            else:
                flash(_("已更新 %(name)s 的人脸参考照片", name=customer.name), "success")
                return redirect(url_for(".show", pk=pk))
        return self.render_template("customer_photo.html", customer=customer, csrf=generate_csrf(),
                                    has_photo=bool(customer.reference_photo))

    @expose("/photo/<int:pk>/image")
    @has_access
    @permission_name("show")
    def photo_image(self, pk):
        customer = db.session.get(Customer, pk) or abort(404)
        if not customer.reference_photo:
            abort(404)
        root = os.path.realpath(current_app.config["UPLOAD_DIR"])
        path = os.path.realpath(os.path.join(root, customer.reference_photo))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            abort(404)
        return send_file(path, max_age=0)


class ProductView(PortalModelView):
    entity_label = _l("产品")
    datamodel = datamodel(Product)
    label_columns = {
        "code": _l("产品代码"), "name": _l("产品名称"), "kind": _l("产品类型"),
        "term_years": _l("保险期间(年)"), "revisit_required": _l("需要回访"),
        "hesitation_days": _l("犹豫期(天)"), "loan_allowed": _l("可保单贷款"),
        "loan_ratio": _l("可贷比例"), "has_death_benefit": _l("含身故责任"),
        "annuity_options": _l("年金领取选项"), "is_active": _l("在售"),
        "survival_beneficiary_changeable": _l("可变更生存受益人"),
    }
    choices = {"kind": PRODUCT_KINDS}
    list_columns = ["code", "name", "kind", "revisit_required", "hesitation_days", "loan_allowed", "is_active"]
    search_columns = ["code", "name", "kind", "is_active"]
    edit_columns = ["name", "kind", "term_years", "revisit_required", "hesitation_days", "loan_allowed",
                    "loan_ratio", "has_death_benefit", "annuity_options",
                    "survival_beneficiary_changeable", "is_active"]
    add_columns = ["code"] + edit_columns
    # a new product starts from the 默认犹豫期 setting (系统管理 → 业务参数), not a number in the model
    add_form_extra_fields = {"hesitation_days": IntegerField(
        _l("犹豫期(天)"), default=lambda: business_settings.get("HESITATION_DAYS"),
        validators=[InputRequired()], widget=BS3TextFieldWidget())}


def _who_changed(first):
    """Who made a beneficiary version: the staff member who entered it, the customer whose application
    made it, else the core system (the list the policy was issued with)."""
    if first.created_by is not None:
        return _("%(user)s(员工)", user=first.created_by)
    if first.application is not None and first.application.customer is not None:
        return _("%(name)s(客户本人申请)", name=first.application.customer.name)
    return _("核心系统(承保时)")


def beneficiary_versions(policy_id):
    """Every version of a policy's beneficiary lists, the newest first within each kind: who made it, when
    it took effect and was superseded, through which application, and its people."""
    rows = db.session.query(Beneficiary).filter_by(policy_id=policy_id) \
        .order_by(Beneficiary.kind, Beneficiary.version.desc(), Beneficiary.order, Beneficiary.id).all()
    groups = {}
    for row in rows:
        groups.setdefault((row.kind, row.version), []).append(row)
    versions = []
    for (kind, version), people in groups.items():
        first = people[0]
        versions.append({
            "kind": BENEFICIARY_KINDS.get(kind, kind), "version": version, "by": _who_changed(first),
            "created_at": first.created_at, "superseded_at": first.superseded_at,
            "current": all(person.superseded_at is None for person in people), "application": first.application,
            "people": [{"name": p.name, "relationship": RELATIONSHIPS.get(p.relationship_to_insured,
                                                                          p.relationship_to_insured),
                        "id_type": ID_TYPES.get(p.id_type, p.id_type), "id_number": mask_id_number(p.id_number),
                        "order": p.order, "share": f"{p.share:.2f}%", "legal_heirs": p.is_legal_heirs}
                       for p in people]})
    return versions


def _application_link(application):
    if application is None:
        return ""
    return Markup('<a href="{}">{}</a>').format(url_for("ReviewQueueView.show", application_id=application.id),
                                               application.application_no)


def _user_name(user):
    return "" if user is None else str(user)


class BeneficiaryView(PortalModelView):
    entity_label = _l("受益人")
    datamodel = datamodel(Beneficiary)
    base_permissions = READ_ONLY  # changes go through the 受益人变更 servicing item
    label_columns = {
        "policy": _l("保单"), "kind": _l("受益人类型"), "version": _l("版本"), "name": _l("受益人姓名"),
        "id_type": _l("证件类型"), "id_number": _l("证件号码"), "gender": _l("性别"),
        "birth_date": _l("出生日期"), "id_valid_until": _l("证件有效期"),
        "relationship_to_insured": _l("与被保险人关系"), "order": _l("受益顺序"),
        "share": _l("受益比例(%)"), "created_at": _l("生效时间"), "superseded_at": _l("失效时间"),
        "application": _l("变更申请"), "created_by": _l("录入员工"), "is_legal_heirs": _l("法定继承人"),
    }
    choices = {"kind": BENEFICIARY_KINDS, "id_type": ID_TYPES, "gender": GENDERS,
               "relationship_to_insured": RELATIONSHIPS}
    list_columns = ["policy", "kind", "version", "name", "order", "share", "created_at", "superseded_at",
                    "application", "created_by"]
    show_columns = ["policy", "kind", "version", "name", "id_type", "id_number", "gender", "birth_date",
                    "id_valid_until", "relationship_to_insured", "order", "share", "created_at", "superseded_at",
                    "application", "created_by"]
    search_columns = ["kind", "name"]
    formatters_columns = {"id_number": mask_id_number, "application": _application_link,
                          "created_by": _user_name,
                          "id_valid_until": lambda day: _("长期") if day is None else f"{day:%Y-%m-%d}"}


class PolicyInterface(PortalInterface):
    """The policy's columns plus two computed ones, the contract's end and the records' retention end
    (services/retention.py), loading only the columns they read."""
    COMPUTED = {"contract_end": retention.contract_end_text, "retention_end": retention.describe}

    def is_property_or_function(self, col_name):
        return col_name in self.COMPUTED or super().is_property_or_function(col_name)

    def _apply_normal_col_select_option(self, query, column):
        if column in self.COMPUTED:
            from sqlalchemy.orm import Load

            return query.options(Load(Policy).load_only(Policy.status, Policy.issue_date, Policy.effective_date,
                                                        Policy.contract_ended_on, Policy.product_id))
        return super()._apply_normal_col_select_option(query, column)

    def _get_attr_value(self, item, col):
        if col in self.COMPUTED:
            return self.COMPUTED[col](item)
        return super()._get_attr_value(item, col)


class PolicyView(PortalModelView):
    entity_label = _l("保单")
    datamodel = PolicyInterface(Policy)
    label_columns = POLICY_LABELS
    choices = {"status": POLICY_STATUSES, "channel": CHANNELS, "payment_mode": PAYMENT_MODES,
               "payment_frequency": {"": "", **PAYMENT_FREQUENCIES},
               "annuity_method": {"": "", **ANNUITY_METHODS}}
    list_columns = ["policy_no", "product", "holder", "insured", "issue_date", "status", "premium", "channel",
                    "beneficiaries", "retention_end"]
    show_columns = ["policy_no", "product", "holder", "insured", "holder_relationship", "issue_date",
                    "receipt_signed_date", "effective_date", "status", "channel", "premium", "payment_mode",
                    "payment_frequency", "payment_years", "next_due_date", "sum_assured", "cash_value",
                    "cash_value_date", "annuity_method", "annuity_method_from", "universal_account_no",
                    "claim_reported_at", "contract_end", "retention_end", "beneficiaries", "created_at",
                    "updated_at"]
    formatters_columns = {"beneficiaries": beneficiaries_text,
                          "holder_relationship": lambda v: RELATIONSHIPS.get(v, v) if v else ""}
    search_columns = ["policy_no", "product", "status", "channel", "issue_date", "payment_mode"]
    # policies come from the core system (API / file import), never typed in by hand
    base_permissions = {"can_list", "can_show", "can_edit", "can_download"}  # download: the retention list
    edit_columns = ["status", "receipt_signed_date", "effective_date", "next_due_date", "cash_value",
                    "cash_value_date", "annuity_method", "universal_account_no"]
    related_views = [BeneficiaryView]
    order_columns = ["policy_no", "issue_date", "premium"]
    base_order = ("issue_date", "desc")
    show_template = "policy_show.html"

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """FAB's page plus every beneficiary version: who changed it, when, through which application."""
        widgets = self._show(pk)
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    related_views=self._related_views, versions=beneficiary_versions(int(pk)),
                                    may_download_retention=self.appbuilder.sm.has_access("can_download",
                                                                                         "PolicyView"))

    @expose("/retention.xlsx")
    @has_access
    @permission_name("download")
    def retention_xlsx(self):
        """The policies whose records' retention (ten years after the contract's end) has ended, as an xlsx
        (services/retention.py); an audit event. The archive itself: `flask retention export`."""
        data = retention.expired_xlsx()
        return send_file(io.BytesIO(data), as_attachment=True,
                         download_name=f"retention-expired-{clock.today():%Y%m%d}.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    def pre_update(self, item):
        """The form only gives plain values: services/policy.py checks them by intake's rules and
        writes them (FAB shows a DomainError's message, and then finds nothing left to save)."""
        pk, fields = item.id, {name: getattr(item, name) for name in self.edit_columns}
        db.session.expire(item)  # drop the form's unchecked copy: the service is the one writer
        with unit.work():
            policies.update_policy(pk, fields)
