"""REST API (Flask-AppBuilder, JWT) for the core policy system and the call-centre system.

Only the Integration role (and Admin) may call it; see FAB_ROLES in config.py.
"""
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.models.policy import Policy
from app.models.revisit import RevisitTask


class PolicyApi(ModelRestApi):
    resource_name = "policy"
    datamodel = SQLAInterface(Policy)
    allow_browser_login = True
    base_permissions = {"can_get", "can_info"}
    list_columns = ["policy_no", "product.code", "holder.customer_no", "insured.customer_no",
                    "issue_date", "status", "premium", "payment_mode"]
    show_columns = list_columns + ["sum_assured", "cash_value", "next_due_date", "channel"]


class RevisitTaskApi(ModelRestApi):
    resource_name = "revisit_task"
    datamodel = SQLAInterface(RevisitTask)
    allow_browser_login = True
    base_permissions = {"can_get", "can_info"}
    list_columns = ["id", "policy.policy_no", "status", "channel", "is_problem",
                    "erevisit_deadline", "hesitation_deadline", "completed_at", "attempt_count"]
    show_columns = list_columns + ["problem_reason", "result_note"]


def register_apis(appbuilder):
    appbuilder.add_api(PolicyApi)
    appbuilder.add_api(RevisitTaskApi)
