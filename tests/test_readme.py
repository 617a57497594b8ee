"""The README documents every environment variable the portal reads, and keeps its two commands."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return handle.read()


def test_every_environment_variable_is_documented():
    readme = _read("README.md")
    from app.services.settings import SPECS

    # config.py reads these directly, and the business settings by the names declared in SPECS
    names = set(re.findall(r'_(?:env|int|bool|decimal)\("([A-Z0-9_]+)"', _read("config.py"))) | set(SPECS)
    for folder, _, files in os.walk(os.path.join(ROOT, "app")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    names |= set(re.findall(r'os\.environ(?:\.get)?[(\[]"([A-Z0-9_]+)"', handle.read()))
    missing = sorted(n for n in names if f"`{n}`" not in readme)
    assert len(names) > 40
    assert not missing, f"not in README's configuration table: {missing}"


def test_readme_keeps_the_two_setup_commands():
    readme = _read("README.md")
    assert "make run" in readme and "make test" in readme
    assert "make test" in _read(".ci", "run")
