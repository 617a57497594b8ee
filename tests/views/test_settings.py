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
