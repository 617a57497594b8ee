"""Evidence pack downloads (issue 15 point 3) from the back-office pages: an Auditor or a Supervisor (and Admin)
gets the ZIP of a policy, a revisit task or an application; an Agent gets 403; every download is an audit event.

The grant of (can_download, EvidencePackView) to Supervisor and Auditor belongs in app/security.py's
ROLE_PERMISSIONS (the lead's file); until it is there the `grants` fixture adds it for these tests and takes it
away again, so tests/views/test_permissions.py sees the database as `flask portal init` leaves it."""
import hashlib
import io
import json
import zipfile

import pytest

from app.extensions import db
from app.models import AuditEvent, Policy, RevisitTask
from tests.conftest import login
from tests.services.test_evidence import ZHANG_POLICY, drive_erevisit, pdf_text
from tests.views.test_customer_revisit import invited, linked  # noqa: F401

PERMISSION, VIEW = "can_download", "EvidencePackView"


@pytest.fixture
def grants(app):
    sm = app.appbuilder.sm
    pv = sm.find_permission_view_menu(PERMISSION, VIEW) or sm.add_permission_view_menu(PERMISSION, VIEW)
    added = []
    for name in ("Supervisor", "Auditor"):
        role = sm.find_role(name)
        if pv not in role.permissions:
            sm.add_permission_role(role, pv)
            added.append(name)
    yield
    pv = sm.find_permission_view_menu(PERMISSION, VIEW)
    for name in added:
        sm.del_permission_role(sm.find_role(name), pv)


@pytest.fixture
def revisited(invited, client):
    drive_erevisit(client, invited["C0001"])
    client.get("/logout/")
    return db.session.query(Policy).filter_by(policy_no=ZHANG_POLICY).one()


def _events(entity, entity_id):
    db.session.expire_all()
    return db.session.query(AuditEvent).filter_by(action="export", entity=entity, entity_id=str(entity_id)).all()


def test_the_auditor_downloads_the_policy_pack_and_the_download_is_audited(grants, revisited, client):
    login(client, "auditor")
    page = client.get(f"/policyview/show/{revisited.id}").get_data(as_text=True)
    assert 'id="evidence-download"' in page and f"/evidence/policy/{revisited.id}.zip" in page
    assert "下载证据包" in page
    reply = client.get(f"/evidence/policy/{revisited.id}.zip")
    assert reply.status_code == 200 and reply.mimetype == "application/zip"
    assert f"evidence-policy-{revisited.id}.zip" in reply.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(reply.data))
    assert {"summary.pdf", "manifest.json", "manifest.sig"} <= set(archive.namelist())
    assert any(n.startswith("files/identity/") for n in archive.namelist())
    text = pdf_text(archive.read("summary.pdf")).replace("\n", "")
    assert ZHANG_POLICY in text and "人脸核验" in text and "提交回访答案" in text

    [event] = _events("policy", revisited.id)
    assert event.actor_name == "auditor" and event.ip == "127.0.0.1"
    assert event.after["manifest_sha256"] == hashlib.sha256(archive.read("manifest.json")).hexdigest()
    assert event.after["files"] == len(json.loads(archive.read("manifest.json"))["files"])
    assert event.after["evidence_pack"] == f"保单 {ZHANG_POLICY}"


def test_the_supervisor_downloads_a_task_pack(grants, revisited, client):
    task = db.session.query(RevisitTask).filter_by(policy_id=revisited.id).one()
    login(client, "supervisor")
    page = client.get(f"/revisittaskview/show/{task.id}").get_data(as_text=True)
    assert f"/evidence/task/{task.id}.zip" in page
    reply = client.get(f"/evidence/task/{task.id}.zip")
    assert reply.status_code == 200
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(reply.data)).read("manifest.json"))
    assert manifest["subject"]["kind"] == "task" and manifest["created_by"] == "supervisor"
    assert len(_events("revisit_task", task.id)) == 1
    assert client.get("/evidence/task/999999.zip").status_code == 404


def test_an_agent_gets_403_and_no_button(grants, revisited, client):
    task = db.session.query(RevisitTask).filter_by(policy_id=revisited.id).one()
    login(client, "agent1")
    for url in (f"/evidence/policy/{revisited.id}.zip", f"/evidence/task/{task.id}.zip", "/evidence/application/1.zip"):
        assert client.get(url).status_code == 403, url
    assert _events("policy", revisited.id) == [] and _events("revisit_task", task.id) == []


def test_the_operator_has_no_button_on_the_policy_page(grants, revisited, client):
    login(client, "operator")
    page = client.get(f"/policyview/show/{revisited.id}")
    assert page.status_code == 200 and 'id="evidence-download"' not in page.get_data(as_text=True)
    assert client.get(f"/evidence/policy/{revisited.id}.zip").status_code == 403


def test_a_completed_application_pack_holds_its_slip(grants, seeded, client, monkeypatch):
    from app.services import annuity
    from tests.services.test_slip import ANNUITY
    from tests.views.test_slip_pages import done_annuity

    monkeypatch.setattr(annuity, "changes", lambda application: [
        {"policy_no": ANNUITY, "label": "年金领取方式", "before": "累积生息", "after": "转入万能账户"}])
    application_id = done_annuity()
    login(client, "auditor")
    page = client.get(f"/review-queue/{application_id}").get_data(as_text=True)
    assert f"/evidence/application/{application_id}.zip" in page
    reply = client.get(f"/evidence/application/{application_id}.zip")
    assert reply.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(reply.data))
    slips = [n for n in archive.namelist() if n.startswith("slips/")]
    assert len(slips) == 1 and archive.read(slips[0]).startswith(b"%PDF")
    text = pdf_text(archive.read("summary.pdf")).replace("\n", "")
    for words in ("保全申请提交", "年金领取方式变更", "校验项", "批单"):
        assert words in text, words
    assert len(_events("servicing_application", application_id)) == 1
