"""Every script and stylesheet is served by the portal itself (issue 13, item 5): no template loads one from
the internet, Flask-AppBuilder's Google Charts widgets are replaced by ECharts, and ECharts is the npm
package pinned in package.json, served from node_modules at a versioned address."""
import json
import os
import re

import flask_appbuilder

from tests.conftest import login

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OWN = os.path.join(ROOT, "app", "templates")
FAB = os.path.join(os.path.dirname(flask_appbuilder.__file__), "templates")
REMOTE = re.compile(r"<(script|link)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", re.I)
GOOGLE = re.compile(r"google_charts\.js|google\.load|jsapi|google\.visualization")


def _templates(root):
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith((".html", ".jinja2", ".j2")):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, root), path


def effective_templates():
    """The portal's templates and the Flask-AppBuilder templates they do not override."""
    own = dict(_templates(OWN))
    return {**{rel: path for rel, path in _templates(FAB) if rel not in own}, **own}


def test_no_template_loads_a_script_or_stylesheet_from_the_internet():
    found = []
    for rel, path in sorted(effective_templates().items()):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        found += [(rel, m.group(0)) for m in REMOTE.finditer(text)]
        found += [(rel, m.group(0)) for m in GOOGLE.finditer(text)]
    assert not found, found


def test_echarts_is_pinned_installed_by_the_makefile_and_git_ignored():
    with open(os.path.join(ROOT, "package.json"), encoding="utf-8") as handle:
        assert json.load(handle)["dependencies"]["echarts"] == "6.1.0"
    with open(os.path.join(ROOT, "package-lock.json"), encoding="utf-8") as handle:
        assert json.load(handle)["packages"]["node_modules/echarts"]["version"] == "6.1.0"
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as handle:
        assert "npm ci --omit=dev" in handle.read()
    with open(os.path.join(ROOT, ".gitignore"), encoding="utf-8") as handle:
        assert "node_modules/" in handle.read().split()


def test_the_user_statistics_chart_uses_echarts_served_by_the_portal(seeded, app, client):
    url = app.jinja_env.globals["echarts_url"]
    assert url == "/vendor/echarts/6.1.0/echarts.min.js"
    script = client.get(url)
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"echarts" in script.data[:2000]
    login(client, "admin")
    html = client.get("/userstatschartview/chart/").get_data(as_text=True)
    assert f'src="{url}"' in html and "portal-chart" in html
    assert not GOOGLE.search(html) and not REMOTE.search(html)
    buttons = re.findall(r"class=\"btn btn-sm btn-primary\">\s*(.*?)\s*</a>", html, re.S)
    assert buttons == ["登录次数", "登录失败次数"], buttons  # FAB names them in English
