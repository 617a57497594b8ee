"""An admin overrides a business default; a value of the wrong type is refused in Chinese."""
from decimal import Decimal

from app.extensions import db
from app.models.setting import Setting
from app.services import settings
from tests.conftest import login


def test_admin_override_takes_effect_and_bad_value_is_refused(seeded, client):
    assert settings.get("LOAN_RATIO") == Decimal("0.80")
    login(client, "admin")
    bad = client.post("/settingview/add", data={"csrf_token": client.csrf, "key": "LOAN_RATIO",
                                                "value": "八成", "description": ""}, follow_redirects=True)
    assert "取值 八成 无效" in bad.get_data(as_text=True)
    assert db.session.query(Setting).count() == 0
    client.post("/settingview/add", data={"csrf_token": client.csrf, "key": "LOAN_RATIO",
                                          "value": "0.70", "description": "风控调整"}, follow_redirects=True)
    db.session.expire_all()
    assert settings.get("LOAN_RATIO") == Decimal("0.70")


def test_supervisor_cannot_change_settings(seeded, client):
    login(client, "agent1")
    client.post("/settingview/add", data={"csrf_token": client.csrf, "key": "LOAN_RATIO", "value": "0.9"})
    db.session.expire_all()
    assert db.session.query(Setting).count() == 0


def test_the_services_follow_an_admin_override(seeded):
    """An override in 业务参数 is what the rules use, not only what the page shows."""
    from datetime import date, datetime

    from app.services import revisit

    assert revisit.erevisit_deadline(date(2026, 11, 20)) == datetime(2026, 11, 24)
    db.session.add(Setting(key="EREVISIT_VALID_DAYS", value="5", description="演练"))
    db.session.add(Setting(key="CODE_MAX_WRONG_TRIES", value="1", description="演练"))
    db.session.commit()
    assert revisit.erevisit_deadline(date(2026, 11, 20)) == datetime(2026, 11, 26)
    assert settings.get("CODE_MAX_WRONG_TRIES") == 1


def _add(client, key, value, description=""):
    return client.post("/settingview/add", data={"csrf_token": client.csrf, "key": key, "value": value,
                                                 "description": description}, follow_redirects=True)


def test_a_threshold_outside_its_range_is_refused_with_the_range(seeded, client):
    """FACE_MATCH_THRESHOLD=inf once made every face pass."""
    login(client, "admin")
    for raw in ("inf", "nan", "1e400", "0.9", "-1"):
        page = _add(client, "FACE_MATCH_THRESHOLD", raw)
        assert page.status_code == 200 and "0.3 至 0.7" in page.get_data(as_text=True)
    assert db.session.query(Setting).count() == 0
    assert settings.get("FACE_MATCH_THRESHOLD") == 0.55


def test_only_admin_changes_security_settings_and_every_change_is_audited(seeded, client):
    from app.models.audit import AuditEvent
    from tests.views.test_workbench import _browser

    login(client, "supervisor")
    page = _add(client, "FACE_MATCH_THRESHOLD", "0.65", "放宽")
    assert "人脸比对阈值只有管理员可以修改" in page.get_data(as_text=True)
    assert db.session.query(Setting).count() == 0
    _add(client, "PHONE_MAX_ATTEMPTS", "4", "节前加拨")  # a workflow setting is the supervisor's
    db.session.expire_all()
    assert settings.get("PHONE_MAX_ATTEMPTS") == 4

    admin = _browser(client)
    login(admin, "admin")
    _add(admin, "FACE_MATCH_THRESHOLD", "0.5", "收紧")
    db.session.expire_all()
    assert settings.get("FACE_MATCH_THRESHOLD") == 0.5
    row = db.session.query(Setting).filter_by(key="FACE_MATCH_THRESHOLD").one()
    events = db.session.query(AuditEvent).filter_by(entity="setting", action="create").all()
    assert {(e.actor_name, e.after["key"], e.after["value"]) for e in events} == {
        ("supervisor", "PHONE_MAX_ATTEMPTS", "4"), ("admin", "FACE_MATCH_THRESHOLD", "0.5")}

    # the supervisor cannot loosen the admin's threshold through the edit form either
    supervisor = _browser(admin)
    login(supervisor, "supervisor")
    page = supervisor.post(f"/settingview/edit/{row.id}", data={"csrf_token": supervisor.csrf, "value": "0.7",
                                                               "description": "放宽"}, follow_redirects=True)
    assert "只有管理员可以修改" in page.get_data(as_text=True)
    db.session.expire_all()
    assert settings.get("FACE_MATCH_THRESHOLD") == 0.5


def test_the_settings_page_lists_every_setting_readably(seeded, client):
    db.session.add(Setting(key="EREVISIT_REMINDER_ENABLED", value="True", description="试点"))
    db.session.commit()
    login(client, "admin")
    html = client.get("/settingview/list/").get_data(as_text=True)
    overview = html[html.index('id="business-settings"'):html.index("</table>", html.index('id="business-settings"'))]
    for key, spec in settings.SPECS.items():
        assert f'data-key="{key}"' in overview and str(spec.label) in overview and str(spec.meaning) in overview
    assert "人脸比对阈值" in overview and "0.3 至 0.7" in overview and "0.55" in overview
    assert "已调整" in overview and "是 / 否" in overview
    assert "None" not in overview and "True" not in overview and "False" not in overview
