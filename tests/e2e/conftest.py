"""Shared pieces of the browser tests: the portal over HTTP on loopback, Debian's Chromium
through Playwright (never a downloaded browser), a phone profile, and screenshots."""
import os
import threading

import pytest
from werkzeug.serving import make_server

SHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-output", "e2e")
# every customer page at 390×844 in one folder, for a reviewer to look at them all at once (README)
CUSTOMER_SHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-output", "customer-pages")
CHROMIUM = "/usr/bin/chromium"
IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
             has_touch=True, locale="zh-CN", user_agent=IPHONE_UA)


def serve(flask_app):
    """Serve an app on 127.0.0.1 in a thread; returns (base_url, stop)."""
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        thread.join(10)

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture
def live_server(app):
    url, stop = serve(app)
    yield url
    stop()


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


def screenshot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def customer_screenshot(page, name):
    """A customer page as the phone shows it (390×844, full page) into test-output/customer-pages/."""
    os.makedirs(CUSTOMER_SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(CUSTOMER_SHOTS, f"{name}.png"), full_page=True)
