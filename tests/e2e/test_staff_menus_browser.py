"""Each staff role in Chromium (issue 13, items 1, 2 and 5): every menu item it is shown opens (no 403, no
404), 用户信息 opens and the role changes its own password there; a refused page is the portal's own page;
the evidence of a revisit task reads as text for a person; the user statistics chart is drawn by ECharts
served by the portal, with no request leaving it; the English navbar is one row at 1440 px."""
import re

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot
from tests.views.test_readable_pages import evidence_task

pytestmark = pytest.mark.e2e

ROLES = ["agent1", "supervisor", "operator", "auditor", "admin"]
DESKTOP = dict(viewport={"width": 1440, "height": 900}, locale="zh-CN")


def _sign_in(page, base, username, password=PASSWORD):
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("a[href*='/logout']").count(), username


def _menu_hrefs(page):
    """The items of the menus this user is shown (the left part of the navbar, dropdowns included)."""
    hrefs = page.eval_on_selector_all(
        ".navbar .navbar-nav:not(.navbar-right) a[href]",
        "links => links.map(a => a.getAttribute('href'))")
    return sorted({h for h in hrefs if h and h.startswith("/") and h != "#"})


def _outside_requests(page, base):
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith((base, "data:", "blob:", "about:")) else None)
    return outside


@pytest.mark.parametrize("username", ROLES)
def test_each_role_opens_every_menu_item_and_changes_its_own_password(seeded, live_server, browser, username):
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    outside = _outside_requests(page, live_server)
    _sign_in(page, live_server, username)
    hrefs = _menu_hrefs(page)
    assert hrefs, username
    for href in hrefs:
        reply = page.goto(f"{live_server}{href}")
        assert reply.status not in (403, 404), (username, href, reply.status)
        text = page.inner_text("body")
        assert "Forbidden" not in text and "Not Found" not in text, (username, href)
        if username == "auditor":  # read-only: no button that would answer 403
            assert not re.search("下一个任务|新建问卷", text), (username, href)
            assert page.locator("a[href*='/edit'], a[href*='/add'], a[href*='/delete']").count() == 0, (username, href)
    # 用户信息 from the user menu, then 修改密码 with the current password
    page.goto(f"{live_server}/")
    page.click(".navbar-right .dropdown-toggle >> nth=-1")
    page.click("text=用户信息")
    page.wait_for_load_state()
    assert page.url.endswith("/users/userinfo/"), page.url
    assert username in page.inner_text("body")
    page.goto(f"{live_server}/resetmypassword/form")
    assert "当前密码" in page.inner_text("body")
    page.fill("#current_password", PASSWORD)
    page.fill("#password", "Changed@2026abc")
    page.fill("#conf_password", "Changed@2026abc")
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server}/logout/")
    _sign_in(page, live_server, username, "Changed@2026abc")
    screenshot(page, f"staff-{username}-home")
    assert outside == [], outside
    context.close()


def test_a_refused_and_a_missing_page_are_the_portals_own(seeded, live_server, browser):
    page = browser.new_context(**DESKTOP).new_page()
    _sign_in(page, live_server, "agent1")
    for path, status in (("/settingview/list/", (302, 403)), ("/no-such-page/", (404,))):
        reply = page.goto(f"{live_server}{path}")
        text = page.inner_text("body")
        assert page.locator(".navbar").count() == 1, path  # the back office's layout
        assert not re.search(r"Forbidden|Not Found|Werkzeug", text), (path, text[:200])
        assert re.search(r"[\u4e00-\u9fff]", text)
    assert reply.status == 404 and "内容不存在" in text


def test_a_task_with_answers_attempts_and_evidence_reads_as_text(seeded, live_server, browser):
    task_id = evidence_task()
    page = browser.new_context(**DESKTOP).new_page()
    _sign_in(page, live_server, "admin")
    for path in (f"/revisittaskview/show/{task_id}", "/auditeventview/list/", "/identityverificationview/list/",
                 "/revisitevidenceview/list/"):
        page.goto(f"{live_server}{path}")
        text = page.inner_text("body")
        for bad in ("object at 0x", "{'", "None", "True", "link_opened", "Mozilla/5.0"):
            assert bad not in text, (path, bad, text[max(0, text.find(bad) - 80):text.find(bad) + 80])
    page.goto(f"{live_server}/revisittaskview/show/{task_id}")
    assert "iPhone (iOS 17.0) · Safari" in page.inner_text("#task-evidence")
    page.click("#task-evidence summary >> nth=0")  # the full user agent on demand
    assert "Mozilla/5.0" in page.inner_text("#task-evidence")
    screenshot(page, "staff-revisit-task-evidence")


def test_user_statistics_chart_is_drawn_offline_and_the_english_navbar_is_one_row(seeded, live_server, browser):
    page = browser.new_context(**DESKTOP).new_page()
    outside = _outside_requests(page, live_server)
    _sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/userstatschartview/chart/")
    page.wait_for_selector(".portal-chart canvas", timeout=10000)
    assert page.evaluate("typeof echarts") == "object"
    screenshot(page, "staff-user-statistics")
    page.goto(f"{live_server}/lang/en")
    page.goto(f"{live_server}/")
    assert "Revisit Management" in page.inner_text(".navbar")
    height = page.eval_on_selector(".navbar", "el => el.getBoundingClientRect().height")
    screenshot(page, "staff-navbar-en")
    assert height <= 60, height
    assert outside == [], outside


def test_the_supervisor_sees_the_walkthroughs_figures_and_the_daily_chart(seeded, live_server, browser):
    """The README's walkthrough (a phone revisit failed on day 4, succeeded on day 5) on the dashboard in
    Chromium on day 5: that day's call and visit, the month's two calls, and the daily chart drawn."""
    from datetime import timedelta

    from tests.services.test_dashboard_events import DAY5, _walkthrough
    from tests.services.test_phone_revisit import _travel

    _walkthrough()
    with _travel(DAY5 + timedelta(hours=2)):
        context = browser.new_context(**DESKTOP)
        page = context.new_page()
        outside = _outside_requests(page, live_server)
        _sign_in(page, live_server, "supervisor")
        page.goto(f"{live_server}/revisit-dashboard/")
        for figure, value in (("today-calls", "1"), ("today-completed", "1"), ("today-completed-PHONE", "1"),
                              ("today-created", "0"), ("month-calls", "2")):
            assert page.inner_text(f"#{figure}").strip() == value, figure
        page.wait_for_selector("#daily-chart canvas")  # ECharts drew the month's bars
        screenshot(page, "staff-dashboard-walkthrough")
        context.close()
    assert outside == []
