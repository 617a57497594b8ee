"""The intake REST API as the core system calls it: JWT login as `integration`, JSON in and out."""
from app.extensions import db
from app.models import Policy, RevisitTask
from tests.conftest import PASSWORD
from tests.services.test_intake import policy_row


def token(client, username="integration"):
    reply = client.post("/api/v1/security/login", json={"username": username, "password": PASSWORD,
                                                          "provider": "db", "refresh": False})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return {"Authorization": "Bearer " + reply.get_json()["access_token"]}


def test_report_is_idempotent_on_the_policy_number(seeded, client):
    headers = token(client)
    body = {"policies": [policy_row("990000000000001"), policy_row("990000000000002")]}
    first = client.post("/api/v1/intake/policies", json=body, headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert sorted(first.get_json()["created"]) == ["990000000000001", "990000000000002"]
    assert first.get_json()["tasks_created"] == 2
    second = client.post("/api/v1/intake/policies", json=body, headers=headers)
    assert second.status_code == 200
    assert second.get_json()["created"] == [] and len(second.get_json()["unchanged"]) == 2
    db.session.rollback()
    assert db.session.query(Policy).filter(Policy.policy_no.like("9900%")).count() == 2
    assert db.session.query(RevisitTask).join(Policy).filter(Policy.policy_no.like("9900%")).count() == 2


def test_a_bad_row_is_reported_by_index_and_nothing_is_stored(seeded, client):
    headers = token(client)
    bad = policy_row("990000000000002", issue_date="2026/13/01")
    reply = client.post("/api/v1/intake/policies", json={"policies": [policy_row(), bad]}, headers=headers)
    assert reply.status_code == 422
    data = reply.get_json()
    assert data["errors"][0]["index"] == 2 and data["errors"][0]["policy_no"] == "990000000000002"
    assert "承保日期不是有效日期" in data["errors"][0]["errors"][0]
    db.session.rollback()
    assert db.session.query(Policy).filter(Policy.policy_no.like("9900%")).count() == 0


def test_malformed_body_and_missing_token(seeded, client):
    assert client.post("/api/v1/intake/policies", json={"policies": []}).status_code == 401
    headers = token(client)
    reply = client.post("/api/v1/intake/policies", data="not json", headers=headers)
    assert reply.status_code == 400 and "policies" in reply.get_json()["message"]
    assert client.post("/api/v1/intake/policies", json={"policies": []}, headers=headers).status_code == 400


def test_other_roles_may_not_report(seeded, client):
    # staff roles get no token at the API login ...
    refused = client.post("/api/v1/security/login", json={"username": "agent1", "password": PASSWORD,
                                                            "provider": "db"})
    assert refused.status_code == 401
    # ... and a token of theirs (say, issued before they changed role) may not report
    from flask import current_app
    from flask_jwt_extended import create_access_token

    agent_id = current_app.appbuilder.sm.find_user(username="agent1").id
    headers = {"Authorization": "Bearer " + create_access_token(identity=str(agent_id), fresh=True)}
    reply = client.post("/api/v1/intake/policies", json={"policies": [policy_row()]}, headers=headers)
    assert reply.status_code == 403


def test_openapi_spec_describes_the_endpoint(seeded, client):
    headers = token(client)
    spec = client.get("/api/v1/_openapi", headers=headers)
    assert spec.status_code == 200
    body = spec.get_json()
    assert "post" in body["paths"]["/api/v1/intake/policies"]
    assert "IntakePolicy" in body["components"]["schemas"]
