"""Business settings are declared once (app/services/settings.py SPECS, issue 10 point 10): config.py
takes its defaults from there, and the README's configuration table documents each one with that
default."""
import os
import re

import pytest

import config
from app.services import settings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _documented_defaults():
    """{variable: default} from the README rows like | `A`, `B` | `1`, `2` | meaning |."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        rows = [line.split("|")[1:3] for line in handle if line.startswith("| `")]
    documented = {}
    for names, defaults in rows:
        documented.update(zip(re.findall(r"`([A-Z0-9_]+)`", names), re.findall(r"`([^`]+)`", defaults)))
    return documented


def _as_text(spec, value):
    return ("true" if value else "false") if spec.kind is bool else str(value)


@pytest.mark.parametrize("key", list(settings.SPECS))
def test_each_setting_has_one_default_everywhere(key):
    spec = settings.SPECS[key]
    assert type(spec.default) is spec.kind
    if spec.kind is not bool:
        assert spec.min <= spec.default <= spec.max
    if key not in os.environ:
        assert getattr(config, key) == spec.default and type(getattr(config, key)) is spec.kind
    assert _documented_defaults().get(key) == _as_text(spec, spec.default), f"README: `{key}` | `{spec.default}`"


def test_business_numbers_are_settings():
    for key in ("CALLBACK_MAX_DAYS", "RESET_CODE_VALID_MINUTES", "HESITATION_DAYS"):
        assert key in settings.SPECS
    assert (settings.SPECS["CALLBACK_MAX_DAYS"].min, settings.SPECS["CALLBACK_MAX_DAYS"].max) == (1, 60)


@pytest.mark.parametrize("key, raw, value", [
    ("EREVISIT_VALID_DAYS", " 5 ", 5), ("LOAN_RATIO", "0.70", settings.Decimal("0.70")),
    ("FACE_MATCH_THRESHOLD", "0.5", 0.5), ("EREVISIT_REMINDER_ENABLED", "yes", True),
    ("EREVISIT_REMINDER_ENABLED", "0", False), ("PHONE_MAX_ATTEMPTS", "", 3),
    ("PHONE_MAX_ATTEMPTS", "three", "three"),  # kept as text: check_defaults refuses to start with it
])
def test_the_environment_changes_a_default(key, raw, value):
    parsed = settings.SPECS[key].from_environment(raw)
    assert parsed == value and type(parsed) is type(value)


def test_a_malformed_environment_default_is_named_not_a_traceback():
    bad = settings.check_defaults({**{k: s.default for k, s in settings.SPECS.items()}, "PHONE_MAX_ATTEMPTS": "three"})
    assert bad == ["PHONE_MAX_ATTEMPTS='three' (allowed 1 to 10)"]
