"""The one decision whether a `next` redirect target stays on this site (issue 9, hole 3).

Browsers repair what they are given: they drop tabs and newlines, read `\\` as `/`, and take
`//host`, `/\\host` or `http:host` as another site. So the target is refused when any of its
forms (as given, percent-decoded, NFKC-folded) holds a control, format or space character or a
backslash, and accepted only when urllib parses it as a path (no scheme, no host) that starts
with one `/`, or as http(s) on `allowed_host` (Flask-AppBuilder's login passes request.url).
"""
import unicodedata
from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2048


def _forms(target):
    """The target as given, fully percent-decoded, and NFKC-folded (％２Ｆ, ／ and friends)."""
    forms, decoded = [target], target
    for _ in range(3):  # %252F%252F -> %2F%2F -> //
        step = unquote(decoded)
        if step == decoded:
            break
        decoded = step
        forms.append(decoded)
    forms += [unicodedata.normalize("NFKC", f) for f in list(forms)]
    return forms


def _clean(text):
    return "\\" not in text and not any(
        unicodedata.category(ch)[0] in "CZ" or ch.isspace() for ch in text)


def is_local(target, allowed_host=None) -> bool:
    """True when redirecting to `target` cannot leave this site."""
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return False
    for form in _forms(target):
        # the decoded query may hold spaces (a search for 李 明); only the path must be plain
        path = form.split("?", 1)[0].split("#", 1)[0]
        if not _clean(path) or (form is target and not _clean(form)):
            return False
        if path.startswith("//"):
            return False
    try:
        parts = urlsplit(target)
    except ValueError:
        return False
    if not parts.scheme and not parts.netloc:
        return parts.path.startswith("/")
    return bool(allowed_host) and parts.scheme in ("http", "https") and parts.netloc == allowed_host


def safe_next(target, fallback="/", prefix="/", allowed_host=None):
    """`target` when it is a local path under `prefix` (or on `allowed_host`), else `fallback`."""
    if is_local(target, allowed_host) and (urlsplit(target).netloc or target.startswith(prefix)):
        return target
    return fallback
