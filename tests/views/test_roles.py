"""Each role sees and may do exactly what DOMAIN.md gives it, through the real web UI."""
import pytest

from app.extensions import db
from app.models.policy import Policy
from app.models.revisit import RevisitTask
from tests.conftest import csrf_token, login
from tests.factories import make_task

# the three faces also run on the embedded default (SQLite) in `make test`
pytestmark = pytest.mark.smoke


def test_every_demo_user_can_sign_in(seeded, client):
    for username in ("admin", "supervisor", "agent1", "agent2", "operator", "auditor"):
        page = login(client, username)
        assert "注销" in page.get_data(as_text=True), username
        client.get("/logout/")


def test_wrong_password_is_refused_in_chinese(seeded, client):
    page = login(client, "admin", "wrong-password")
    assert "用户名或密码错误" in page.get_data(as_text=True) or "登录" in page.get_data(as_text=True)
    assert client.get("/policyview/list/").status_code in (302, 401, 403)


def test_integration_user_cannot_use_the_web_ui(seeded, client):
    page = login(client, "integration")
    assert client.get("/policyview/list/", follow_redirects=False).status_code in (302, 401, 403)
    assert "注销" not in page.get_data(as_text=True)


def test_integration_user_reads_policies_through_the_api(seeded, client):
    token = client.post("/api/v1/security/login", json={
        "username": "integration", "password": "Test@Pass2026", "provider": "db"}).get_json()["access_token"]
    reply = client.get("/api/v1/policy/", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    numbers = {row["policy_no"] for row in reply.get_json()["result"]}
    assert "880000001522216" in numbers


def test_agent_sees_only_own_tasks_and_is_refused_another_agents_task(seeded, client):
    own = make_task("880000001522216", assignee="agent1")
    other = make_task("86000001296920", assignee="agent2")
    login(client, "agent1")
    listing = client.get("/revisittaskview/list/").get_data(as_text=True)
    assert "880000001522216" in listing
    assert "86000001296920" not in listing
    assert client.get(f"/revisittaskview/show/{own}").status_code == 200
    refused = client.get(f"/revisittaskview/show/{other}", follow_redirects=True)
    assert "86000001296920" not in refused.get_data(as_text=True)
    # and agents have no business in the policy admin at all
    assert client.get("/policyview/list/", follow_redirects=False).status_code in (302, 403)


def test_supervisor_sees_every_task(seeded, client):
    make_task("880000001522216", assignee="agent1")
    make_task("86000001296920", assignee="agent2")
    login(client, "supervisor")
    listing = client.get("/revisittaskview/list/").get_data(as_text=True)
    assert "880000001522216" in listing and "86000001296920" in listing


def test_auditor_reads_but_cannot_edit(seeded, client):
    policy_id = db.session.query(Policy.id).filter_by(policy_no="880000001522216").scalar()
    login(client, "auditor")
    assert client.get("/policyview/list/").status_code == 200
    assert client.get(f"/policyview/show/{policy_id}").status_code == 200
    assert client.get("/auditeventview/list/").status_code == 200
    form = client.get(f"/policyview/edit/{policy_id}", follow_redirects=False)
    assert form.status_code in (302, 403)
    client.post(f"/policyview/edit/{policy_id}", data={"status": "TERMINATED"})
    db.session.expire_all()
    assert db.session.get(Policy, policy_id).status == "IN_FORCE"


@pytest.mark.parametrize("username", ["admin", "supervisor", "operator", "auditor"])
def test_nobody_can_delete_a_policy(seeded, client, username):
    policy_id = db.session.query(Policy.id).filter_by(policy_no="880000001522216").scalar()
    login(client, username)
    client.post(f"/policyview/delete/{policy_id}", data={"csrf_token": client.csrf})
    client.get(f"/policyview/delete/{policy_id}")
    db.session.expire_all()
    assert db.session.get(Policy, policy_id) is not None


def test_admin_edit_writes_an_audit_event_with_before_after_and_user(seeded, client):
    from app.models.audit import AuditEvent

    policy_id = db.session.query(Policy.id).filter_by(policy_no="880000001522216").scalar()
    login(client, "operator")
    form = client.get(f"/policyview/edit/{policy_id}").get_data(as_text=True)
    reply = client.post(f"/policyview/edit/{policy_id}", data={
        "csrf_token": csrf_token(form), "status": "SUSPENDED", "cash_value": "1234.50",
        "annuity_method": "", "universal_account_no": ""}, follow_redirects=True)
    assert reply.status_code == 200
    db.session.expire_all()
    assert db.session.get(Policy, policy_id).status == "SUSPENDED"
    event = db.session.query(AuditEvent).filter_by(entity="policy", entity_id=str(policy_id),
                                                   action="update").one()
    assert event.actor_name == "operator"
    assert event.before["status"] == "IN_FORCE" and event.after["status"] == "SUSPENDED"
    assert event.after["cash_value"] == "1234.50"


def test_edit_without_csrf_token_changes_nothing(seeded, client):
    policy_id = db.session.query(Policy.id).filter_by(policy_no="880000001522216").scalar()
    login(client, "admin")
    client.post(f"/policyview/edit/{policy_id}", data={"status": "TERMINATED"})
    db.session.expire_all()
    assert db.session.get(Policy, policy_id).status == "IN_FORCE"


def test_revisit_task_rows_cannot_be_deleted_even_in_code(seeded):
    from app.services.audit import DeletionForbidden

    task_id = make_task("880000001522216")
    with pytest.raises(DeletionForbidden):
        db.session.delete(db.session.get(RevisitTask, task_id))
        db.session.flush()
    db.session.rollback()
    with pytest.raises(DeletionForbidden):
        db.session.query(RevisitTask).filter_by(id=task_id).delete()
    db.session.rollback()


def test_login_attempts_are_rate_limited(seeded, client):
    page = client.get("/login/").get_data(as_text=True)
    token = csrf_token(page)
    codes = [client.post("/login/", data={"username": "admin", "password": f"guess{i}",
                                           "csrf_token": token}).status_code for i in range(12)]
    assert codes[0] != 429
    assert codes[-1] == 429
