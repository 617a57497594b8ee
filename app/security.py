"""Security manager: role checks the views share, and the Integration role's API-only rule."""
from flask import request
from flask_appbuilder.security.sqla.manager import SecurityManager

STAFF_ROLES = ("Admin", "Supervisor", "Agent", "Operator", "Auditor", "Integration")
# Roles that see every revisit task; a user with none of them sees only their own.
ALL_TASK_ROLES = {"Admin", "Supervisor", "Auditor", "Operator"}


def role_names(user):
    return {r.name for r in getattr(user, "roles", []) or []}


class PortalSecurityManager(SecurityManager):
    def auth_user_db(self, username, password):
        user = super().auth_user_db(username, password)
        # Integration accounts authenticate only through the REST API's login.
        if user is not None and role_names(user) == {"Integration"} \
                and not request.path.startswith("/api/"):
            return None
        return user
