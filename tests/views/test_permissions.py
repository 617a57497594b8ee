"""Role permissions: what the database holds after `flask portal init` is exactly the README's list;
each role may do what it is given and nothing more (issue 9, hole 1 and 10)."""
import re
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models.revisit import RevisitTask
from app.security import ROLE_PERMISSIONS, role_permissions, sync_roles
from tests.conftest import PASSWORD, csrf_token, login
from tests.factories import make_task

pytestmark = pytest.mark.smoke

README = Path(__file__).resolve().parents[2] / "README.md"
WEB_USERS = {"admin": "Admin", "supervisor": "Supervisor", "agent1": "Agent", "operator": "Operator",
             "auditor": "Auditor"}


def documented_permissions():
    """{role: {(view, permission)}} from README.md's "Role permissions" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Role permissions", 1)[1].split("\n## ", 1)[0]
    roles, role = {}, None
    for line in section.splitlines():
        heading = re.fullmatch(r"\*\*(\w+)\*\*", line.strip())
        if heading and heading.group(1) in ROLE_PERMISSIONS:
            role = heading.group(1)
            roles[role] = set()
            continue
        if role is None or not line.startswith("- "):
            continue
        menus = re.match(r"- menus \(`menu_access`\): (.+)$", line)
        if menus:
            roles[role] |= {(name.strip(), "menu_access") for name in menus.group(1).split(",")}
            continue
        grant = re.match(r"- `(\w+)`: (.+)$", line)
        assert grant, f"README line not understood: {line}"
        roles[role] |= {(grant.group(1), perm.strip()) for perm in grant.group(2).split(",")}
    return roles


def test_database_holds_exactly_the_documented_permissions(app):
    sync_roles(app.appbuilder)  # what `flask portal init` runs; twice changes nothing
    held = role_permissions(app.appbuilder.sm)
    documented = documented_permissions()
    assert set(documented) == set(ROLE_PERMISSIONS)
    for role, pairs in documented.items():
        assert held[role] == pairs, role
    assert held["Public"] == set()
    every = {(pv.view_menu.name, pv.permission.name)
             for pv in app.appbuilder.sm.session.query(app.appbuilder.sm.permissionview_model)}
    assert held["Admin"] == every
    # only Admin manages users, roles and other people's passwords
    security_views = {"ResetPasswordView", "RoleModelView", "PermissionModelView", "ViewMenuModelView",
                      "PermissionViewModelView", "UserGroupModelView", "UserStatsChartView"}
    for role, pairs in held.items():
        if role == "Admin":
            continue
        assert not {view for view, _ in pairs} & security_views, role
        user_admin = {perm for view, perm in pairs if view == "UserDBModelView"}
        assert user_admin <= {"can_userinfo", "resetmypassword", "userinfoedit"}, role


def test_a_permission_listed_for_a_role_but_offered_by_no_view_stops_init(app, monkeypatch):
    from app import security

    monkeypatch.setitem(security.ROLE_PERMISSIONS, "Agent", {"NoSuchView": ("can_list",)})
    with pytest.raises(security.RoleDefinitionError):
        security.sync_roles(app.appbuilder)
    db.session.rollback()
    monkeypatch.undo()
    security.sync_roles(app.appbuilder)


def _user_id(name):
    return app_sm().find_user(username=name).id


def app_sm():
    from flask import current_app

    return current_app.appbuilder.sm


def test_supervisor_cannot_reset_admins_password(seeded, client):
    admin_id = _user_id("admin")
    login(client, "supervisor")
    assert client.get(f"/resetpassword/form?pk={admin_id}").status_code in (302, 403)
    client.post(f"/resetpassword/form?pk={admin_id}", data={
        "csrf_token": client.csrf, "password": "Takeover@2026x", "conf_password": "Takeover@2026x"})
    db.session.expire_all()
    assert check_password_hash(app_sm().find_user(username="admin").password, PASSWORD)
    for url in ("/users/list/", f"/users/edit/{admin_id}", "/roles/list/", "/users/add"):
        assert client.get(url).status_code in (302, 403), url


def test_admin_can_reset_another_users_password(seeded, client):
    agent_id = _user_id("agent1")
    login(client, "admin")
    page = client.get(f"/resetpassword/form?pk={agent_id}")
    assert page.status_code == 200
    client.post(f"/resetpassword/form?pk={agent_id}", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "password": "Reset@2026xyz",
        "conf_password": "Reset@2026xyz"})
    db.session.expire_all()
    assert check_password_hash(app_sm().find_user(username="agent1").password, "Reset@2026xyz")


@pytest.mark.parametrize("username", sorted(WEB_USERS))
def test_every_user_changes_their_own_password_with_the_current_one(seeded, app, username):
    client = app.test_client()
    other = app.test_client()  # the same user signed in elsewhere
    login(client, username)
    login(other, username)
    assert "注销" in other.get("/").get_data(as_text=True)
    info = client.get("/users/userinfo/")
    assert info.status_code == 200, username
    form = client.get("/resetmypassword/form")
    assert form.status_code == 200
    assert "当前密码" in form.get_data(as_text=True)
    token = csrf_token(form.get_data(as_text=True))
    wrong = client.post("/resetmypassword/form", data={
        "csrf_token": token, "current_password": "not-my-password", "password": "Changed@2026abc",
        "conf_password": "Changed@2026abc"})
    assert "当前密码不正确" in wrong.get_data(as_text=True)
    db.session.expire_all()
    assert check_password_hash(app_sm().find_user(username=username).password, PASSWORD)
    client.post("/resetmypassword/form", data={
        "csrf_token": token, "current_password": PASSWORD, "password": "Changed@2026abc",
        "conf_password": "Changed@2026abc"})
    db.session.expire_all()
    assert check_password_hash(app_sm().find_user(username=username).password, "Changed@2026abc")
    # this session goes on, the other one has ended
    assert "注销" in client.get("/").get_data(as_text=True)
    assert "注销" not in other.get("/").get_data(as_text=True)


def _menu_links(html):
    nav = html.split('class="nav navbar-nav"', 1)[1].split('class="nav navbar-nav navbar-right"', 1)[0]
    return sorted({href for href in re.findall(r'href="(/[^"#]*)"', nav)})


@pytest.mark.parametrize("username", sorted(WEB_USERS))
def test_every_menu_item_a_role_is_shown_opens(seeded, client, username):
    login(client, username)
    links = _menu_links(client.get("/").get_data(as_text=True))
    assert links, username
    for href in links:
        reply = client.get(href)
        assert reply.status_code == 200, (username, href, reply.status_code, reply.headers.get("Location"))


def test_each_role_sees_its_own_menus_only(seeded, client):
    expected = {
        "agent1": ({"/workbench/", "/revisittaskview/list/"}, {"/policyview/list/", "/supervision/"}),
        "auditor": ({"/policyview/list/", "/auditeventview/list/"},
                    {"/workbench/", "/supervision/", "/policy-import/", "/users/list/"}),
        "operator": ({"/policyview/list/", "/policy-import/"}, {"/workbench/", "/supervision/",
                                                                 "/settingview/list/"}),
        "supervisor": ({"/supervision/", "/revisit-dashboard/"}, {"/workbench/", "/users/list/"}),
    }
    for username, (shown, hidden) in expected.items():
        login(client, username)
        links = set(_menu_links(client.get("/").get_data(as_text=True)))
        assert shown <= links, (username, links)
        assert not hidden & links, (username, hidden & links)
        client.get("/logout/")


@pytest.mark.parametrize("username", ["admin", "supervisor"])
def test_no_generic_form_edits_a_tasks_workflow_fields(seeded, client, username):
    """Assignment goes through the supervision board and its rules (hole 10)."""
    task_id = make_task("880000001522216")
    admin_id = _user_id("admin")
    login(client, username)
    assert client.get(f"/revisittaskview/edit/{task_id}").status_code in (302, 403, 404)
    client.post(f"/revisittaskview/edit/{task_id}", data={"csrf_token": client.csrf,
                                                          "assigned_to": str(admin_id)})
    db.session.expire_all()
    assert db.session.get(RevisitTask, task_id).assigned_to_id is None
    page = client.get(f"/revisittaskview/show/{task_id}").get_data(as_text=True)
    assert f"/revisittaskview/edit/{task_id}" not in page
