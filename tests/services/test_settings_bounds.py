"""Business settings have a type and a range; security settings are changed by Admin only; the
settings fall back to config.py before the database exists (issue 9 hole 5, issue 10 point 8)."""
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from app import ConfigurationError, create_app
from app.extensions import db
from app.models.setting import Setting
from app.services import settings
from app.services.errors import DomainError
from tests.conftest import make_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FACES = os.path.join(os.path.dirname(ROOT), "shared", "testdata", "faces")
ADMIN, SUPERVISOR = {"Admin"}, {"Supervisor"}


def _refused(key, raw, roles=ADMIN):
    with pytest.raises(DomainError) as refused:
        settings.check_override(key, raw, roles)
    return refused.value


@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "NaN", "Infinity", "1e400", "0x10", "0.5e0",
                                 "０.５", "0_5", "", "   ", "0.5.1", "+0.5", "0,5", "half"])
def test_malformed_numbers_are_refused(app, raw):
    error = _refused("FACE_MATCH_THRESHOLD", raw)
    assert error.key == "setting_malformed"
    assert "人脸比对阈值" in error.message and "0.3 至 0.7" in error.message


@pytest.mark.parametrize("key,raw", [("CODE_MAX_WRONG_TRIES", "1_0"), ("CODE_MAX_WRONG_TRIES", "１０"),
                                     ("CODE_MAX_WRONG_TRIES", "3.0"), ("CODE_MAX_WRONG_TRIES", "0x3"),
                                     ("LOAN_RATIO", "1e-1"), ("LOAN_RATIO", "八成"),
                                     ("EREVISIT_REMINDER_ENABLED", "maybe")])
def test_malformed_values_of_other_types_are_refused(app, key, raw):
    assert _refused(key, raw).key == "setting_malformed"


@pytest.mark.parametrize("key,raw,message", [
    ("FACE_MATCH_THRESHOLD", "0.71", "人脸比对阈值须在 0.3 至 0.7 之间"),
    ("FACE_MATCH_THRESHOLD", "-0.5", "人脸比对阈值须在 0.3 至 0.7 之间"),
    ("FACE_MATCH_THRESHOLD", "0.29", "人脸比对阈值须在 0.3 至 0.7 之间"),
    ("CODE_MAX_WRONG_TRIES", "1000000", "1 至 10"),
    ("CODE_MAX_WRONG_TRIES", "0", "1 至 10"),
    ("FACE_MAX_TRIES", "-1", "1 至 10"),
    ("CODE_VALID_MINUTES", "31", "1 至 30"),
    ("EREVISIT_VALID_DAYS", "16", "1 至 15"),
    ("HESITATION_DAYS", "9", "10 至 60"),
    ("LOAN_ANNUAL_RATE", "0.25", "0 至 0.24"),
    ("LOAN_RATIO", "0.95", "0 至 0.8"),
])
def test_values_outside_the_range_are_refused_with_the_range(app, key, raw, message):
    error = _refused(key, raw)
    assert error.key == "setting_out_of_range"
    assert message in error.message


@pytest.mark.parametrize("key,raw,value", [
    ("FACE_MATCH_THRESHOLD", " 0.5 ", 0.5), ("FACE_MATCH_THRESHOLD", "0.7", 0.7),
    ("CODE_MAX_WRONG_TRIES", "10", 10), ("LOAN_RATIO", "0.70", Decimal("0.70")),
    ("EREVISIT_REMINDER_ENABLED", "是", True), ("PHONE_ATTEMPTS_DIFFERENT_DAYS", "false", False),
])
def test_values_inside_the_range_are_typed(app, key, raw, value):
    assert settings.parse(key, raw) == value
    assert type(settings.parse(key, raw)) is type(value)


def test_unknown_keys_are_refused(app):
    assert _refused("SECRET_KEY", "x").key == "setting_unknown"


def test_only_admin_changes_security_settings(app):
    error = _refused("FACE_MATCH_THRESHOLD", "0.6", SUPERVISOR)
    assert error.key == "setting_admin_only" and "人脸比对阈值" in error.message
    for key in ("FACE_MAX_TRIES", "CODE_VALID_MINUTES", "CODE_MAX_WRONG_TRIES"):
        assert _refused(key, "3", SUPERVISOR).key == "setting_admin_only"
        with pytest.raises(DomainError):
            settings.check_may_change(key, SUPERVISOR)  # nor delete an admin's override
    assert settings.check_override("FACE_MATCH_THRESHOLD", "0.6", ADMIN) == "0.6"
    # a workflow setting is the supervisors' to tune
    assert settings.check_override("PHONE_MAX_ATTEMPTS", "4", SUPERVISOR) == "4"


def test_a_stored_value_out_of_range_is_not_used(app):
    """A row written before the bounds existed (or by hand) never makes every face pass."""
    db.session.add(Setting(key="FACE_MATCH_THRESHOLD", value="inf"))
    db.session.add(Setting(key="CODE_MAX_WRONG_TRIES", value="1000000"))
    db.session.commit()
    assert settings.get("FACE_MATCH_THRESHOLD") == app.config["FACE_MATCH_THRESHOLD"]
    assert settings.get("CODE_MAX_WRONG_TRIES") == app.config["CODE_MAX_WRONG_TRIES"]


def test_every_setting_is_declared_once_with_a_default_inside_its_range(app):
    rows = settings.overview()
    assert [row["key"] for row in rows] == list(settings.SPECS)
    for row in rows:
        assert row["label"] and row["meaning"] and row["range"]
        shown = " ".join(str(row[name]) for name in ("value", "default", "range", "admin_only"))
        assert "None" not in shown and "True" not in shown and "False" not in shown
        assert settings.parse(row["key"], str(app.config[row["key"]])) == app.config[row["key"]]


def test_an_environment_default_out_of_range_refuses_to_start(servers):
    with pytest.raises(ConfigurationError, match="FACE_MATCH_THRESHOLD"):
        create_app(make_config(servers, FACE_MATCH_THRESHOLD=float("inf")))
    with pytest.raises(ConfigurationError, match="CODE_MAX_WRONG_TRIES"):
        create_app(make_config(servers, CODE_MAX_WRONG_TRIES=1000000))


def test_verify_face_cli_runs_before_any_database_exists(tmp_path):
    """An operator's command on a fresh checkout: no `setting` table yet, config's threshold is used."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "FLASK_APP": "run.py",
           "PORTAL_INSTANCE_DIR": str(tmp_path / "instance")}
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "identity", "verify-face",
                          os.path.join(FACES, "obama.jpg"), os.path.join(FACES, "obama2.jpg")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    result = json.loads(run.stdout)
    assert (result["decision"], result["threshold"]) == ("PASSED", 0.55)
