"""Back-office list pages kept until a table they read changes (issue 14 point 6).

A list page costs some 15-20 ms of Python (Flask-AppBuilder's templates, the ORM), which two cores
cannot do a hundred times a second. Staff open the same lists again and again (the policy list, its
first pages, the task list), so each process keeps the pages it drew, for that user, URL, language and
minute, together with the tables their queries named and those tables' versions (app/table_versions.py)
read *before* the page was drawn. A page is served again only while every one of those versions is
unchanged, and for LIST_PAGE_CACHE_SECONDS at most. A committed write to any of the tables, by any
process, moves its version, so the next request draws the page afresh: a user who saves a record sees it
in the list at once, and so does everybody else.

Never kept: anything but a GET; a page with a message waiting to be shown (flash); a page drawn while
the versions are unknown (no Redis, or Redis resting after a failure): the page is then drawn every time,
as without the cache. The permission check and the user's session (FAB's back-link history) still run on
every request; only the drawing is skipped. The script nonce of the Content-Security-Policy is the
request's own.
"""
import threading
import time
from collections import OrderedDict

from flask import current_app, g, request, session

from app import table_versions

# every page shows the user and the menu their roles allow: their tables are always read
ALWAYS = ("ab_user", "ab_role", "ab_user_role", "ab_group", "ab_user_group", "ab_permission",
          "ab_view_menu", "ab_permission_view", "ab_permission_view_role", table_versions.ANY,
          table_versions.EPOCH)

_pages = OrderedDict()
_lock = threading.Lock()


def _key(view):
    from flask_babel import get_locale

    from app.services import clock

    user = g.get("user")
    return (type(view).__name__, request.full_path, getattr(user, "id", None), str(get_locale()),
            clock.now().strftime("%Y%m%d%H%M"))


def _cacheable():
    seconds = current_app.config.get("LIST_PAGE_CACHE_SECONDS", 0)
    return (seconds > 0 and request.method == "GET" and table_versions.enabled()
            and not session.get("_flashes"))


def serve(view, draw):
    """The view's list page: kept, or drawn by draw() (and kept when it may be)."""
    if not _cacheable():
        return draw()
    versions = table_versions.current()
    if versions is None:
        return draw()
    key = _key(view)
    nonce = getattr(request, "csp_nonce", None) or ""
    now = time.monotonic()
    with _lock:
        entry = _pages.get(key)
        if entry is not None:
            _pages.move_to_end(key)
    if entry is not None:
        expires, kept_versions, html, kept_nonce = entry
        if now < expires and all(versions.get(t, 0) == v for t, v in kept_versions.items()):
            view.update_redirect()  # FAB's back-link history, as the drawn page does
            return html.replace(kept_nonce, nonce) if kept_nonce and nonce else html
    with table_versions.reads() as tables:
        response = draw()
    if not isinstance(response, str) or session.get("_flashes"):
        return response
    kept_versions = {t: versions.get(t, 0) for t in tables | set(ALWAYS)}
    config = current_app.config
    with _lock:
        _pages[key] = (now + config["LIST_PAGE_CACHE_SECONDS"], kept_versions, response, nonce)
        _pages.move_to_end(key)
        while len(_pages) > config.get("LIST_PAGE_CACHE_ENTRIES", 200):
            _pages.popitem(last=False)
    return response


def clear():
    with _lock:
        _pages.clear()
