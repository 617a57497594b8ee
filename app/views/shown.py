"""When a page a customer agrees to was first served (the key screens' shown_at, issue 15 point 2): kept
in the Flask session, so services/screens.py never reads the request."""
from datetime import datetime

from flask import session

from app.services import clock

SESSION_SHOWN = "key_screens_shown"  # {page key: ISO time the page was first served}, the last few


def mark_shown(key):
    """The page `key` (e.g. "task:12", a form's request key) was served now; the first time counts."""
    shown = dict(session.get(SESSION_SHOWN) or {})
    if str(key) not in shown:
        shown[str(key)] = clock.now().isoformat()
        session[SESSION_SHOWN] = dict(list(shown.items())[-10:])


def shown_at(key):
    """When the page `key` was first served to this browser, or None."""
    value = (session.get(SESSION_SHOWN) or {}).get(str(key))
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def forget_shown(key):
    shown = dict(session.get(SESSION_SHOWN) or {})
    if shown.pop(str(key), None) is not None:
        session[SESSION_SHOWN] = shown
