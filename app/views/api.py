"""REST API (Flask-AppBuilder, JWT) for the core policy system and the call-centre system.

Only the Integration role (and Admin) may call it; see ROLE_PERMISSIONS in app/security.py.
The served OpenAPI spec (/api/v1/_openapi) must tell the truth: tests/fuzz/test_openapi_spec.py
checks every answer against it with Schemathesis.
"""
from flask import jsonify
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.models.policy import Policy
from app.models.revisit import RevisitTask

# Every JWT-protected operation can answer these, whatever its docstring lists.
AUTH_RESPONSES = {"401": {"$ref": "#/components/responses/401"},
                  "403": {"description": "the token's role may not call this operation",
                          "content": {"application/json": {"schema": {
                              "type": "object", "properties": {"message": {"type": "string"}}}}}}}


LOCAL_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$"


class TruthfulSpec:
    """Corrects what Flask-AppBuilder's generated spec says about answers it really gives."""

    def operation_helper(self, path=None, operations=None, methods=None, func=None, **kwargs):
        super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, response in AUTH_RESPONSES.items():
                responses.setdefault(code, response)
            # FAB's get_list declares its ids as strings; they are the integer primary keys
            ids = (responses.get(200, responses.get("200", {})).get("content", {}).get("application/json", {})
                   .get("schema", {}).get("properties", {}).get("ids"))
            if ids:
                ids["items"] = {"type": "integer"}

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        for name, schema in api_spec.components.schemas.items():
            if name.startswith(type(self).__name__):
                for prop in schema.get("properties", {}).values():
                    # DECIMAL columns (money) leave as strings ("12000.00", no float rounding)
                    if prop.get("type") == "number":
                        prop.update(type="string", format="decimal")
                    # times are Asia/Shanghai wall-clock values without an offset, not RFC 3339
                    if prop.get("format") == "date-time":
                        prop.pop("format")
                        prop.update(pattern=LOCAL_TIME, description="Asia/Shanghai time, no offset")


class ReadOnlyModelApi(TruthfulSpec, ModelRestApi):
    """Lists and single records, nothing else: no write routes in the URL map or the spec (FAB would
    document POST/PUT/DELETE that every caller is refused), and no _info (a form helper whose
    generated schema does not match its answer)."""
    allow_browser_login = True
    include_route_methods = {"get", "get_list"}
    base_permissions = {"can_get"}


class PolicyApi(ReadOnlyModelApi):
    resource_name = "policy"
    datamodel = SQLAInterface(Policy)
    list_columns = ["policy_no", "product.code", "holder.customer_no", "insured.customer_no",
                    "issue_date", "status", "premium", "payment_mode"]
    show_columns = list_columns + ["sum_assured", "cash_value", "next_due_date", "channel"]


class RevisitTaskApi(ReadOnlyModelApi):
    resource_name = "revisit_task"
    datamodel = SQLAInterface(RevisitTask)
    list_columns = ["id", "policy.policy_no", "status", "channel", "is_problem",
                    "erevisit_deadline", "hesitation_deadline", "completed_at", "attempt_count"]
    show_columns = list_columns + ["problem_reason", "result_note"]


def _bad_token(reason):
    # flask-jwt-extended answers a malformed or forged token 422; it is a failed authentication
    return jsonify(msg=reason), 401


def register_apis(appbuilder):
    appbuilder.sm.jwt_manager.invalid_token_loader(_bad_token)
    appbuilder.add_api(PolicyApi)
    appbuilder.add_api(RevisitTaskApi)
