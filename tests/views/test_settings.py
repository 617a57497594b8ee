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
