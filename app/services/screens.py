"""The key screens (issue 15 point 2): record(...) keeps what a customer was shown when they agreed;
for_policy / for_task / for_application read them back for the evidence pack and the back office.

What is kept is the page itself, not a re-telling of it: the view renders the very template the customer
was served (with the values of the submission: the policy's, the amounts, the agreement's version, the
answers ticked) and page_text() turns its <main> into plain text (labels, values, ticked boxes as [x],
inputs' values, secrets left out); record() stores that text with its SHA-256 in the submission's unit of
work. Editing a template later changes nothing kept.
"""
import hashlib
import re
from html.parser import HTMLParser

from sqlalchemy import or_, select

from app.extensions import db
from app.models.screen import SCREEN_KINDS, KeyScreen
from app.services import clock
from app.services.labels import device, device_html  # noqa: F401 (the back office's list shows the device)

KINDS = SCREEN_KINDS


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record(kind, title, text, customer_id=None, policy_id=None, revisit_task_id=None, application_id=None,
           consent_id=None, agreement_version=None, shown_at=None, agreed_at=None, ip=None, user_agent=None):
    """Keep one key screen (in the caller's unit of work: it commits with the submission or not at all)."""
    if kind not in SCREEN_KINDS:
        raise ValueError(f"unknown key screen kind {kind!r}")
    if not text or not text.strip():
        raise ValueError("a key screen without text")
    agreed_at = agreed_at or clock.now()
    screen = KeyScreen(kind=kind, title=str(title)[:128], text=text, text_sha256=sha256(text),
                       customer_id=customer_id, policy_id=policy_id, revisit_task_id=revisit_task_id,
                       application_id=application_id, consent_id=consent_id,
                       agreement_version=agreement_version, shown_at=min(shown_at or agreed_at, agreed_at),
                       agreed_at=agreed_at, ip=ip, user_agent=(user_agent or "")[:255] or None)
    db.session.add(screen)
    db.session.flush()
    return screen


def intact(screen):
    """The kept text still matches its SHA-256."""
    return sha256(screen.text) == screen.text_sha256


def _ordered(query):
    return list(db.session.scalars(query.order_by(KeyScreen.shown_at, KeyScreen.id)))


def for_policy(policy_id):
    """Every key screen of a policy (its questionnaires, applications, consents), oldest first: kept with
    the policy, or with a revisit task or an application of it (a beneficiary change of several policies)."""
    from app.models.revisit import RevisitTask
    from app.models.servicing import ApplicationPolicy, ServicingApplication

    tasks = select(RevisitTask.id).where(RevisitTask.policy_id == policy_id)
    linked = select(ApplicationPolicy.application_id).where(ApplicationPolicy.policy_id == policy_id)
    own = select(ServicingApplication.id).where(ServicingApplication.policy_id == policy_id)
    return _ordered(select(KeyScreen).where(or_(
        KeyScreen.policy_id == policy_id, KeyScreen.revisit_task_id.in_(tasks),
        KeyScreen.application_id.in_(linked), KeyScreen.application_id.in_(own))))


def for_task(task_id):
    return _ordered(select(KeyScreen).where(KeyScreen.revisit_task_id == task_id))


def for_application(application_id):
    return _ordered(select(KeyScreen).where(KeyScreen.application_id == application_id))


def kind_label(kind):
    return SCREEN_KINDS.get(kind, kind)


# --- the page as text ---------------------------------------------------------------------------

_SKIP = {"script", "style", "head", "title", "button", "template", "noscript", "link", "meta"}
_BLOCK = {"p", "div", "section", "article", "header", "footer", "form", "fieldset", "legend", "h1", "h2", "h3",
          "h4", "h5", "h6", "ul", "ol", "li", "dl", "details", "summary", "table", "tr", "label", "br", "hr",
          "blockquote", "pre", "main", "aside", "nav"}
