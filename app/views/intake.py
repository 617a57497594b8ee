"""Policy intake: the core system's REST API (JWT, role Integration) and the operators' file import.

Both call app/services/intake/, so a row is validated and stored by the same rules either way.
"""
from flask import flash, request
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, protect, safe
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from app.services import intake
from app.services.errors import DomainError
from app.views.api import TruthfulSpec

PERSON_SCHEMA = {
    "type": "object",
    "required": ["name", "id_number"],
    "properties": {
        "name": {"type": "string", "example": "张德强"},
        "id_type": {"type": "string", "default": "RESIDENT_ID",
                    "description": "RESIDENT_ID / HMT_PERMIT / FOREIGN_PR / HOUSEHOLD / PASSPORT / "
                                   "HK_MACAO_PASS / TAIWAN_PASS / BIRTH_CERT"},
        "id_number": {"type": "string", "example": "110105197803140033"},
        "gender": {"type": "string", "enum": ["M", "F"], "description": "derived from a resident ID"},
        "birth_date": {"type": "string", "format": "date", "description": "derived from a resident ID"},
        "mobile": {"type": "string", "example": "13800138001", "description": "required for the holder"},
        "customer_no": {"type": "string"},
    },
}
POLICY_SCHEMA = {
    "type": "object",
    "required": ["policy_no", "product_code", "issue_date", "premium", "payment_mode", "sum_assured", "holder"],
    "properties": {
        "policy_no": {"type": "string", "example": "880000001522216"},
        "product_code": {"type": "string", "example": "AXH01"},
        "issue_date": {"type": "string", "format": "date"},
        "receipt_signed_date": {"type": "string", "format": "date"},
        "effective_date": {"type": "string", "format": "date"},
        "status": {"type": "string", "enum": ["IN_FORCE", "SUSPENDED", "TERMINATED"], "default": "IN_FORCE"},
        "terminated_on": {"type": "string", "format": "date",
                          "description": "the day the contract ended (status TERMINATED; ignored otherwise)"},
        "channel": {"type": "string", "enum": ["OFFICIAL_ACCOUNT", "OFFLINE"], "default": "OFFLINE"},
        "premium": {"type": "string", "example": "12000.00", "description": "decimal, 2 places"},
        "payment_mode": {"type": "string", "enum": ["SINGLE", "REGULAR"]},
        "payment_frequency": {"type": "string", "enum": ["YEARLY", "HALF_YEARLY", "QUARTERLY", "MONTHLY"]},
        "payment_years": {"type": "integer"},
        "next_due_date": {"type": "string", "format": "date"},
        "sum_assured": {"type": "string", "example": "240000.00"},
        "cash_value": {"type": "string"},
        "holder": PERSON_SCHEMA,
        "insured": {**PERSON_SCHEMA, "description": "omitted: the holder insures themself"},
        "beneficiaries": {"type": "array", "items": {"type": "object", "properties": {
            "kind": {"type": "string", "enum": ["DEATH", "SURVIVAL"]},
            "name": {"type": "string"}, "id_type": {"type": "string"}, "id_number": {"type": "string"},
            "gender": {"type": "string"}, "birth_date": {"type": "string", "format": "date"},
            "id_valid_until": {"type": "string", "format": "date"},
            "relationship": {"type": "string", "enum": ["SELF", "SPOUSE", "CHILD", "PARENT", "SIBLING",
                                                          "GRANDPARENT", "OTHER"]},
            "order": {"type": "integer"}, "share": {"type": "string", "example": "100"}}}},
    },
}


