"""Sign-in doors, sessions and headers (issue 9, holes 2, 7 and 8)."""
import re

import pytest

from tests.conftest import PASSWORD, csrf_token, login

pytestmark = pytest.mark.smoke


def _api_login(client, username, password, address="10.0.0.1"):
    return client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db"},
        environ_base={"REMOTE_ADDR": address})


def test_api_login_is_rate_limited_per_address(seeded, client):
    codes = [_api_login(client, f"nobody{i}", "guess").status_code for i in range(12)]
    assert codes[0] == 401
    assert codes[-1] == 429
    # another address is not affected
    assert _api_login(client, "integration", PASSWORD, address="10.0.0.2").status_code == 200


def test_an_account_locks_after_failures_from_many_addresses(seeded, client, app):
    for i in range(5):
        assert _api_login(client, "integration", "wrong", address=f"10.1.0.{i}").status_code == 401
    # the right password from a fresh address is refused while the lock holds ...
    assert _api_login(client, "integration", PASSWORD, address="10.2.0.1").status_code == 401
    # ... and on the login page too, with a Chinese word why
    page = client.get("/login/", environ_base={"REMOTE_ADDR": "10.3.0.1"})
    reply = client.post("/login/", data={"username": "integration", "password": PASSWORD,
                                         "csrf_token": csrf_token(page.get_data(as_text=True))},
                        environ_base={"REMOTE_ADDR": "10.3.0.1"}, follow_redirects=True)
    assert "锁定" in reply.get_data(as_text=True)
    # other accounts are not locked
    assert _api_login(client, "admin", "wrong", address="10.4.0.1").status_code == 401
    assert "注销" in login(client, "admin").get_data(as_text=True)


@pytest.mark.parametrize("username", ["admin", "supervisor", "agent1", "operator", "auditor"])
def test_only_api_roles_get_a_token(seeded, client, username):
    assert _api_login(client, username, PASSWORD).status_code == 401


def test_integration_gets_a_token(seeded, client):
    reply = _api_login(client, "integration", PASSWORD)
    assert reply.status_code == 200 and reply.get_json()["access_token"]


def test_a_cookie_copied_before_sign_out_no_longer_works(seeded, app):
    browser = app.test_client()
    login(browser, "supervisor")
    assert browser.get("/policyview/list/").status_code == 200
    copied = browser.get_cookie("session").value
    browser.get("/logout/")
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/policyview/list/").status_code == 302
    assert "注销" not in thief.get("/").get_data(as_text=True)


def test_sign_in_gets_a_new_session_id(seeded, app):
    browser = app.test_client()
    browser.get("/login/")
    before = browser.get_cookie("session").value
    login(browser, "auditor")
    assert browser.get_cookie("session").value != before


def test_an_admin_password_reset_ends_the_users_sessions(seeded, app):
    agent = app.test_client()
    login(agent, "agent1")
    assert agent.get("/workbench/").status_code == 200
    admin = app.test_client()
    login(admin, "admin")
    from flask import current_app

    agent_id = current_app.appbuilder.sm.find_user(username="agent1").id
    page = admin.get(f"/resetpassword/form?pk={agent_id}").get_data(as_text=True)
    admin.post(f"/resetpassword/form?pk={agent_id}", data={
        "csrf_token": csrf_token(page), "password": "Reset@2026xyz", "conf_password": "Reset@2026xyz"})
    assert agent.get("/workbench/").status_code == 302


def test_customer_sign_out_revokes_the_session(seeded, app):
    """The /my/ pages keep the customer in a server-side session: signing out ends it."""
    from tests.views.test_account import sign_in

    browser = app.test_client()
    sign_in(browser)
    assert browser.get("/my/").status_code == 200
    copied = browser.get_cookie("session").value
    token = csrf_token(browser.get("/my/").get_data(as_text=True))
    assert browser.post("/my/signout", data={"csrf_token": token}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/my/").status_code == 302


SECURITY_PAGES = ["/login/", "/my/signin", "/s/NOSUCHCODE"]


@pytest.mark.parametrize("path", SECURITY_PAGES)
def test_security_headers(seeded, client, path):
    reply = client.get(path)
    policy = reply.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", policy).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in policy
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "same-origin"
    assert "Server" not in reply.headers or not re.search(r"\d", reply.headers["Server"])


def test_every_inline_script_carries_the_pages_nonce(seeded, client):
    login(client, "admin")
    for path in ("/", "/policyview/list/", "/revisittaskview/list/", "/supervision/", "/revisit-dashboard/",
                 "/users/userinfo/", "/resetmypassword/form", "/my/signin"):
        reply = client.get(path)
        nonce = re.search(r"'nonce-([^']+)'", reply.headers["Content-Security-Policy"]).group(1)
        for tag in re.findall(r"<script\b[^>]*>", reply.get_data(as_text=True)):
            if "src=" in tag or 'type="application/json"' in tag:
                continue
            assert f'nonce="{nonce}"' in tag, (path, tag)


def test_hsts_in_production_only(servers, seeded, client):
    from app import create_app
    from tests.conftest import make_config

    assert "Strict-Transport-Security" not in client.get("/login/").headers
    production = create_app(make_config(servers, PORTAL_ENV="production", SMS_REPORT_TOKEN="t" * 32,
                                        DATA_ENCRYPTION_KEYS="VGhpcy1pcy1hLTMyLWJ5dGUtdGVzdC1rZXktMDAwMDA=",
                                        DATA_HASH_KEY="h" * 32,
                                        EVIDENCE_SIGNING_KEY="ZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWU="))
    # behind the load balancer the request arrives as https (ProxyFix / X-Forwarded-Proto)
    reply = production.test_client().get("/login/", base_url="https://portal.example")
    assert "max-age=31536000" in reply.headers["Strict-Transport-Security"]


def test_production_hashes_passwords_with_scrypt(seeded, app, monkeypatch):
    """The tests seed users with a cheap hash; the portal's own setting stays scrypt."""
    import config
    from flask import current_app
    from werkzeug.security import check_password_hash

    assert config.FAB_PASSWORD_HASH_METHOD == "scrypt"
    monkeypatch.setitem(app.config, "FAB_PASSWORD_HASH_METHOD", config.FAB_PASSWORD_HASH_METHOD)
    sm = current_app.appbuilder.sm
    sm.reset_password(sm.find_user(username="auditor").id, "Scrypt@2026abc")
    stored = sm.find_user(username="auditor").password
    assert stored.startswith("scrypt:") and check_password_hash(stored, "Scrypt@2026abc")
