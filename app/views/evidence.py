"""Evidence pack downloads (issue 15 point 3): /evidence/policy/<id>.zip, /evidence/task/<id>.zip and
/evidence/application/<id>.zip, one permission (can_download on EvidencePackView) that app/security.py grants
to Supervisor and Auditor (Admin holds every permission; an Agent gets 403). Each download is an audit event
(导出) with the pack's subject, its manifest's SHA-256 and its file count. app/services/evidence.py builds it.

register_evidence() also refuses to start in production without EVIDENCE_SIGNING_KEY, and with a key that
cannot be read anywhere."""
from flask import Response, abort, current_app, g
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name

from app.extensions import db
from app.services import audit, evidence

ENTITIES = {"policy": "policy", "task": "revisit_task", "application": "servicing_application"}


class EvidencePackView(BaseView):
    route_base = "/evidence"
    default_view = "policy"
    base_permissions = ["can_download"]

    @staticmethod
    def may_download():
        """For the pages' buttons: the signed-in user holds can_download here."""
        return current_app.appbuilder.sm.has_access("can_download", EvidencePackView.__name__)

    def _download(self, kind, subject_id):
        actor = getattr(g.user, "username", None)
        built = evidence.build(kind, subject_id, actor=actor)
        if built is None:
            abort(404)
        data, manifest = built
        audit.record(db.session, "export", ENTITIES[kind], subject_id, None, {
            "evidence_pack": manifest["subject"]["label"], "file_name": evidence.file_name(kind, subject_id),
            "manifest_sha256": manifest["sha256"], "files": len(manifest["files"]), "size": len(data),
            "key_id": manifest["signing"]["key_id"]})
        db.session.commit()
        return Response(data, mimetype="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{evidence.file_name(kind, subject_id)}"',
            "Cache-Control": "no-store"})

    @expose("/policy/<int:policy_id>.zip")
    @has_access
    @permission_name("download")
    def policy(self, policy_id):
        return self._download("policy", policy_id)

    @expose("/task/<int:task_id>.zip")
    @has_access
    @permission_name("download")
    def task(self, task_id):
        return self._download("task", task_id)

    @expose("/application/<int:application_id>.zip")
    @has_access
    @permission_name("download")
    def application(self, application_id):
        return self._download("application", application_id)


def check_signing_key(config):
    """ConfigurationError (app/__init__.py's) for production without EVIDENCE_SIGNING_KEY, or an unreadable key."""
    from app import ConfigurationError

    if config.get("PORTAL_ENV") == "production" and not config.get("EVIDENCE_SIGNING_KEY"):
        raise ConfigurationError(
            "EVIDENCE_SIGNING_KEY must be set in production: an Ed25519 private key (PEM, or the 32 raw bytes "
            "in base64) that signs the evidence packs; e.g. python -c 'import base64,os; "
            "print(base64.b64encode(os.urandom(32)).decode())'")
    try:
        evidence.signing_key(config)  # unset: derived from SECRET_KEY, as the manifest and the summary say
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"EVIDENCE_SIGNING_KEY cannot be read: {exc}") from exc


def register_evidence(appbuilder):
    check_signing_key(current_app.config)
    appbuilder.add_view_no_menu(EvidencePackView)
    current_app.add_template_global(EvidencePackView.may_download, "may_download_evidence")