class PolicyIntakeApi(TruthfulSpec, BaseApi):
    """POST /api/v1/intake/policies: the core system reports issued policies."""
    resource_name = "intake"
    openapi_spec_tag = "Policy intake"
    method_permission_name = {"report_policies": "post", "report_claim": "post"}
    openapi_spec_component_schemas = ()
    openapi_spec_methods = {}

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        for name, schema in (("IntakePerson", PERSON_SCHEMA), ("IntakePolicy", POLICY_SCHEMA)):
            if name not in api_spec.components.schemas:
                api_spec.components.schema(name, schema)

    @expose("/policies", methods=["POST"])
    @protect()
    @safe
    def report_policies(self):
        """Report issued policies; idempotent on policy_no, all or nothing.
        ---
        post:
          summary: Report issued policies (at most 5000 a request)
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [policies]
                  properties:
                    policies:
                      type: array
                      minItems: 1
                      maxItems: 5000
                      items:
                        $ref: '#/components/schemas/IntakePolicy'
          responses:
            200:
              description: Every policy stored; which were created, updated or unchanged
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      created: {type: array, items: {type: string}}
                      updated: {type: array, items: {type: string}}
                      unchanged: {type: array, items: {type: string}}
                      tasks_created: {type: integer}
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            422:
              description: Nothing stored; the rows in error (index from 1) and their reasons
        """
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict) or not isinstance(payload.get("policies"), list):
            return self.response_400(message=_("请求体应为 JSON 对象,policies 为保单数组"))
        try:
            result = intake.import_rows(payload["policies"], first_line=1, source="api")
        except intake.IntakeRejected as rejected:
            return self.response(422, message=rejected.message,
                                 errors=[{"index": e["line"], "policy_no": e["policy_no"], "errors": e["errors"]}
                                         for e in rejected.errors])
        except DomainError as err:
            return self.response_400(message=err.message)
        return self.response(200, **result)


    @expose("/claims", methods=["POST"])
    @protect()
    @safe
    def report_claim(self):
        """Report an insured event (报案) on a policy: it takes no beneficiary change from then on.
        ---
        post:
          summary: Report a claim on a policy (sets its claim flag; idempotent)
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [policy_no]
                  properties:
                    policy_no: {type: string, example: "860007775808888"}
                    reported_at: {type: string, format: date-time, description: "default: now"}
          responses:
            200:
              description: The policy's claim flag
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      policy_no: {type: string}
                      claim_reported_at: {type: string, format: date-time}
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict) or not isinstance(payload.get("policy_no"), str):
            return self.response_400(message=_("请求体应为 JSON 对象,policy_no 为保险单号"))
        try:
            policy = intake.report_claim(payload["policy_no"], payload.get("reported_at"))
        except DomainError as err:
            return self.response(err.status, message=err.message)
        return self.response(200, policy_no=policy.policy_no,
                             claim_reported_at=policy.claim_reported_at.isoformat(timespec="seconds"))


class ImportForm(FlaskForm):
    file = FileField(_l("保单文件(CSV 或 Excel .xlsx)"), validators=[FileRequired()])


class PolicyImportView(BaseView):
    """Operators upload a CSV or .xlsx of issued policies; a file with any bad row imports nothing."""
    route_base = "/policy-import"
    default_view = "form"
    # importing is adding policies: the roles that may add a policy may import
    class_permission_name = "PolicyImportView"  # its own permission: sharing PolicyView's would let
    # `portal init` drop list/show/edit from PolicyView (FAB syncs a view name to one class)
    method_permission_name = {"form": "add"}

    @expose("/", methods=["GET", "POST"])
    @has_access
    def form(self):
        form = ImportForm()
        result, rejected, error = None, None, None
        if request.method == "POST":
            if form.validate_on_submit():
                data = form.file.data.read(intake.MAX_FILE_BYTES + 1)
                try:
                    if len(data) > intake.MAX_FILE_BYTES:
                        raise DomainError("import_file_too_large", mb=intake.MAX_FILE_BYTES // 2 ** 20)
                    result = intake.import_file(data, source=f"file:{form.file.data.filename}"[:64])
                    flash(_("导入成功:新增 %(c)s 张,更新 %(u)s 张,未变 %(n)s 张保单",
                            c=len(result["created"]), u=len(result["updated"]), n=len(result["unchanged"])),
                          "success")
                except intake.IntakeRejected as exc:
                    rejected, error = exc.errors, exc.message
                except DomainError as exc:
                    error = exc.message
            else:
                error = _("请选择要上传的文件") if "file" in form.errors else _("表单已过期,请刷新页面后重试")
            if error:
                flash(error, "danger")
        return self.render_template("intake/import.html", form=form, result=result, rejected=rejected,
                                    columns=intake.LISTED_COLUMNS, beneficiaries=intake.FILE_BENEFICIARIES,
                                    required=intake.REQUIRED_COLUMNS,
                                    status=422 if rejected or error else 200), 422 if (rejected or error) else 200


def register_intake(appbuilder):
    appbuilder.add_api(PolicyIntakeApi)
    appbuilder.add_view(PolicyImportView, "PolicyImport", label=_l("保单导入"), icon="fa-upload",
                        category="PolicyAdmin", category_label=_l("保单管理"))