_VOID = {"br", "hr", "input", "img", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}
SECRET_INPUTS = ("code", "password", "csrf_token", "request_key")  # never kept, whatever their type
MASKED_INPUTS = ("card_no", "id_number")  # kept as their last four characters


class _Text(HTMLParser):
    def __init__(self, root):
        super().__init__(convert_charrefs=True)
        self.root = root
        self.depth = 0 if root else 1  # >0: inside the part kept
        self.done = False  # the kept part is over
        self.skip = 0
        self.lines = [[]]
        self.lists = []  # [ordered?, count] of the lists open
        self.select = None  # the option texts of the open <select>: [(selected, text)]
        self.option = None

    def _break(self):
        if self.lines[-1]:
            self.lines.append([])

    def _put(self, text):
        self.lines[-1].append(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.done:
            return
        if self.depth == 0:
            if tag == self.root:
                self.depth = 1
            return
        if tag not in _VOID:
            self.depth += 1
        if self.skip or tag in _SKIP or "hidden" in attrs:
            if tag not in _VOID:
                self.skip += 1
            return
        if tag in _BLOCK:
            self._break()
        if tag in ("ul", "ol"):
            self.lists.append([tag == "ol", 0])
        elif tag == "li":
            if self.lists:
                self.lists[-1][1] += 1
                self._put(f"{self.lists[-1][1]}. " if self.lists[-1][0] else "- ")
        elif tag == "input":
            self._input(attrs)
        elif tag == "select":
            self.select = []
        elif tag == "option" and self.select is not None:
            self.option = ["selected" in attrs, ""]
        elif tag == "textarea":
            self._put("[")

    def _input(self, attrs):
        kind = (attrs.get("type") or "text").lower()
        name = attrs.get("name") or ""
        if kind in ("hidden", "password", "file", "submit", "button", "image", "reset") or name in SECRET_INPUTS:
            return
        if kind in ("checkbox", "radio"):
            self._put(" [x] " if "checked" in attrs else " [ ] ")
            return
        value = (attrs.get("value") or "").strip()
        if name in MASKED_INPUTS and value:
            value = "*" * max(0, len(value) - 4) + value[-4:]
        self._put(f" [{value}] ")

    def handle_endtag(self, tag):
        if self.done or self.depth == 0 or tag in _VOID:
            return
        self.depth -= 1
        if self.skip:
            self.skip -= 1
            return
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "option" and self.option is not None:
            self.select.append(tuple(self.option))
            self.option = None
        elif tag == "select" and self.select is not None:
            chosen = [text for selected, text in self.select if selected]
            self._put(f" [{chosen[0].strip() if chosen else ''}] ")
            self.select = None
        elif tag == "textarea":
            self._put("]")
        elif tag == "dt":
            self._put(": ")
        if tag in _BLOCK:
            self._break()
        if self.depth == 0 and self.root:
            self.done = True

    def handle_data(self, data):
        if self.done or self.depth <= 0 or self.skip:
            return
        if self.option is not None:
            self.option[1] += data
            return
        if self.select is not None:
            return
        self._put(data)

    def text(self):
        lines = (re.sub(r"\s+", " ", "".join(parts)).strip() for parts in self.lines)
        return "\n".join(line for line in lines if line)


def page_text(html, root="main"):
    """The plain text of a served page: the inside of its <main> (the whole document when it has none),
    one line per block, dt: dd, ticked boxes [x], inputs' values in [ ]; no scripts, buttons, hidden
    fields or secrets (code, password; card numbers masked)."""
    if isinstance(html, tuple):  # a view's (body, status)
        html = html[0]
    if not isinstance(html, str):
        html = html.get_data(as_text=True)
    parser = _Text(root if root and f"<{root}" in html else None)
    parser.feed(html)
    parser.close()
    return parser.text()


__all__ = ["KINDS", "record", "intact", "sha256", "for_policy", "for_task", "for_application", "kind_label",
           "page_text", "mark_shown", "shown_at", "forget_shown"]
